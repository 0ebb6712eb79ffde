"""Regression: generated patients for a pack whose quantity tests have no time window drew up to 3 readings on
distinct days from only 2 candidate days, and hypothesis refused (`cdss pack test` crashed with an internal
error on tcm-prescription-review's dose concepts)."""

from __future__ import annotations

from hypothesis import given, settings

from cdss.testing.strategies import _readings


def test_readings_never_need_more_distinct_days_than_there_are(registry):
    concept = registry.concepts.by_id["sbp"]

    @settings(max_examples=30, deadline=None)
    @given(_readings(concept, set(), [0.0, 1.0], False))
    def run(facts):
        assert len({f.days_ago for f in facts}) == len(facts) <= 2

    run()
