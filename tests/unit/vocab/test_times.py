"""The naive-time policy: a time without an offset is read in a stated zone, never the machine's."""

from __future__ import annotations

import datetime as dt

import pytest

from cdss.cli.evaluate import parse_now
from cdss.population.run import parse_period
from cdss.vocab.times import CLINIC_ZONE, DATA_ZONE, aware, parse_time

BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_a_naive_time_is_read_in_the_stated_zone_and_an_offset_is_kept():
    naive = dt.datetime(2026, 11, 22, 9, 0)
    assert aware(naive) == dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
    assert aware(naive, CLINIC_ZONE).utcoffset() == dt.timedelta(hours=8)
    given = dt.datetime(2026, 11, 22, 9, 0, tzinfo=BEIJING)
    assert aware(given) is given and aware(given, DATA_ZONE) is given


def test_parse_time_reads_dates_z_and_offsets():
    assert parse_time("2026-11-22") == dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    assert parse_time(" 2026-11-22T09:00:00Z ") == dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)
    assert parse_time("2026-11-22T09:00:00+08:00").utcoffset() == dt.timedelta(hours=8)
    assert parse_time("2026-11-22T09:00", CLINIC_ZONE) == dt.datetime(2026, 11, 22, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        parse_time("22/11/2026")


def test_the_cli_and_the_population_period_follow_the_policy():
    assert parse_now("2026-11-22T09:00") == dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    # An offset given in a period is kept (it used to be overwritten with UTC).
    period = parse_period("2026-01-01T00:00+08:00..2026-12-31", now)
    assert period.start == dt.datetime(2025, 12, 31, 16, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2026, 12, 31, tzinfo=dt.UTC)
