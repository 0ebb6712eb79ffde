"""Regression of the xreview clinical reading (2026-12-01): within 6 weeks of birth a severe headache with BP
>=140/90 is an emergency (neuro-community headache-postpartum-high-bp), and htn-community's urgent same-day
postpartum review is not shown beside it as the advice."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
EMERGENCY = "neuro-community/referral/headache-postpartum-high-bp"
REVIEW = "htn-community/referral/postpartum-hypertension-review"


def _evaluate(*facts: CaseFact):
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=30, sex="female", patient_id="p1")
    return evaluate(bundle, now=NOW, registry=REG)


def test_postpartum_severe_headache_and_150_100_is_an_emergency_not_the_same_day_review():
    result = _evaluate(CaseFact(has="postpartum", days_ago=10), CaseFact(has="lactation", days_ago=10),
                       CaseFact(has="severe_headache"), CaseFact(concept="sbp", value=150),
                       CaseFact(concept="dbp", value=100))
    shown = {s.rule_id: s for s in result.suggestions}
    assert shown[EMERGENCY].urgency == "emergency"
    assert REVIEW not in shown
    superseded = {s.rule_id: s for s in result.superseded}
    assert EMERGENCY in " ".join(superseded[REVIEW].superseded_by)


def test_postpartum_150_100_without_symptoms_keeps_the_same_day_review():
    result = _evaluate(CaseFact(has="postpartum", days_ago=10), CaseFact(concept="sbp", value=150),
                       CaseFact(concept="dbp", value=100))
    shown = {s.rule_id: s for s in result.suggestions}
    assert EMERGENCY not in shown
    assert shown[REVIEW].urgency == "urgent"
