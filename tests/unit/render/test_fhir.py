"""FHIR renderer: every resource valid per fhir.resources (R4 checked with the R4B models, R5 with R5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from cdss.render.fhir import guidance_bundle
from tests.unit.service.support import NOW, fake_evaluate


def evaluation(registry: Any) -> Any:
    bundle = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": {"resourceType": "Observation", "id": "o1"}},
        {"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft"}},
        {"resource": {"resourceType": "Condition", "id": "c1"}},
    ]}
    return fake_evaluate(bundle, now=NOW, registry=registry)


@pytest.mark.parametrize("version, model", [("R4", r4b_model), ("R5", r5_model)])
def test_bundle_and_every_resource_validate(registry: Any, version: str, model: Any) -> None:
    out = guidance_bundle(evaluation(registry), version=version)  # type: ignore[arg-type]
    model("Bundle").model_validate(out)
    kinds = [e["resource"]["resourceType"] for e in out["entry"]]
    group = "RequestGroup" if version == "R4" else "RequestOrchestration"
    assert kinds == ["GuidanceResponse", group, "ServiceRequest", "DetectedIssue", "Condition"]
    for entry in out["entry"]:
        model(entry["resource"]["resourceType"]).model_validate(entry["resource"])


def test_references_resolve_inside_the_bundle(registry: Any) -> None:
    out = guidance_bundle(evaluation(registry))
    urls = {e["fullUrl"] for e in out["entry"]}
    group = out["entry"][1]["resource"]
    assert {a["resource"]["reference"] for a in group["action"] if "resource" in a} <= urls
    assert out["entry"][0]["resource"]["result"]["reference"] in urls


def test_condition_is_provisional_and_detected_issue_implicates_the_order(registry: Any) -> None:
    out = {e["resource"]["resourceType"]: e["resource"] for e in guidance_bundle(evaluation(registry))["entry"]}
    assert out["Condition"]["verificationStatus"]["coding"][0]["code"] == "provisional"
    assert out["Condition"]["code"]["coding"][0]["code"] == "I10"
    assert out["DetectedIssue"]["implicated"] == [{"reference": "MedicationRequest/m1"}]
    assert out["DetectedIssue"]["severity"] == "high"


def test_same_evaluation_same_bytes(registry: Any) -> None:
    e = evaluation(registry)
    assert json.dumps(guidance_bundle(e)) == json.dumps(guidance_bundle(e))


def test_data_gaps_become_notes(registry: Any) -> None:
    e = fake_evaluate({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}]},
                      now=NOW, registry=registry)
    guidance = guidance_bundle(e)["entry"][0]["resource"]
    assert "收缩压" in guidance["note"][0]["text"]
    assert "action" not in guidance_bundle(e)["entry"][1]["resource"]
