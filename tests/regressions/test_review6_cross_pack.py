"""Regressions of the round-6 clinical reading (2026-12-01) that need more than one pack, or the card's words:
children's glucose doses, hyperkalaemia without a known age, captopril beside an ARB or hyperkalaemia."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
CAPTOPRIL = "htn-community/referral/severe-bp-urgent-care"
NO_CAPTOPRIL = "htn-community/referral/severe-bp-urgent-care-no-acei"
K_EVERY_AGE = "emergency-red-flags/referral/potassium-6-5-or-above"
K_CHILD = "emergency-red-flags/referral/potassium-6-5-or-above-child"
GLUCOSE_BELOW_3 = "emergency-red-flags/referral/glucose-below-3-0"
SEVERE_BP = (CaseFact(concept="sbp", value=185), CaseFact(concept="dbp", value=115))


def _bundle(age: float | None, sex: str, *facts: CaseFact, birth_date: str | None = None) -> dict:
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    if birth_date is not None:
        bundle["entry"][0]["resource"]["birthDate"] = birth_date
    return bundle


def _shown(bundle: dict) -> dict:
    return {s.rule_id: s for s in evaluate(bundle, now=NOW, registry=REG).suggestions}


def test_a_child_with_glucose_2_5_is_told_the_weight_based_dose_not_only_the_adult_one():
    card = _shown(_bundle(4, "female", CaseFact(concept="glucose", value=2.5)))[GLUCOSE_BELOW_3]
    assert "0.3 g/kg" in card.detail["zh"] and "0.3 g/kg" in card.detail["en"]
    assert "10%葡萄糖2 mL/kg" in card.detail["zh"] and "not 50%" in card.detail["en"]


def test_potassium_7_with_no_birth_date_or_a_year_straddling_18_still_gets_the_emergency_card():
    k = CaseFact(concept="potassium", value=7.0)
    for bundle in (_bundle(None, "female", k), _bundle(None, "male", k, birth_date=str(NOW.year - 18))):
        shown = _shown(bundle)
        assert shown[K_EVERY_AGE].urgency == "emergency"
        assert K_CHILD not in shown


def test_a_child_with_potassium_7_gets_the_child_card_alone():
    shown = _shown(_bundle(8, "male", CaseFact(concept="potassium", value=7.0)))
    assert shown[K_CHILD].urgency == "emergency"
    assert K_EVERY_AGE not in shown


def test_on_an_arb_with_bp_185_115_no_captopril():
    shown = _shown(_bundle(60, "male", CaseFact(has="arb"), *SEVERE_BP))
    assert NO_CAPTOPRIL in shown and CAPTOPRIL not in shown
    card = shown[NO_CAPTOPRIL]
    assert "卡托普利12.5" not in card.detail["zh"] and "美托洛尔25 mg" in card.detail["zh"]  # no captopril dose


def test_potassium_6_8_with_bp_185_115_no_captopril_beside_stop_ace_inhibitors():
    shown = _shown(_bundle(60, "male", CaseFact(concept="potassium", value=6.8), *SEVERE_BP))
    assert shown[K_EVERY_AGE].urgency == "emergency"
    assert CAPTOPRIL not in shown and NO_CAPTOPRIL in shown


def test_a_stroke_sign_on_an_arb_gets_the_ambulance_card_alone():
    shown = _shown(_bundle(60, "male", CaseFact(has="arb"), CaseFact(has="facial_droop"), *SEVERE_BP))
    assert shown["stroke-befast/referral/befast-sign-today"].urgency == "emergency"
    assert CAPTOPRIL not in shown and NO_CAPTOPRIL not in shown


def test_nothing_against_captopril_keeps_the_captopril_card():
    shown = _shown(_bundle(55, "male", *SEVERE_BP))
    assert CAPTOPRIL in shown and NO_CAPTOPRIL not in shown
