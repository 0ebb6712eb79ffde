"""CDS Hooks routes: discovery, service calls (prefetch, fetching, 412), cards, feedback, error shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from service.routes.cds_hooks import PREFETCH, SERVICES
from tests.unit.service.support import BASE_URL, NOW, FhirStub, fake_evaluate, load_hook

SERVICE_IDS = {"patient-view": "cdss-patient-view", "encounter-start": "cdss-encounter-start",
               "order-select": "cdss-order-select", "order-sign": "cdss-order-sign"}


def post(client: Any, service: str, body: Any, **kwargs: Any) -> Any:
    return client.post(f"/cds-services/{service}", json=body, **kwargs)


def assert_no_empty(value: Any, path: str = "$") -> None:
    """CDS Hooks 2.0 "Use of JSON": no null, "", [] or {} anywhere."""
    assert value not in (None, "", [], {}), path
    if isinstance(value, dict):
        for k, v in value.items():
            assert_no_empty(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_no_empty(v, f"{path}[{i}]")


def test_discovery_lists_four_hooks_with_prefetch(client: Any) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200, response.text
    services = response.json()["services"]
    assert {s["hook"]: s["id"] for s in services} == SERVICE_IDS
    for s in services:
        assert s["description"] and s["title"]
        assert s["prefetch"] == PREFETCH
        assert_no_empty(s)


def test_patient_view_emergency_bp_gives_critical_card_with_referral(client: Any) -> None:
    response = post(client, "cdss-patient-view", load_hook("patient-view-emergency.json"))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "critical"
    assert len(card["summary"]) < 140
    assert card["source"]["label"] == "测试指南（2020）"
    assert card["source"]["url"] == "https://guide.example/1"
    assert card["selectionBehavior"] == "at-most-one"
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "ServiceRequest"
    assert action["resource"]["subject"] == {"reference": "Patient/htn-1"}
    assert action["resource"]["priority"] == "stat"
    assert all(r["display"] for r in card["overrideReasons"])
    link = card["links"][0]
    assert link["type"] == "absolute"
    assert link["url"].startswith(f"{BASE_URL}/panel/evaluations/")
    assert link["url"].endswith("#refbp-1")
    assert "Observation/bp-1" in card["detail"]
    assert_no_empty(response.json())


def test_same_call_gives_same_bytes(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    first = post(client, "cdss-patient-view", body).content
    assert post(client, "cdss-patient-view", body).content == first


def test_all_null_prefetch_means_no_data_not_an_error(client: Any) -> None:
    response = post(client, "cdss-patient-view", load_hook("patient-view-no-data.json"))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    # the stand-in engine reports a data gap for an emergency rule: one warning card names it
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "收缩压" in cards[0]["summary"]
    assert "suggestions" not in cards[0]


def test_no_advice_is_an_empty_card_list(make_client: Any) -> None:
    def nothing(bundle: Any, *, now: Any, registry: Any, pins: Any = ()) -> Any:
        evaluation = fake_evaluate(bundle, now=now, registry=registry, pins=pins)
        return type(evaluation)(patient=evaluation.patient, now=now, packs=evaluation.packs,
                                suggestions=(), data_gaps=())

    client = make_client(evaluate=nothing)
    response = post(client, "cdss-patient-view", load_hook("patient-view-no-data.json"))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


@pytest.mark.parametrize("patient_id", ["htn-1", "Patient/htn-1"])
def test_patient_id_bare_or_reference(client: Any, patient_id: str) -> None:
    body = load_hook("patient-view-emergency.json")
    body["context"]["patientId"] = patient_id
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["indicator"] == "critical"


def test_missing_prefetch_without_fhir_server_is_412(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    del body["prefetch"]["observations"]
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "incomplete"
    assert "'observations'" in outcome["issue"][0]["diagnostics"]


def _serve_patient(stub: FhirStub, server: str = "https://ehr.example.org/fhir") -> None:
    emergency = load_hook("patient-view-emergency.json")["prefetch"]
    for key, template in PREFETCH.items():
        url = f"{server}/{template.replace('{{context.patientId}}', 'htn-1')}"
        stub.routes[str(httpx.URL(url))] = emergency[key] if emergency.get(key) is not None else {
            "resourceType": "Bundle", "type": "searchset", "total": 0}


def test_missing_prefetch_is_fetched_from_fhir_server_with_token(client: Any, fhir_stub: FhirStub) -> None:
    _serve_patient(fhir_stub)
    response = post(client, "cdss-patient-view", load_hook("patient-view-fetch.json"))
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["indicator"] == "critical"
    assert len(fhir_stub.requests) == len(PREFETCH)
    assert {r.headers["authorization"] for r in fhir_stub.requests} == {"Bearer some-opaque-fhir-access-token"}


def test_unreachable_fhir_server_is_412(client: Any, fhir_stub: FhirStub) -> None:
    response = post(client, "cdss-patient-view", load_hook("patient-view-fetch.json"))
    assert response.status_code == 412
    assert "ConnectError" in response.json()["issue"][0]["diagnostics"]


def test_fhir_server_error_status_is_412(client: Any, fhir_stub: FhirStub) -> None:
    _serve_patient(fhir_stub)
    first = next(iter(fhir_stub.routes))
    fhir_stub.routes[first] = 500
    response = post(client, "cdss-patient-view", load_hook("patient-view-fetch.json"))
    assert response.status_code == 412


def test_paginated_prefetch_follows_next_on_the_same_server_only(client: Any, fhir_stub: FhirStub) -> None:
    body = load_hook("patient-view-emergency.json")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    observations = body["prefetch"]["observations"]
    page2 = dict(observations, entry=[{"resource": dict(observations["entry"][0]["resource"], id="bp-2")}])
    observations["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/Observation?page=2"}]
    fhir_stub.routes["https://ehr.example.org/fhir/Observation?page=2"] = page2
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 200, response.text
    assert len(response.json()["cards"]) == 2  # one per observation with the stand-in engine

    observations["link"] = [{"relation": "next", "url": "https://elsewhere.example/fhir/Observation?page=2"}]
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 412
    assert all(r.url.host == "ehr.example.org" for r in fhir_stub.requests)


def test_prefetch_operation_outcome_means_fetch_it(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    body["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout"}]}
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 412


def test_order_sign_medication_problem_proposes_deleting_the_draft(client: Any) -> None:
    response = post(client, "cdss-order-sign", load_hook("order-sign-draft.json"))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"][:1]
    assert card["indicator"] == "warning"
    (proposal,) = card["suggestions"]
    assert proposal["actions"] == [{
        "type": "delete", "resourceId": "MedicationRequest/draft-rx-1",
        "description": "撤销草稿医嘱 MedicationRequest/draft-rx-1：草稿药品 / draft medication / "
                       "Remove draft order MedicationRequest/draft-rx-1"}]
    assert card["selectionBehavior"] == "at-most-one"
    assert card["overrideReasons"]


def test_patient_view_does_not_propose_deleting_orders(client: Any) -> None:
    body = load_hook("order-sign-draft.json")
    body["hook"] = "patient-view"
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 200
    medication_cards = [c for c in response.json()["cards"] if c["summary"].endswith("medication")]
    assert medication_cards and all("suggestions" not in c for c in medication_cards)


def test_hook_mismatch_is_400(client: Any) -> None:
    response = post(client, "cdss-order-sign", load_hook("patient-view-emergency.json"))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["hook"]


def test_unknown_service_is_404(client: Any) -> None:
    response = post(client, "nope", load_hook("patient-view-emergency.json"))
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.pop("hookInstance"), "hookInstance"),
    (lambda b: b.pop("context"), "context"),
    (lambda b: b["context"].pop("patientId"), "context.patientId"),
    (lambda b: b["context"].update(patientId="a b/c"), "context.patientId"),
])
def test_malformed_request_is_400_naming_the_field(client: Any, mutate: Any, field: str) -> None:
    body = load_hook("patient-view-emergency.json")
    mutate(body)
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == [field]


def test_not_json_is_400_and_wrong_media_type_415(client: Any) -> None:
    response = client.post("/cds-services/cdss-patient-view", content=b"{nope",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "malformed JSON at line 1" in response.json()["issue"][0]["diagnostics"]
    response = client.post("/cds-services/cdss-patient-view", content=b"{}",
                           headers={"content-type": "text/plain"})
    assert response.status_code == 415


def test_too_many_resources_is_413(make_client: Any) -> None:
    client = make_client(max_resources=2)
    response = post(client, "cdss-patient-view", load_hook("patient-view-emergency.json"))
    assert response.status_code == 200
    body = load_hook("order-sign-draft.json")
    body["prefetch"]["conditions"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Condition", "id": f"c{i}"}} for i in range(3)]}
    response = post(client, "cdss-order-sign", body)
    assert response.status_code == 413


def test_intake_error_is_422_with_problem_sentence_and_fhir_path(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    body["prefetch"]["patient"]["birthDate"] = "not-a-date"
    response = post(client, "cdss-patient-view", body)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["diagnostics"].startswith("Bundle.entry[0].resource.birthDate: birthDate is not a FHIR date")
    assert issue["expression"] == ["Bundle.entry[0].resource.birthDate"]


def test_unknown_pack_pin_is_400(client: Any) -> None:
    response = post(client, "cdss-patient-view", load_hook("patient-view-emergency.json"),
                    params={"pack": "no-such-pack@9.9.9"})
    assert response.status_code == 400
    assert "unknown-pack" in response.json()["issue"][0]["diagnostics"]


def test_unexpected_failure_is_500_with_incident_id_and_no_trace(make_client: Any, caplog: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    client = make_client(evaluate=broken)
    response = post(client, "cdss-patient-view", load_hook("patient-view-emergency.json"))
    assert response.status_code == 500
    text = response.json()["issue"][0]["diagnostics"]
    assert "secret" not in response.text and "Traceback" not in response.text
    incident = text.split("incident ")[1].split()[0]
    assert any(incident in r.getMessage() for r in caplog.records)


def _card_uuids(client: Any) -> tuple[str, str]:
    response = post(client, "cdss-patient-view", load_hook("patient-view-emergency.json"))
    card = response.json()["cards"][0]
    return card["uuid"], card["suggestions"][0]["uuid"]


def test_feedback_accepted_and_overridden_are_stored_beside_the_evaluation(client: Any) -> None:
    card, suggestion = _card_uuids(client)
    accepted = json.loads(json.dumps(load_hook("feedback-accepted.json")).replace("CARD-UUID", card)
                          .replace("SUGGESTION-UUID", suggestion))
    overridden = json.loads(json.dumps(load_hook("feedback-overridden.json")).replace("CARD-UUID", card))
    for body in (accepted, overridden):
        response = client.post("/cds-services/cdss-patient-view/feedback", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"stored": 1}
    storage = client.app.state.storage
    rows = storage.feedback(card_uuid=card)
    assert [r["outcome"] for r in rows] == ["accepted", "overridden"]
    assert rows[0]["accepted_suggestions"] == [suggestion]
    assert rows[1]["override_reason"]["reason"]["code"] == "patient-declined"
    evaluation = storage.evaluations(limit=1)[0]
    assert rows[0]["evaluation_id"] == evaluation["evaluation_id"]
    assert rows[0]["suggestion_id"] == "refbp-1"


@pytest.mark.parametrize("body", [
    {"feedback": []},
    {"feedback": [{"card": "x", "outcome": "maybe", "outcomeTimestamp": "2026-05-01T00:00:00Z"}]},
    {"feedback": [{"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-05-01T00:00:00Z"}]},
    {"feedback": [{"card": "x", "outcome": "overridden"}]},
])
def test_bad_feedback_is_400(client: Any, body: Any) -> None:
    response = client.post("/cds-services/cdss-patient-view/feedback", json=body)
    assert response.status_code == 400, response.text


def test_every_evaluation_is_audited(client: Any) -> None:
    post(client, "cdss-patient-view", load_hook("patient-view-emergency.json"))
    (row,) = client.app.state.storage.evaluations()
    assert row["channel"] == "cdss-patient-view"
    assert row["hook_instance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert row["evaluated_at"] == NOW.isoformat()
    assert row["packs"] == [{"id": "test-pack", "version": "1.0.0", "sha256": "0" * 64}]
    assert len(row["patient_sha256"]) == 64 and "htn-1" not in json.dumps(row["patient_sha256"])
    assert row["trace"]["suggestions"][0]["id"] == "refbp-1"


def test_services_table_matches_discovery() -> None:
    assert {s.hook for s in SERVICES.values()} == set(SERVICE_IDS)
