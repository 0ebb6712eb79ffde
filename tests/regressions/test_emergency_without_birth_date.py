"""A met emergency must not stay silent because the birth date (or the sex) is missing.

Found in the round-6 clinical reading: a rule scoped by age is undecided for a patient without a birth date, and
the emergency rules are `gaps: silent`, so qSOFA 3 with a fever gave no card and no data gap. A rule whose
condition holds now reports the missing age as a data gap, silent or not, and the CDS Hooks data-gap card names
it. It does not fire: a first version fired such emergencies with a caution, and review showed false alarms
(a heart rate of 55 in an adult on a beta-blocker got "child under 12 ... needs CPR now") and adult steroid doses
on a card for a possible child.
"""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.render.cds_hooks import render_cards
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
SEPSIS = "emergency-red-flags/referral/sepsis-qsofa-2-with-infection"  # {age_years: {min: 18}}
QSOFA_3 = (CaseFact(concept="body_temp", value=39.4), CaseFact(concept="resp_rate", value=24),
           CaseFact(concept="sbp", value=96), CaseFact(concept="dbp", value=58), CaseFact(has="confusion"))


def _evaluate(*facts: CaseFact, age: float | None = None, birth_date: str | None = None, sex: str = "female"):
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    if birth_date is not None:
        bundle["entry"][0]["resource"]["birthDate"] = birth_date
    return evaluate(bundle, now=NOW, registry=REG)


def _age_gap(result):
    return next((g for g in result.data_gaps if g.concept == "age_years"), None)


def test_qsofa_3_with_fever_and_no_birth_date_names_the_sepsis_rule_on_the_data_gap_card():
    result = _evaluate(*QSOFA_3)
    assert SEPSIS not in {s.rule_id for s in result.suggestions}
    gap = _age_gap(result)
    assert gap is not None and SEPSIS in gap.rules and gap.urgency == "emergency"
    body = render_cards(result, hook_instance="h1", panel_url=None).body
    (card,) = [c for c in body["cards"] if c["summary"].startswith("缺少评估所需数据")]
    assert SEPSIS in card["detail"]


def test_a_birth_year_on_both_sides_of_18_is_an_imprecise_age_gap_for_the_sepsis_rule():
    gap = _age_gap(_evaluate(*QSOFA_3, birth_date=str(NOW.year - 18)))
    assert gap is not None and SEPSIS in gap.rules and gap.reason == "imprecise"


def test_an_adult_gets_the_sepsis_card_and_a_child_gets_neither_card_nor_gap():
    assert SEPSIS in {s.rule_id for s in _evaluate(*QSOFA_3, age=40).suggestions}
    child = _evaluate(*QSOFA_3, age=8)
    assert SEPSIS not in {s.rule_id for s in child.suggestions}
    assert all(SEPSIS not in g.rules for g in child.data_gaps)  # outside the population: nothing


def test_heart_rate_55_without_a_birth_date_gets_no_child_cpr_card():
    result = _evaluate(CaseFact(concept="heart_rate", value=55), sex="male")
    assert "red-flags-vital-signs/referral/bradycardia-below-60-under-12" not in {s.rule_id for s in result.suggestions}
    gap = _age_gap(result)
    assert gap is not None and "red-flags-vital-signs/referral/bradycardia-below-60-under-12" in gap.rules


def test_a_met_urgent_rule_with_silent_gaps_reports_the_missing_age():
    result = _evaluate(CaseFact(concept="potassium", value=6.2))
    assert "emergency-red-flags/referral/potassium-6-0-to-6-4" not in {s.rule_id for s in result.suggestions}
    gap = _age_gap(result)
    assert gap is not None and "emergency-red-flags/referral/potassium-6-0-to-6-4" in gap.rules
