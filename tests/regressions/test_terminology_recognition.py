"""Regression (issue 11): real EHR codes were ignored silently. Essential hypertension 59621000 (Synthea),
standard LOINC for TSH / urate / PHQ-9 / GAD-7 / fasting glucose in mmol/L, and ICD-10 国家临床版 2.0 codes
sent under the Chinese OIDs matched nothing, so a patient got no advice and no sign of why."""

from __future__ import annotations

import copy

import pytest

from cdss.engine.evaluate import evaluate
from cdss.intake.bundle import read_bundle
from tests.conftest import NOW, load_bundle

SCT, LNC, ICD = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/icd-10"
CN_ICD_OID = "urn:oid:2.16.156.10011.2.3.3.11"
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-05-01", "gender": "female"}


def _bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _condition(system: str, code: str) -> dict:
    return {"resourceType": "Condition", "id": f"c-{code}", "code": {"coding": [{"system": system, "code": code}]},
            "clinicalStatus": {"coding": [{"code": "active"}]}}


def _obs(code: str, value: float, unit: str) -> dict:
    return {"resourceType": "Observation", "id": f"o-{code}", "status": "final",
            "effectiveDateTime": "2026-11-20T08:00:00+08:00", "code": {"coding": [{"system": LNC, "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


@pytest.mark.parametrize(("system", "code", "concept"), [
    (SCT, "59621000", "hypertension"),        # Essential hypertension (Synthea, third-party bundles)
    (SCT, "1201005", "hypertension"),         # Benign essential hypertension
    (ICD, "I10.x00x002", "hypertension"),     # 国家临床版 2.0 extension of I10
    (CN_ICD_OID, "I10.x00x002", "hypertension"),
    (CN_ICD_OID, "E11.900", "diabetes"),
    (SCT, "73211009", "diabetes"),            # diabetes mellitus (generic)
    (SCT, "46635009", "diabetes"),            # type 1
    (ICD, "E13.9", "diabetes"),
    (ICD, "O24.1", "diabetes"),               # pre-existing diabetes in pregnancy
    (SCT, "433144002", "chronic_kidney_disease"),
    (SCT, "440059007", "atrial_fibrillation"),
    (SCT, "13645005", "copd"),
    (SCT, "84114007", "heart_failure"),
    (SCT, "427295004", "asthma"),
])
def test_condition_families_are_recognised(registry, system, code, concept):
    facts = read_bundle(_bundle(PATIENT, _condition(system, code)), registry.concepts)
    assert concept in facts.present
    assert facts.unrecognised == ()


@pytest.mark.parametrize("code", ["O24.4", "O24.9"])
def test_gestational_diabetes_is_not_diabetes(registry, code):
    facts = read_bundle(_bundle(PATIENT, _condition(ICD, code)), registry.concepts)
    assert "diabetes" not in facts.present


@pytest.mark.parametrize(("code", "value", "unit", "concept", "canonical"), [
    ("3016-3", 4.2, "m[IU]/L", "tsh", 4.2),
    ("14933-6", 420, "umol/L", "uric_acid", 420),
    ("44261-6", 12, "{score}", "phq9_total", 12),
    ("70274-6", 9, "{score}", "gad7_total", 9),
    ("14771-0", 7.4, "mmol/L", "fpg", 7.4),
    ("14682-9", 88, "umol/L", "creatinine", 88),
    ("98979-8", 55, "mL/min/{1.73_m2}", "egfr", 55),
])
def test_standard_loinc_codes_are_read(registry, code, value, unit, concept, canonical):
    facts = read_bundle(_bundle(PATIENT, _obs(code, value, unit)), registry.concepts)
    assert [r.value for r in facts.readings[concept]] == [pytest.approx(canonical)]


def test_gad7_panel_code_is_not_the_total(registry):
    facts = read_bundle(_bundle(PATIENT, _obs("69737-5", 9, "{score}")), registry.concepts)
    assert "gad7_total" not in facts.readings
    assert [(u.resource_type, u.code) for u in facts.unrecognised] == [("Observation", "69737-5")]


def test_essential_hypertension_gets_the_same_advice_as_hypertension(registry):
    base = load_bundle("htn-controlled.json")
    essential = copy.deepcopy(base)
    for entry in essential["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "Condition":
            res["code"]["coding"] = [{"system": SCT, "code": "59621000", "display": "Essential hypertension"}]
    a, b = evaluate(base, now=NOW, registry=registry), evaluate(essential, now=NOW, registry=registry)
    assert a.suggestions and [s.id for s in a.suggestions] == [s.id for s in b.suggestions]


def test_unrecognised_lists_what_intake_read_and_skips_what_it_did_not(registry):
    local = "urn:example:his"
    resolved = _condition(local, "OLD-1")
    resolved["clinicalStatus"] = {"coding": [{"code": "resolved"}]}
    panel = {"resourceType": "Observation", "id": "bp", "status": "final",
             "effectiveDateTime": "2026-11-20T08:00:00+08:00",
             "code": {"coding": [{"system": local, "code": "BP-PANEL"}]},
             "component": [
                 {"code": {"coding": [{"system": LNC, "code": "8480-6"}]},
                  "valueQuantity": {"value": 130, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                    "code": "mm[Hg]"}},
                 {"code": {"coding": [{"system": local, "code": "MAP"}]},
                  "valueQuantity": {"value": 95, "unit": "mm[Hg]"}}]}
    both = {"resourceType": "Condition", "id": "c2", "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": local, "code": "GXY"}, {"system": ICD, "code": "I10"}]}}
    facts = read_bundle(_bundle(PATIENT, resolved, panel, both, _condition(local, "NEW-1")), registry.concepts)
    # resolved: not read, not listed; the panel is understood through its SBP component, its unknown
    # component is listed; a concept of which one coding is known is understood
    assert [(u.resource_type, u.code) for u in facts.unrecognised] == [
        ("Condition", "NEW-1"), ("Observation.component", "MAP")]
