"""Regression (issue 16 "systemActions"; issue 13 "QuestionnaireResponse prefetch").

* systemActions: CDS Hooks 2.0 makes it OPTIONAL and says an OPTIONAL array without a value MUST be
  omitted ("Use of JSON"); every action this service can propose (create a referral, remove a draft order)
  needs a clinician's choice, so none is a system action and the member is never sent.
* The discovery prefetch asks for the patient's QuestionnaireResponses (the elderly TCM constitution
  questionnaire) and the service reads them; an EHR that does not send the key still gets an answer.
"""

from __future__ import annotations

from typing import Any

import httpx

from service.routes.cds_hooks import OPTIONAL_PREFETCH, PREFETCH
from tests.unit.service.support import fake_evaluate, load_hook

QR = {"resourceType": "QuestionnaireResponse", "id": "qr-1", "status": "completed",
      "questionnaire": "https://cdss.local/fhir/Questionnaire/tcm-constitution-elderly",
      "subject": {"reference": "Patient/htn-1"}, "authored": "2026-04-30",
      "item": [{"linkId": "1", "answer": [{"valueInteger": 3}]}]}


def _recording(seen: list[Any]) -> Any:
    def evaluate(bundle: Any, **kwargs: Any) -> Any:
        seen.append(bundle)
        return fake_evaluate(bundle, **kwargs)
    return evaluate


def test_no_system_actions_member_and_every_action_is_a_user_choice(client: Any) -> None:
    for name, service in (("patient-view-emergency.json", "cdss-patient-view"),
                          ("order-sign-draft.json", "cdss-order-sign")):
        body = client.post(f"/cds-services/{service}", json=load_hook(name)).json()
        assert "systemActions" not in body  # never null, never []
        assert set(body) == {"cards"}
        for card in body["cards"]:
            for suggestion in card.get("suggestions", ()):
                assert card["selectionBehavior"] in ("at-most-one", "any")
                assert suggestion["actions"]


def test_discovery_asks_for_questionnaire_responses(client: Any) -> None:
    for service in client.get("/cds-services").json()["services"]:
        assert service["prefetch"]["questionnaireResponses"].startswith(
            "QuestionnaireResponse?patient={{context.patientId}}")
    assert "questionnaireResponses" in OPTIONAL_PREFETCH


def test_a_prefetched_questionnaire_response_reaches_the_engine(make_client: Any) -> None:
    seen: list[Any] = []
    client = make_client(evaluate=_recording(seen))
    body = load_hook("patient-view-emergency.json")
    body["prefetch"]["questionnaireResponses"] = {"resourceType": "Bundle", "type": "searchset",
                                                 "entry": [{"resource": QR}]}
    assert client.post("/cds-services/cdss-patient-view", json=body).status_code == 200
    types = [e["resource"]["resourceType"] for e in seen[-1]["entry"]]
    assert "QuestionnaireResponse" in types


def test_without_the_key_and_without_fhir_server_the_call_still_answers(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    body["prefetch"].pop("questionnaireResponses", None)
    response = client.post("/cds-services/cdss-patient-view", json=body)
    assert response.status_code == 200, response.text


def test_missing_key_is_fetched_and_a_failure_of_that_optional_fetch_is_no_data(
        make_client: Any, fhir_stub: Any) -> None:
    seen: list[Any] = []
    client = make_client(evaluate=_recording(seen))
    body = load_hook("patient-view-emergency.json")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    url = str(httpx.URL("https://ehr.example.org/fhir/" + PREFETCH["questionnaireResponses"].replace(
        "{{context.patientId}}", "htn-1")))
    fhir_stub.routes[url] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": QR}]}
    assert client.post("/cds-services/cdss-patient-view", json=body).status_code == 200
    assert [str(r.url) for r in fhir_stub.requests] == [url]
    assert any(e["resource"]["resourceType"] == "QuestionnaireResponse" for e in seen[-1]["entry"])

    fhir_stub.routes[url] = 400  # a server that cannot search QuestionnaireResponse
    response = client.post("/cds-services/cdss-patient-view", json=body)
    assert response.status_code == 200, response.text
    assert not any(e["resource"]["resourceType"] == "QuestionnaireResponse" for e in seen[-1]["entry"])
