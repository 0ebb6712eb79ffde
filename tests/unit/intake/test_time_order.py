"""Intake: a concept's readings are in time order, then by source, the undated first (`PatientFacts`), and the
window over them (`recorded_in_window`, bisections) keeps exactly what was recorded by `now` and, with a
cutoff, at or after it: an undated reading only without a cutoff, a later one never."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from cdss.intake.facts import Reading, in_time_order, recorded_in_window, time_order

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
times = st.one_of(st.none(), st.integers(0, 30).map(lambda d: BASE + dt.timedelta(days=d)))
readings = st.lists(st.builds(lambda t, s: Reading("sbp", 120.0, "mm[Hg]", t, f"Observation/{s}"),
                              times, st.sampled_from("abc")), max_size=12)


@given(readings)
def test_readings_sort_by_time_then_source_with_the_undated_first(items):
    assert list(in_time_order(items)) == sorted(items, key=time_order)


@given(readings, st.integers(-2, 32), st.one_of(st.none(), st.integers(0, 40)))
def test_the_window_keeps_what_was_recorded_by_now_and_since_the_cutoff(items, now_day, within):
    now = BASE + dt.timedelta(days=now_day)
    cutoff = None if within is None else now - dt.timedelta(days=within)
    ordered = in_time_order(items)
    expected = [r for r in ordered if (r.time is None or r.time <= now)
                and (cutoff is None or (r.time is not None and r.time >= cutoff))]
    assert list(recorded_in_window(ordered, now, cutoff)) == expected


def test_an_undated_reading_is_kept_whatever_the_time_without_a_cutoff_and_never_with_one():
    undated = Reading("sbp", 120.0, "mm[Hg]", None, "Observation/u")
    earliest = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # before datetime.min in UTC
    assert recorded_in_window((undated,), earliest, None) == (undated,)
    assert recorded_in_window((undated,), BASE, BASE - dt.timedelta(days=1)) == ()
