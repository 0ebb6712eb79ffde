"""Regressions of the third clinical reading (review3, 2026-12-01) that need more than one pack: an emergency
card replaces the routine cards for the same patient, and one finding gets one card, not two urgencies."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
GI_BLEED = "gerd-community/referral/gi-bleeding-alarm"
DIGESTIVE_TREATMENTS = (
    "digestive-community/treatment/hp-eradication",
    "digestive-community/treatment/peptic-ulcer-ppi-course",
    "digestive-community/treatment/constipation-first-line",
    "digestive-community/treatment/ibs-management",
)
PREGNANCY_SAME_DAY = "htn-community/referral/pregnancy-hypertension-same-day"
PREGNANCY_SEVERE = "htn-community/referral/severe-bp-pregnancy-refer"
HEADACHE_PREGNANCY_BP = "neuro-community/referral/headache-pregnancy-high-bp"


def _is_hypertension(suggestion) -> bool:
    return suggestion.disease is not None and suggestion.disease.id == "hypertension"


def _evaluate(age: float, sex: str, *facts: CaseFact):
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    return evaluate(bundle, now=NOW, registry=REG)


def _gi_patient(*extra: CaseFact) -> tuple[CaseFact, ...]:
    return (CaseFact(has="peptic_ulcer", days_ago=200), CaseFact(has="h_pylori_positive", days_ago=30),
            CaseFact(has="chronic_constipation", days_ago=300), CaseFact(has="ibs", days_ago=300), *extra)


def test_gi_bleed_emergency_replaces_the_routine_digestive_treatments():
    result = _evaluate(55, "male", *_gi_patient(CaseFact(has="melaena")))
    shown = {s.rule_id: s for s in result.suggestions}
    assert GI_BLEED in shown and shown[GI_BLEED].urgency == "emergency"
    for rule in DIGESTIVE_TREATMENTS:
        assert rule not in shown, rule
    superseded = {s.rule_id: s for s in result.superseded}
    for rule in DIGESTIVE_TREATMENTS:
        assert GI_BLEED in " ".join(superseded[rule].superseded_by), rule


def test_without_a_bleed_the_digestive_treatments_still_show():
    result = _evaluate(55, "male", *_gi_patient())
    shown = {s.rule_id for s in result.suggestions}
    assert GI_BLEED not in shown
    assert set(DIGESTIVE_TREATMENTS) <= shown


def test_pregnant_with_severe_headache_and_150_95_gets_one_emergency_card_not_also_the_same_day_card():
    result = _evaluate(30, "female", CaseFact(has="pregnancy", days_ago=200), CaseFact(has="severe_headache"),
                       CaseFact(concept="sbp", value=150), CaseFact(concept="dbp", value=95))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[HEADACHE_PREGNANCY_BP].urgency == "emergency"
    assert PREGNANCY_SAME_DAY not in shown
    assert not [s for s in shown.values() if _is_hypertension(s) and s.urgency in ("routine", "urgent")]


def test_pregnant_150_95_without_headache_gets_the_same_day_obstetric_card():
    result = _evaluate(30, "female", CaseFact(has="pregnancy", days_ago=200),
                       CaseFact(concept="sbp", value=150), CaseFact(concept="dbp", value=95))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[PREGNANCY_SAME_DAY].urgency == "urgent"
    assert not [s for s in shown.values() if s.urgency == "emergency"]


def test_pregnant_165_105_is_an_emergency_in_every_pack_that_speaks():
    result = _evaluate(30, "female", CaseFact(has="pregnancy", days_ago=200),
                       CaseFact(concept="sbp", value=165), CaseFact(concept="dbp", value=105))
    hypertension = [s for s in result.suggestions if _is_hypertension(s)]
    assert PREGNANCY_SEVERE in {s.rule_id for s in hypertension}
    assert {s.urgency for s in hypertension} == {"emergency"}
