"""FHIR operation $evaluate: Bundle or Parameters in, guidance Bundle out; every error an OperationOutcome."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.service.support import load_hook

FHIR_JSON = "application/fhir+json"


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def patient_bundle() -> dict[str, Any]:
    prefetch = load_hook("patient-view-emergency.json")["prefetch"]
    return bundle(prefetch["patient"], prefetch["observations"]["entry"][0]["resource"])


def post(client: Any, body: Any, content_type: str = FHIR_JSON, **kwargs: Any) -> Any:
    import json

    return client.post("/fhir/$evaluate", content=json.dumps(body).encode(),
                       headers={"content-type": content_type, **kwargs.pop("headers", {})}, **kwargs)


def resources(response: Any) -> dict[str, dict[str, Any]]:
    return {e["resource"]["resourceType"]: e["resource"] for e in response.json()["entry"]}


def test_bundle_gives_guidance_request_group_and_service_request(client: Any) -> None:
    response = post(client, patient_bundle())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    found = resources(response)
    # the Patient is the input's, copied so that `subject` resolves in the output (cdss.render.fhir_refs)
    assert set(found) == {"GuidanceResponse", "RequestGroup", "ServiceRequest", "Patient"}
    assert found["ServiceRequest"]["priority"] == "stat"
    assert found["RequestGroup"]["action"][0]["resource"]["reference"].startswith("urn:uuid:")


def test_parameters_holding_a_bundle_and_a_pack_pin(client: Any) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "bundle", "resource": patient_bundle()},
        {"name": "pack", "valueString": "htn-community@1.3.0"}]}
    response = post(client, body)
    assert response.status_code == 200, response.text
    response = post(client, dict(body, parameter=[*body["parameter"][:1], {"name": "pack", "valueString": "x@9"}]))
    assert response.status_code == 400


def test_r5_on_request_gives_request_orchestration(client: Any) -> None:
    response = post(client, patient_bundle(), headers={"accept": "application/fhir+json; fhirVersion=5.0"})
    assert response.status_code == 200
    assert "RequestOrchestration" in resources(response)


@pytest.mark.parametrize("body, status, expression", [
    ({"resourceType": "Patient", "id": "x"}, 422, ["resourceType"]),
    ([1, 2], 422, None),
    ({"resourceType": "Parameters", "parameter": []}, 422, ["Parameters.parameter"]),
])
def test_wrong_resource_is_422(client: Any, body: Any, status: int, expression: Any) -> None:
    response = post(client, body)
    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert issue.get("expression") == expression


def test_malformed_json_is_400(client: Any) -> None:
    response = client.post("/fhir/$evaluate", content=b'{"resourceType": "Bundle",',
                           headers={"content-type": FHIR_JSON})
    assert response.status_code == 400
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": "structure",
        "diagnostics": "malformed JSON at line 1 column 27: unexpected end of data"}]}


def test_unsupported_media_type_is_415(client: Any) -> None:
    response = post(client, patient_bundle(), content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["issue"][0]["code"] == "not-supported"


def test_too_large_body_is_413(make_client: Any) -> None:
    client = make_client(max_body_bytes=1024)
    big = patient_bundle()
    big["entry"][0]["resource"]["text"] = {"status": "generated", "div": "<div>" + "x" * 2000 + "</div>"}
    response = post(client, big)
    assert response.status_code == 413
    assert "CDSS_MAX_BODY_BYTES" in response.json()["issue"][0]["diagnostics"]


def test_too_many_resources_is_413(make_client: Any) -> None:
    client = make_client(max_resources=1)
    response = post(client, patient_bundle())
    assert response.status_code == 413
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry"]


def test_intake_error_is_422_with_fhir_path(client: Any) -> None:
    body = patient_bundle()
    body["entry"][0]["resource"]["birthDate"] = "not-a-date"
    response = post(client, body)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[0].resource.birthDate"]
    assert "got 'not-a-date', expected YYYY-MM-DD" in issue["diagnostics"]


def test_evaluations_are_audited(client: Any) -> None:
    post(client, patient_bundle())
    (row,) = client.app.state.storage.evaluations()
    assert row["channel"] == "fhir-evaluate"
