"""Regression (issue 16 "output Bundle references resolve or are absolute"; reviews/conformance.md §2.3
item 1): `subject`, DetectedIssue.implicated and Condition.evidence named input resources as `Type/id`,
which resolves to nothing in a Bundle of urn:uuid entries, and a Patient without id became
`Patient/unknown`. Every reference of every `$evaluate` output for every sample bundle now resolves to an
entry of the output or is the input's absolute (http/https) fullUrl. Also: DetectedIssues carry the
v3-ActCode kind their rule names (issue 16 "DetectedIssue with a coded kind")."""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle as BundleR4

import cdss
from cdss.packs.issue_kinds import ACT_CODE_SYSTEM, ISSUE_KINDS
from cdss.render.fhir import guidance_bundle
from tests.conftest import FIXTURES, NOW, ROOT

SAMPLES = sorted([*(FIXTURES / "bundles").glob("*.json"), *(FIXTURES / "bundles" / "synthea").glob("*.json.xz"),
                  *(ROOT / "service" / "static" / "samples").glob("*.json"),
                  *(ROOT / "pathways" / "medication-safety" / "cases" / "bundles").glob("*.json"),
                  ROOT / "docs" / "integrator" / "examples" / "evaluate-bundle.json"])


def _read(path: Path) -> Any:
    doc = json.loads(lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_text("utf-8"))
    if doc.get("resourceType") == "Parameters":
        doc = next(p["resource"] for p in doc["parameter"] if isinstance(p.get("resource"), dict))
    return doc


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "reference" and isinstance(v, str)] + \
            [r for k, v in value.items() if k != "reference" for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


@pytest.fixture(scope="module")
def full_registry() -> Any:
    from cdss.packs.registry import default_registry

    return default_registry()


BUNDLES = [p for p in SAMPLES if _read(p).get("resourceType") == "Bundle"]


@pytest.mark.parametrize("path", BUNDLES, ids=[p.name[:40] for p in BUNDLES])
def test_every_reference_resolves_or_is_absolute(full_registry: Any, path: Path) -> None:
    bundle = _read(path)
    evaluation = cdss.evaluate(bundle, now=NOW, registry=full_registry)
    inputs = {(e.get("fullUrl") or "") for e in bundle.get("entry", ())}
    sent = [e["resource"] for e in bundle.get("entry", ()) if isinstance(e.get("resource"), dict)]
    for version in ("R4", "R5"):
        out = guidance_bundle(evaluation, version=version, inputs=bundle)  # type: ignore[arg-type]
        urls = [e["fullUrl"] for e in out["entry"]]
        assert len(urls) == len(set(urls))
        for entry in out["entry"]:
            if any(entry["resource"] is r for r in sent):
                continue  # a copy of an input resource, as sent: its own references are the caller's
            for ref in references(entry["resource"]):
                assert ref in urls or (ref in inputs and ref.startswith(("http://", "https://"))), \
                    f"{path.name} {version} {entry['resource']['resourceType']}: {ref}"
        if version == "R4":
            BundleR4.model_validate(out)  # the copies of the (R4) input resources included
    assert guidance_bundle(evaluation, inputs=bundle) == guidance_bundle(evaluation, inputs=bundle)


def test_absolute_input_urls_are_referenced_not_copied(full_registry: Any) -> None:
    bundle = _read(ROOT / "docs" / "integrator" / "examples" / "evaluate-bundle.json")
    for entry in bundle["entry"]:
        r = entry["resource"]
        entry["fullUrl"] = f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}"
    evaluation = cdss.evaluate(bundle, now=NOW, registry=full_registry)
    out = guidance_bundle(evaluation, inputs=bundle)
    guidance = out["entry"][0]["resource"]
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert guidance["subject"] == {"reference": patient["fullUrl"]}
    assert not any(e["resource"]["resourceType"] == "Patient" for e in out["entry"])


def test_patient_without_id_is_not_a_fabricated_reference(full_registry: Any) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:6f0c3c62-7c1c-4f4e-9a59-0d3b0b9f2a11",
         "resource": {"resourceType": "Patient", "birthDate": "1950-01-01", "gender": "male"},
         "request": {"method": "POST", "url": "Patient"}}]}
    out = guidance_bundle(cdss.evaluate(bundle, now=NOW, registry=full_registry), inputs=bundle)
    guidance = out["entry"][0]["resource"]
    assert guidance["subject"] == {"reference": "urn:uuid:6f0c3c62-7c1c-4f4e-9a59-0d3b0b9f2a11"}
    assert "Patient/unknown" not in json.dumps(out)


def test_detected_issues_carry_the_coded_kind_their_rule_names() -> None:
    from cdss.packs.registry import load_registry
    from cdss.testing.cases import case_bundle, load_cases

    folder = ROOT / "pathways" / "medication-safety"
    registry = load_registry([folder], bundled=False)
    seen: set[str] = set()
    for file in sorted((folder / "cases").glob("*.yaml")):
        for case, _ in load_cases(file):
            bundle = case_bundle(case, file, registry)
            evaluation = cdss.evaluate(bundle, now=case.now, registry=registry)
            by_rule = {s.rule: s for s in evaluation.suggestions}
            for entry in guidance_bundle(evaluation, inputs=bundle)["entry"]:
                resource = entry["resource"]
                if resource["resourceType"] != "DetectedIssue":
                    continue
                codings = resource["code"]["coding"]
                kinds = [c for c in codings if c["system"] == ACT_CODE_SYSTEM]
                issue = by_rule[next(c["code"] for c in codings if c["system"] == "urn:cdss:rule")].issue
                if issue:
                    assert kinds == [{"system": ACT_CODE_SYSTEM, "code": issue, "display": ISSUE_KINDS[issue][0]}]
                    seen.add(issue)
                assert all(k["code"] in ISSUE_KINDS for k in kinds)
    assert {"ALGY", "COND", "DRG", "DUPTHPY", "LAB"} <= seen


def test_issue_is_for_medication_rules_and_only_verified_codes() -> None:
    from pydantic import ValidationError

    from cdss.packs.schema import Then

    base = {"kind": "medication", "urgency": "routine", "title": {"zh": "甲", "en": "a"},
            "detail": {"zh": "乙", "en": "b"}}
    assert Then.model_validate(dict(base, issue="DUPTHPY")).issue == "DUPTHPY"
    with pytest.raises(ValidationError):
        Then.model_validate(dict(base, issue="DRUG"))  # not the interaction alert in ActCode
    with pytest.raises(ValidationError, match="medication rules only"):
        Then.model_validate(dict(base, kind="treatment", issue="COND"))
