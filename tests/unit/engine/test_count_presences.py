"""Engine: `stat: count` of a coded concept counts the resources recording it in the window (e.g. visits)."""

from __future__ import annotations

import datetime as dt

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
RULE = "phs-chronic-followup/public-health/htn-standard-management"


def _rules(visit_days: list[float]) -> set[str]:
    registry = default_registry()
    facts = [CaseFact(has="hypertension", days_ago=900)] + [CaseFact(has="htn_followup_visit", days_ago=d)
                                                            for d in visit_days]
    bundle = bundle_from_facts(facts, concepts=registry.concepts, now=NOW, age_years=60, sex="male")
    result = evaluate(bundle, now=NOW, registry=registry, pins=["phs-chronic-followup"])
    return {s.rule_id for s in result.suggestions}


def test_four_visits_in_the_year_count_as_four():
    assert RULE in _rules([10, 100, 190, 280])


def test_a_visit_outside_the_window_does_not_count():
    assert RULE not in _rules([10, 100, 190, 400])


def test_no_visit_is_a_count_of_zero_not_a_data_gap():
    registry = default_registry()
    bundle = bundle_from_facts([CaseFact(has="hypertension", days_ago=900)], concepts=registry.concepts,
                               now=NOW, age_years=60, sex="male")
    result = evaluate(bundle, now=NOW, registry=registry, pins=["phs-chronic-followup"])
    assert "htn_followup_visit" not in {g.concept for g in result.data_gaps}
    assert "phs-chronic-followup/public-health/htn-followup-overdue" in {s.rule_id for s in result.suggestions}
