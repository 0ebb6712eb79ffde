"""Regression: the clinical review's `cov_*` scenarios (seeds-clinical.md, Appendix 1) - a coded condition from
the family doctor's everyday list produced no advice at all. Each code must now give at least one suggestion
or data gap from a pack about it (not only the generic age-based DXA prompt)."""

from __future__ import annotations

import datetime as dt

import pytest

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
ICD10 = "http://hl7.org/fhir/sid/icd-10"

# code -> (sex, age, a pack that must answer)
SCENARIOS = {
    "J06.9": ("male", 60, "respiratory-common"),
    "J20.9": ("male", 60, "respiratory-common"),
    "N39.0": ("female", 35, "urology-community"),
    "M17": ("female", 68, "musculoskeletal-community"),
    "M54.5": ("male", 45, "musculoskeletal-community"),
    "M47": ("male", 60, "musculoskeletal-community"),
    "F51.0": ("female", 50, "smd-sleep-community"),
    "L30.9": ("male", 40, "skin-community"),
    "B02.9": ("male", 66, "skin-community"),
    "N40": ("male", 70, "urology-community"),
    "I25": ("male", 66, "chd-community"),
    "E66.9": ("female", 45, "lifestyle-risk"),
    "K76.0": ("male", 48, "digestive-community"),
    "K29.5": ("female", 45, "digestive-community"),
    "J30.4": ("male", 30, "respiratory-common"),
    "B18.1": ("male", 55, "notifiable-disease"),
    "F03": ("female", 82, "elderly-cognition-frailty"),
    "F20": ("male", 35, "smd-sleep-community"),
    "A15": ("male", 40, "notifiable-disease"),
    "U07.1": ("female", 70, "notifiable-disease"),
    "B08.4": ("male", 3, "notifiable-disease"),
    "A38": ("male", 6, "notifiable-disease"),
    "G43": ("female", 32, "neuro-community"),
    "G20": ("male", 72, "neuro-community"),
}


def _bundle(code: str, sex: str, age: int) -> dict:
    birth = NOW.date().replace(year=NOW.year - age) - dt.timedelta(days=30)
    onset = (NOW - dt.timedelta(days=2)).isoformat()
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "gender": sex, "birthDate": birth.isoformat()}},
        {"resource": {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                      "code": {"coding": [{"system": ICD10, "code": code}]}, "onsetDateTime": onset}},
    ]}


@pytest.fixture(scope="module")
def registry():
    return default_registry()


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_cov_scenario_gets_advice_from_its_pack(registry, code: str) -> None:
    sex, age, pack = SCENARIOS[code]
    result = evaluate(_bundle(code, sex, age), now=NOW, registry=registry)
    answering = {s.pack_id for s in result.suggestions}
    gap_packs = {rule.split("/", 1)[0] for g in result.data_gaps for rule in g.rules}
    assert pack in answering | gap_packs, (code, sorted(answering), sorted(gap_packs))
