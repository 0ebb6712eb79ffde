"""Regressions of the clinical second reading clinA (2026-12-01) that need more than one pack: an emergency or
same-day obstetric card replaces the routine cards of other packs for the same patient (pack cases evaluate one
pack, so these cross-pack `supersedes` are checked here)."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
GI_BLEED = "gerd-community/referral/gi-bleeding-alarm"
ORAL_REHYDRATION = "gastroenteritis-community/treatment/oral-rehydration"
NOROVIRUS_CARD = "gastroenteritis-community/diagnosis/acute-diarrhoea"
PHS_UNCONTROLLED = "phs-chronic-followup/pathway/htn-visit-uncontrolled"
PHS_CONTROLLED = "phs-chronic-followup/pathway/htn-visit-controlled"
PREGNANCY_SAME_DAY = "htn-community/referral/pregnancy-hypertension-same-day"
PREGNANCY_SEVERE = "htn-community/referral/severe-bp-pregnancy-refer"
POSTPARTUM_SEVERE = "htn-community/referral/postpartum-severe-bp-emergency"
POSTPARTUM_REVIEW = "htn-community/referral/postpartum-hypertension-review"


def _evaluate(age: float, sex: str, *facts: CaseFact):
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    return evaluate(bundle, now=NOW, registry=REG)


def _superseded_by(result, rule: str) -> str:
    return " ".join(next(s for s in result.superseded if s.rule_id == rule).superseded_by)


def test_gi_bleed_with_diarrhoea_does_not_also_show_oral_rehydration_or_norovirus_card():
    result = _evaluate(45, "male", CaseFact(has="melaena"), CaseFact(has="diarrhoea"), CaseFact(has="vomiting"))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[GI_BLEED].urgency == "emergency"
    assert ORAL_REHYDRATION not in shown
    assert NOROVIRUS_CARD not in shown
    assert GI_BLEED in _superseded_by(result, ORAL_REHYDRATION)
    assert GI_BLEED in _superseded_by(result, NOROVIRUS_CARD)


def test_diarrhoea_without_a_bleed_still_gets_oral_rehydration():
    result = _evaluate(45, "male", CaseFact(has="diarrhoea"), CaseFact(has="vomiting"))
    shown = {s.rule_id for s in result.suggestions}
    assert GI_BLEED not in shown
    assert {ORAL_REHYDRATION, NOROVIRUS_CARD} <= shown


def _phs_visit(*extra: CaseFact) -> tuple[CaseFact, ...]:
    return (CaseFact(has="hypertension", days_ago=900), CaseFact(has="htn_followup_visit"), *extra)


def test_pregnant_at_public_health_follow_up_150_95_is_not_told_adjust_drugs_and_return_in_2_weeks():
    result = _evaluate(38, "female", *_phs_visit(CaseFact(has="pregnancy", days_ago=150),
                                                 CaseFact(concept="sbp", value=150), CaseFact(concept="dbp", value=95)))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[PREGNANCY_SAME_DAY].urgency == "urgent"
    assert PHS_UNCONTROLLED not in shown
    assert PREGNANCY_SAME_DAY in _superseded_by(result, PHS_UNCONTROLLED)


def test_pregnant_at_public_health_follow_up_168_100_gets_the_emergency_not_the_routine_visit_card():
    result = _evaluate(38, "female", *_phs_visit(CaseFact(has="pregnancy", days_ago=150),
                                                 CaseFact(concept="sbp", value=168),
                                                 CaseFact(concept="dbp", value=100)))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[PREGNANCY_SEVERE].urgency == "emergency"
    assert PHS_UNCONTROLLED not in shown


def test_pregnant_raised_3_days_ago_normal_today_is_not_classified_controlled():
    result = _evaluate(38, "female", *_phs_visit(CaseFact(has="pregnancy", days_ago=150),
                                                 CaseFact(concept="sbp", value=150, days_ago=3),
                                                 CaseFact(concept="dbp", value=95, days_ago=3),
                                                 CaseFact(concept="sbp", value=126), CaseFact(concept="dbp", value=80)))
    shown = {s.rule_id for s in result.suggestions}
    assert PREGNANCY_SAME_DAY in shown
    assert PHS_CONTROLLED not in shown


def test_postpartum_at_public_health_follow_up_165_105_gets_the_emergency_not_the_routine_visit_card():
    result = _evaluate(36, "female", *_phs_visit(CaseFact(has="postpartum", days_ago=12),
                                                 CaseFact(has="lactation", days_ago=12),
                                                 CaseFact(concept="sbp", value=165),
                                                 CaseFact(concept="dbp", value=105)))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[POSTPARTUM_SEVERE].urgency == "emergency"
    assert PHS_UNCONTROLLED not in shown
    assert POSTPARTUM_REVIEW not in shown


def test_not_pregnant_at_public_health_follow_up_keeps_the_routine_visit_card():
    result = _evaluate(38, "female", *_phs_visit(CaseFact(has="not_pregnant"),
                                                 CaseFact(concept="sbp", value=150), CaseFact(concept="dbp", value=95)))
    shown = {s.rule_id for s in result.suggestions}
    assert PHS_UNCONTROLLED in shown
    assert PREGNANCY_SAME_DAY not in shown and POSTPARTUM_REVIEW not in shown
