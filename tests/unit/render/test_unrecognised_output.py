"""What was not understood is shown everywhere: JSON contract, text, FHIR (OperationOutcome), panel."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from cdss.engine.evaluate import evaluate
from cdss.render.fhir import guidance_bundle
from cdss.render.json import render_json
from cdss.render.text import render_text
from tests.conftest import NOW, load_bundle

LOCAL = "urn:example:his-lab"


def _with_local_codes() -> dict:
    bundle = load_bundle("htn-controlled.json")
    for i, code in enumerate(["K+", "GLU", "K+"]):
        bundle["entry"].append({"resource": {
            "resourceType": "Observation", "id": f"lab{i}", "status": "final",
            "effectiveDateTime": "2026-11-20T08:00:00+08:00",
            "code": {"coding": [{"system": LOCAL, "code": code, "display": "血钾" if code == "K+" else "血糖"}]},
            "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}})
    return bundle


def test_json_contract_lists_unrecognised_codings_sorted(registry):
    out = json.loads(render_json(evaluate(_with_local_codes(), now=NOW, registry=registry)))
    assert out["unrecognised"] == [
        {"resource_type": "Observation", "system": LOCAL, "code": "GLU", "display": "血糖", "count": 1},
        {"resource_type": "Observation", "system": LOCAL, "code": "K+", "display": "血钾", "count": 2}]
    assert out["concept_maps"] == []


def test_unrecognised_is_the_same_whatever_the_order_of_resources(registry):
    bundle = _with_local_codes()
    reordered = dict(bundle, entry=list(reversed(bundle["entry"])))
    a = render_json(evaluate(bundle, now=NOW, registry=registry))
    b = render_json(evaluate(reordered, now=NOW, registry=registry))
    assert json.loads(a)["unrecognised"] == json.loads(b)["unrecognised"]


def test_a_fully_recognised_bundle_has_an_empty_list(registry):
    out = json.loads(render_json(evaluate(load_bundle("htn-controlled.json"), now=NOW, registry=registry)))
    assert out["unrecognised"] == []


def test_text_output_shows_them(registry):
    text = render_text(evaluate(_with_local_codes(), now=NOW, registry=registry))
    assert "Unrecognised codings" in text and f"{LOCAL}|K+ 血钾 ×2" in text


@pytest.mark.parametrize("version, model", [("R4", r4b_model), ("R5", r5_model)])
def test_fhir_output_has_an_information_operation_outcome(registry: Any, version: str, model: Any) -> None:
    out = guidance_bundle(evaluate(_with_local_codes(), now=NOW, registry=registry), version=version)  # type: ignore[arg-type]
    model("Bundle").model_validate(out)
    by_type = {e["resource"]["resourceType"]: e for e in out["entry"]}
    outcome = by_type["OperationOutcome"]["resource"]
    model("OperationOutcome").model_validate(outcome)
    assert {i["severity"] for i in outcome["issue"]} == {"information"}
    assert [i["details"]["coding"][0]["code"] for i in outcome["issue"]] == ["GLU", "K+"]
    guidance = by_type["GuidanceResponse"]["resource"]
    ref = {"reference": by_type["OperationOutcome"]["fullUrl"]}
    assert guidance["evaluationMessage"] == ([ref] if version == "R4" else ref)
