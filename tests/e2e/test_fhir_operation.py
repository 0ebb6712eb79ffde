"""FHIR $evaluate end to end through the real engine: the answer validates against the FHIR models."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from tests.unit.service.support import load_hook

FHIR_JSON = "application/fhir+json"


def severe_bp_bundle() -> dict:
    prefetch = load_hook("patient-view-emergency.json")["prefetch"]
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": prefetch["patient"]}, {"resource": prefetch["observations"]["entry"][0]["resource"]}]}


@pytest.mark.parametrize("accept, model, group", [
    (FHIR_JSON, r4b_model, "RequestGroup"),
    (f"{FHIR_JSON}; fhirVersion=5.0", r5_model, "RequestOrchestration"),
])
def test_evaluate_answers_a_valid_bundle(client: TestClient, accept: str, model: object, group: str) -> None:
    response = client.post("/fhir/$evaluate", json=severe_bp_bundle(),
                           headers={"content-type": FHIR_JSON, "accept": accept})
    assert response.status_code == 200, response.text
    bundle = response.json()
    model("Bundle").model_validate(bundle)  # type: ignore[operator]
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[:2] == ["GuidanceResponse", group]
    assert "ServiceRequest" in kinds


def test_pinned_pack_version(client: TestClient) -> None:
    ok = client.post("/fhir/$evaluate", params={"pack": "htn-community@1.3.0"}, json=severe_bp_bundle())
    assert ok.status_code == 200
    coding = ok.json()["entry"][0]["resource"]["moduleCodeableConcept"]["coding"]
    assert {"htn-community@1.3.0"} <= {c["code"] for c in coding}
    bad = client.post("/fhir/$evaluate", params={"pack": "htn-community@0.0.1"}, json=severe_bp_bundle())
    assert bad.status_code == 400
    assert "unknown-pack" in bad.json()["issue"][0]["diagnostics"]


def test_bad_bundle_is_an_operation_outcome_with_the_fhir_path(client: TestClient) -> None:
    bundle = severe_bp_bundle()
    bundle["entry"][0]["resource"]["birthDate"] = "1958-13-45"
    response = client.post("/fhir/$evaluate", json=bundle)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        issue = response.json()["issue"][0]
        assert issue["expression"][0].startswith("Bundle.entry[0]")
