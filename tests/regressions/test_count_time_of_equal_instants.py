"""Regression (review of the seventh speed round): a `count` of coded records names the time of its latest
record. When the two latest visits are one instant written in two offsets (17:00+08:00 from one system,
09:00Z from another), the time shown stays the first of them by source, as before the window became a
bisection (which took the last)."""

from __future__ import annotations

import datetime as dt

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def test_two_latest_visits_at_one_instant_in_two_offsets_show_the_first_by_source():
    registry = default_registry()
    facts = [CaseFact(has="hypertension", days_ago=900)] + [CaseFact(has="htn_followup_visit", days_ago=d)
                                                            for d in (100, 190, 280, 10, 10)]
    bundle = bundle_from_facts(facts, concepts=registry.concepts, now=NOW, age_years=60, sex="male")
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    by_id["f4"]["period"] = {"start": "2026-11-21T17:00:00+08:00", "end": "2026-11-21T17:00:00+08:00"}
    by_id["f5"]["period"] = {"start": "2026-11-21T09:00:00+00:00", "end": "2026-11-21T09:00:00+00:00"}
    result = evaluate(bundle, now=NOW, registry=registry, pins=["phs-chronic-followup"])
    times = {e.time for s in result.suggestions for e in s.facts()
             if e.concept == "htn_followup_visit" and e.stat == "count"}
    assert times == {"2026-11-21T17:00:00+08:00"}
