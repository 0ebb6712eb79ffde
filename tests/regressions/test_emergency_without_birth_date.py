"""An emergency must not stay silent because the birth date (or the sex) is missing.

Found in the round-6 clinical reading: a rule scoped by age is undecided for a patient without a birth date, and
the emergency rules are `gaps: silent`, so qSOFA 3 with a fever, or K+ 7.0, gave no card and no data gap. Now an
emergency whose condition holds fires with the `population_unknown` caution (catalogue/safety.yaml); any other
rule whose condition holds reports the missing age as a data gap, silent or not.
"""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.packs.scope import load_safety_settings
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
CAUTION = load_safety_settings().population_unknown.zh
SEPSIS = "emergency-red-flags/referral/sepsis-qsofa-2-with-infection"  # {age_years: {min: 18}}
QSOFA_3 = (CaseFact(concept="body_temp", value=39.4), CaseFact(concept="resp_rate", value=24),
           CaseFact(concept="sbp", value=96), CaseFact(concept="dbp", value=58), CaseFact(has="confusion"))


def _evaluate(*facts: CaseFact, age: float | None = None, birth_date: str | None = None, sex: str = "female"):
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    if birth_date is not None:
        bundle["entry"][0]["resource"]["birthDate"] = birth_date
    return evaluate(bundle, now=NOW, registry=REG)


def test_qsofa_3_with_fever_and_no_birth_date_gets_the_sepsis_card_with_the_caution():
    shown = {s.rule_id: s for s in _evaluate(*QSOFA_3).suggestions}
    card = shown[SEPSIS]
    assert card.urgency == "emergency"
    assert card.cautions and card.cautions[0]["zh"] == CAUTION


def test_a_birth_year_on_both_sides_of_18_also_gets_the_card_with_the_caution():
    shown = {s.rule_id: s for s in _evaluate(*QSOFA_3, birth_date=str(NOW.year - 18)).suggestions}
    assert shown[SEPSIS].cautions[0]["zh"] == CAUTION


def test_an_adult_gets_the_card_without_the_caution_and_a_child_gets_no_adult_card():
    adult = {s.rule_id: s for s in _evaluate(*QSOFA_3, age=40).suggestions}
    assert SEPSIS in adult and not adult[SEPSIS].cautions
    child = {s.rule_id for s in _evaluate(*QSOFA_3, age=8).suggestions}
    assert SEPSIS not in child  # outside the population: no card (the children's danger-sign rules speak)


def test_the_uncertain_child_card_gives_way_to_the_certain_every_age_card():
    result = _evaluate(CaseFact(concept="potassium", value=7.0))
    shown = {s.rule_id: s for s in result.suggestions}
    assert not shown["emergency-red-flags/referral/potassium-6-5-or-above"].cautions
    assert "emergency-red-flags/referral/potassium-6-5-or-above-child" not in shown
    (child,) = [s for s in result.superseded if s.rule_id.endswith("potassium-6-5-or-above-child")]
    assert child.superseded_by == ("emergency-red-flags@2.0.0#emergency-red-flags/referral/potassium-6-5-or-above",)


def test_a_met_urgent_rule_with_silent_gaps_reports_the_missing_age():
    result = _evaluate(CaseFact(concept="potassium", value=6.2))
    assert "emergency-red-flags/referral/potassium-6-0-to-6-4" not in {s.rule_id for s in result.suggestions}
    (gap,) = [g for g in result.data_gaps if g.concept == "age_years"]
    assert "emergency-red-flags/referral/potassium-6-0-to-6-4" in gap.rules  # (urgency: the most urgent rule)
