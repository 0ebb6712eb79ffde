"""Regressions of the second clinical reading (review2, 2026-12-01) that need more than one pack: one card,
not two with different urgencies, for the same finding."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
HF_K = "hf-community/referral/emergency-potassium"
GENERIC_K = "emergency-red-flags/referral/potassium-6-0-to-6-4"


def _evaluate(age: float, sex: str, *facts: CaseFact):
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    return evaluate(bundle, now=NOW, registry=REG)


def test_potassium_6_2_in_heart_failure_is_one_emergency_card():
    result = _evaluate(70, "male", CaseFact(has="heart_failure", days_ago=400),
                       CaseFact(concept="potassium", value=6.2))
    shown = {s.rule_id: s for s in result.suggestions}
    assert HF_K in shown and shown[HF_K].urgency == "emergency"
    assert GENERIC_K not in shown
    (gone,) = [s for s in result.superseded if s.rule_id == GENERIC_K]
    assert HF_K in " ".join(gone.superseded_by)


def test_potassium_6_2_without_heart_failure_keeps_the_urgent_card():
    result = _evaluate(70, "male", CaseFact(concept="potassium", value=6.2))
    assert GENERIC_K in {s.rule_id for s in result.suggestions}


def test_gout_flare_with_fever_and_hot_joint_is_one_septic_joint_card_and_no_flare_treatment():
    result = _evaluate(60, "male", CaseFact(has="gout", days_ago=700), CaseFact(has="gout_flare"),
                       CaseFact(has="hot_swollen_joint"), CaseFact(concept="body_temp", value=38.6))
    shown = {s.rule_id for s in result.suggestions}
    assert "gout-community/referral/flare-with-fever" in shown
    assert "gout-community/treatment/acute-flare" not in shown
    assert "musculoskeletal-community/referral/hot-swollen-joint" not in shown
