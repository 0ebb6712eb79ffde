"""Intake: a concept's readings are in time order, then by source, the undated first (`PatientFacts`), and the
window over them (`recorded_in_window`, bisections) keeps exactly what was recorded by `now` and, with a
cutoff, at or after it: an undated reading only without a cutoff, a later one never."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from cdss.intake.facts import Reading, in_time_order, recorded_in_window, time_order

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
YEAR_ONE = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # before datetime.min in UTC
# (a placeholder date of year 1, e.g. .NET's DateTime.MinValue, sorts before the undated ones)
times = st.one_of(st.none(), st.integers(0, 30).map(lambda d: BASE + dt.timedelta(days=d)),
                  st.integers(0, 16).map(lambda h: YEAR_ONE + dt.timedelta(hours=h)))
readings = st.lists(st.builds(lambda t, s: Reading("sbp", 120.0, "mm[Hg]", t, f"Observation/{s}"),
                              times, st.sampled_from("abc")), max_size=12)


@given(readings)
def test_readings_sort_by_time_then_source_with_the_undated_first(items):
    assert list(in_time_order(items)) == sorted(items, key=time_order)


instants = st.one_of(st.integers(-2, 32).map(lambda d: BASE + dt.timedelta(days=d)),
                     st.integers(0, 16).map(lambda h: YEAR_ONE + dt.timedelta(hours=h)))


@given(readings, instants, st.one_of(st.none(), st.integers(0, 40).map(lambda d: dt.timedelta(days=d)),
                                     st.integers(0, 16).map(lambda h: dt.timedelta(hours=h))))
def test_the_window_keeps_what_was_recorded_by_now_and_since_the_cutoff(items, now, within):
    cutoff = None if within is None or now - YEAR_ONE < within else now - within
    ordered = in_time_order(items)
    expected = [r for r in ordered if (r.time is None or r.time <= now)
                and (cutoff is None or (r.time is not None and r.time >= cutoff))]
    assert list(recorded_in_window(ordered, now, cutoff)) == expected


def test_an_undated_reading_is_kept_whatever_the_time_without_a_cutoff_and_never_with_one():
    undated = Reading("sbp", 120.0, "mm[Hg]", None, "Observation/u")
    assert recorded_in_window((undated,), YEAR_ONE, None) == (undated,)
    assert recorded_in_window((undated,), BASE, BASE - dt.timedelta(days=1)) == ()
