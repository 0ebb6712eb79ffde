"""TCM through CDS Hooks: at order-sign a herbal draft order with 十八反 gives a medication card whose suggestion
removes one of the draft herbs; at patient-view a constitution QuestionnaireResponse gives its card."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

HERBS = "https://cdss.local/fhir/CodeSystem/tcm-herbs"


def _draft(rid: str, code: str, name: str) -> dict:
    return {"resource": {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
                         "medicationCodeableConcept": {"coding": [{"system": HERBS, "code": code, "display": name}],
                                                       "text": name},
                         "subject": {"reference": "Patient/tcm-1"}}}


def test_order_sign_flags_eighteen_incompatibilities_in_a_herbal_draft(client: TestClient) -> None:
    body = {"hookInstance": "0b1d6a6e-6d5c-4c55-9b3e-2f8f2c1a9d01", "hook": "order-sign",
            "context": {"userId": "PractitionerRole/doc-1", "patientId": "tcm-1",
                        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                        "entry": [_draft("h1", "fuzi", "附子"), _draft("h2", "fabanxia", "法半夏"),
                                                  _draft("h3", "gancao", "甘草")]}},
            "prefetch": {"patient": {"resourceType": "Patient", "id": "tcm-1", "gender": "male",
                                     "birthDate": "1960-05-01"},
                         "observations": None, "conditions": None, "medicationStatements": None, "allergies": None,
                         "medications": {"resourceType": "Bundle", "type": "searchset", "total": 0}}}
    response = client.post("/cds-services/cdss-order-sign", json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    card = next(c for c in cards if "十八反" in c["summary"])
    deleted = {a["resourceId"] for s in card.get("suggestions", ()) for a in s["actions"] if a["type"] == "delete"}
    assert deleted and deleted <= {"MedicationRequest/h1", "MedicationRequest/h2"}
    assert not [c for c in cards if "十九畏" in c["summary"] or "妊娠禁用" in c["summary"]]


def test_patient_view_with_a_constitution_questionnaire_response(client: TestClient) -> None:
    """An EHR may send the QuestionnaireResponse under a prefetch key of its own: the constitution card appears."""
    bundle = json.loads((Path(__file__).resolve().parents[2] / "pathways/tcm-constitution/cases/bundles/"
                         "qixu-yes-yinxu-tendency-questionnaire.json").read_text(encoding="utf-8"))
    patient, qr = (e["resource"] for e in bundle["entry"])
    qr = {**qr, "authored": "2026-04-20T10:00:00+08:00"}  # before the service tests' clock (2026-05-01)
    body = {"hookInstance": "5c7a9e0e-2f7b-4a55-8a0b-2b9d3e6f1a22", "hook": "patient-view",
            "context": {"userId": "Practitioner/doc-1", "patientId": f"Patient/{patient['id']}"},
            "prefetch": {"patient": patient, "observations": None, "conditions": None, "medications": None,
                         "medicationStatements": None, "allergies": None,
                         "questionnaireResponses": {"resourceType": "Bundle", "type": "searchset",
                                                    "entry": [{"resource": qr}]}}}
    response = client.post("/cds-services/cdss-patient-view", json=body)
    assert response.status_code == 200, response.text
    summaries = [c["summary"] for c in response.json()["cards"]]
    assert any("气虚质（是）" in s for s in summaries), summaries
