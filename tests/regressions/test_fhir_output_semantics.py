"""Regressions (reviews/conformance.md §2.3 items 4, 5): the GuidanceResponse was always `success` with
data gaps as note text; referral ServiceRequests had no reason, category or requester."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4

import cdss
from cdss.render.fhir import guidance_bundle
from tests.conftest import NOW, load_bundle
from tests.unit.service.support import load_hook

NO_BP = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01", "gender": "male"}},
    {"resource": {"resourceType": "Condition", "id": "c",
                  "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}}]}


@pytest.mark.parametrize(("version", "model"), [("R4", BundleR4), ("R5", BundleR5)])
def test_gaps_that_decide_the_result_are_data_required(registry: Any, version: str, model: Any) -> None:
    out = guidance_bundle(cdss.evaluate(NO_BP, now=NOW, registry=registry), version=version)  # type: ignore[arg-type]
    model.model_validate(out)
    guidance = out["entry"][0]["resource"]
    assert guidance["status"] == "data-required"
    codes = {c["code"] for r in guidance["dataRequirement"] for f in r["codeFilter"] for c in f["code"]}
    assert {"sbp", "dbp"} <= codes


@pytest.mark.parametrize(("version", "model"), [("R4", BundleR4), ("R5", BundleR5)])
def test_referral_has_reason_and_category(registry: Any, version: str, model: Any) -> None:
    out = guidance_bundle(cdss.evaluate(load_bundle("htn-emergency.json"), now=NOW, registry=registry),
                          version=version)  # type: ignore[arg-type]
    model.model_validate(out)
    referral = next(e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    reason = referral["reasonCode"][0] if version == "R4" else referral["reason"][0]["concept"]
    assert reason["coding"][0]["code"] == "I10"
    assert referral["category"][0]["text"]
    assert out["entry"][0]["resource"]["status"] == "success"


def test_card_referral_names_the_requester(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    cards = client.post("/cds-services/cdss-patient-view", json=body).json()["cards"]
    resources = [a["resource"] for c in cards for s in c.get("suggestions", ()) for a in s["actions"]
                 if a["type"] == "create"]
    assert resources and all(r["requester"] == {"reference": body["context"]["userId"]} for r in resources)
    assert json.dumps(resources)


def test_allergy_issue_is_coded_algy(tmp_path: Any) -> None:
    from cdss.packs.registry import load_registry
    from tests.conftest import ROOT

    registry = load_registry([ROOT / "pathways" / "medication-safety"], bundled=False)
    bundle = json.loads((ROOT / "pathways" / "medication-safety" / "cases" / "bundles" /
                         "draft-amoxicillin-penicillin-allergy.json").read_text(encoding="utf-8"))
    evaluation = cdss.evaluate(bundle, now=NOW, registry=registry)
    for version, model in (("R4", BundleR4), ("R5", BundleR5)):
        out = guidance_bundle(evaluation, version=version)  # type: ignore[arg-type]
        model.model_validate(out)
        issues = [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "DetectedIssue"]
        assert issues
        assert any(c.get("code") == "ALGY" for i in issues for c in i["code"]["coding"])
