"""CDS Hooks end to end through the real engine and the bundled packs: discovery, the hook requests written
from the specification (tests/fixtures/hooks), requests copied from other projects, and feedback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.service.support import BASE_URL, HOOKS, load_hook

SAMPLES = sorted((HOOKS / "samples").glob("*.json"))
HOOK_SERVICE = {"patient-view": "cdss-patient-view", "encounter-start": "cdss-encounter-start",
                "order-select": "cdss-order-select", "order-sign": "cdss-order-sign"}


def no_empty(value: Any) -> bool:
    if value in (None, "", [], {}):
        return False
    if isinstance(value, dict):
        return all(no_empty(v) for v in value.values())
    if isinstance(value, list):
        return all(no_empty(v) for v in value)
    return True


def test_discovery_document(client: TestClient) -> None:
    body = client.get("/cds-services").json()
    assert [s["hook"] for s in body["services"]] == list(HOOK_SERVICE)
    assert all(s["prefetch"]["patient"] == "Patient/{{context.patientId}}" for s in body["services"])


def test_severe_bp_gives_a_referral_card_that_creates_a_service_request(client: TestClient) -> None:
    response = client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert no_empty(body)
    referrals = [c for c in body["cards"] if c.get("suggestions")
                 and c["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "ServiceRequest"]
    assert referrals, json.dumps(body, ensure_ascii=False)[:2000]
    card = referrals[0]
    assert card["indicator"] in ("critical", "warning")
    assert len(card["summary"]) < 140 and card["selectionBehavior"] == "at-most-one"
    assert card["links"][0]["url"].startswith(f"{BASE_URL}/panel/evaluations/")
    assert "Observation/bp-1" in card["detail"]
    for c in body["cards"]:
        assert c["indicator"] in ("info", "warning", "critical")
        assert c["source"]["label"]


def test_null_prefetch_is_no_data_not_an_error(client: TestClient) -> None:
    response = client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-no-data.json"))
    assert response.status_code == 200, response.text
    assert no_empty(response.json()) or response.json() == {"cards": []}


def test_order_sign_with_a_draft_order(client: TestClient) -> None:
    response = client.post("/cds-services/cdss-order-sign", json=load_hook("order-sign-draft.json"))
    assert response.status_code == 200, response.text
    for card in response.json()["cards"]:
        for suggestion in card.get("suggestions", ()):
            for action in suggestion["actions"]:
                if action["type"] == "delete":
                    assert action["resourceId"] == "MedicationRequest/draft-rx-1"


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_requests_from_other_projects_never_give_a_server_error(client: TestClient, path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    if "feedback" in body:
        # Their cards were never issued by this service: refused, nothing stored (reliability review D8).
        response = client.post("/cds-services/cdss-patient-view/feedback", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["issue"][0]["expression"] == ["feedback[0].card"]
        return
    service = HOOK_SERVICE.get(body.get("hook"), "cdss-patient-view")
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code in (200, 400, 412, 422), response.text
    if response.status_code == 200:
        assert no_empty(response.json()) or response.json() == {"cards": []}
    else:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_feedback_roundtrip(client: TestClient) -> None:
    cards = client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json")).json()
    card = next(c for c in cards["cards"] if c.get("suggestions"))
    body = json.loads(json.dumps(load_hook("feedback-accepted.json")).replace("CARD-UUID", card["uuid"])
                      .replace("SUGGESTION-UUID", card["suggestions"][0]["uuid"]))
    assert client.post("/cds-services/cdss-patient-view/feedback", json=body).json() == {"stored": 1}
    (row,) = client.app.state.storage.feedback(card_uuid=card["uuid"])
    assert row["outcome"] == "accepted" and row["evaluation_id"]


FPG = {"resourceType": "Observation", "id": "fpg-1", "status": "final",
       "code": {"coding": [{"system": "http://loinc.org", "code": "1558-6"}]},
       "subject": {"reference": "Patient/htn-1"}, "effectiveDateTime": "2026-05-01T07:00:00Z",
       "valueQuantity": {"value": 7.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}}


@pytest.mark.parametrize("hook", ["patient-view", "encounter-start"])
def test_the_differential_card_comes_last_below_the_red_flag(client: TestClient, hook: str) -> None:
    body = load_hook("patient-view-emergency.json")
    body["hook"] = hook
    if hook == "encounter-start":
        body["context"]["encounterId"] = "enc-1"
    body["prefetch"]["observations"].setdefault("entry", []).append({"resource": FPG})
    response = client.post(f"/cds-services/{HOOK_SERVICE[hook]}", json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards[0]["indicator"] in ("critical", "warning")
    ddx = [c for c in cards if c["summary"].startswith("鉴别诊断")]
    assert len(ddx) == 1 and cards[-1] == ddx[0] and ddx[0]["indicator"] == "info"
    assert "2型糖尿病" in ddx[0]["summary"] and "Observation/fpg-1" in ddx[0]["detail"]
    assert ddx[0]["links"][0]["url"].endswith("#differential")
