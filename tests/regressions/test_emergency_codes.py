"""Regressions E9, E10, E17 (review seeds-clinical Part B): emergencies seen through the codes EHRs send.

Pack cases code every fact with the first code of its value set; these bundles use the other common codes
(capillary-meter glucose in mg/dL, venous potassium, axillary temperature in degF, SNOMED CT confusion and
lethargy) and run every shipped pack, so an emergency is found whichever code the EHR uses and no other
pack hides it.
"""

from __future__ import annotations

import pytest

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import Registry, load_registry
from tests.conftest import NOW, ROOT

LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
EFFECTIVE = "2026-11-22T08:30:00+08:00"


@pytest.fixture(scope="module")
def every_pack() -> Registry:
    return load_registry([p for p in sorted((ROOT / "pathways").iterdir()) if (p / "pack.yaml").exists()],
                         bundled=False)


def _bundle(*resources: dict, birth_date: str = "1946-05-01") -> dict:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": birth_date}
    entries = [patient, *({**r, "id": f"r{i}", "subject": {"reference": "Patient/p1"}}
                          for i, r in enumerate(resources))]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]}


def _obs(system: str, code: str, value: float, unit: str) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": system, "code": code}]},
            "effectiveDateTime": EFFECTIVE,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _symptom(system: str, code: str) -> dict:
    return {"resourceType": "Condition", "code": {"coding": [{"system": system, "code": code}]},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "onsetDateTime": EFFECTIVE, "recordedDate": EFFECTIVE}


def _emergencies(registry: Registry, bundle: dict) -> set[str]:
    result = evaluate(bundle, now=NOW, registry=registry)
    return {s.rule_id for s in result.suggestions if s.urgency == "emergency"}


def test_e9_capillary_glucose_36_mg_dl_without_diabetes_is_an_emergency(every_pack):
    bundle = _bundle(_obs(LOINC, "41653-7", 36, "mg/dL"))  # capillary meter, 36 mg/dL = 2.0 mmol/L
    assert "emergency-red-flags/referral/glucose-below-3-0" in _emergencies(every_pack, bundle)


def test_e9_capillary_glucose_3_4_mmol_l_is_not_an_emergency(every_pack):
    bundle = _bundle(_obs(LOINC, "14743-9", 3.4, "mmol/L"))
    assert "emergency-red-flags/referral/glucose-below-3-0" not in _emergencies(every_pack, bundle)


def test_e17_venous_potassium_6_8_without_ckd_or_hf_is_an_emergency(every_pack):
    bundle = _bundle(_obs(LOINC, "39789-3", 6.8, "mmol/L"))
    assert "emergency-red-flags/referral/potassium-6-5-or-above" in _emergencies(every_pack, bundle)


@pytest.mark.parametrize(("code", "name"), [("286933003", "confusional state"), ("40917007", "clouded consciousness"),
                                            ("214264003", "lethargy")])
def test_e10_snomed_confusion_or_lethargy_is_altered_consciousness(every_pack, code, name):
    emergencies = _emergencies(every_pack, _bundle(_symptom(SNOMED, code)))
    assert "red-flags-vital-signs/referral/altered-consciousness" in emergencies, name


def test_axillary_temperature_in_degf_reaches_the_hypothermia_red_flag(every_pack):
    bundle = _bundle(_obs(LOINC, "8328-7", 94.5, "[degF]"))  # 34.7 Cel
    assert "red-flags-vital-signs/referral/temp-35-or-below" in _emergencies(every_pack, bundle)


def test_scenario_l_septic_72_year_old_gets_sepsis_and_consciousness_emergencies(every_pack):
    bundle = _bundle(_obs(LOINC, "8310-5", 39.4, "Cel"), _obs(LOINC, "9279-1", 24, "/min"),
                     _obs(LOINC, "8480-6", 96, "mm[Hg]"), _symptom(SNOMED, "286933003"), birth_date="1954-03-01")
    emergencies = _emergencies(every_pack, bundle)
    assert {"emergency-red-flags/referral/sepsis-qsofa-2-with-infection",
            "red-flags-vital-signs/referral/altered-consciousness"} <= emergencies
