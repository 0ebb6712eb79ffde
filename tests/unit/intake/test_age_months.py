"""Age in completed months (infants): what "under 6 months" is tested on, and the case patients' fractional ages."""

from __future__ import annotations

import datetime as dt

import pytest

from cdss.intake.facts import PatientFacts
from cdss.testing.factories import birth_date

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _months(born: dt.date, now: dt.datetime = NOW) -> int | None:
    return PatientFacts(patient="Patient/p", birth_date=born, sex=None).age_months(now)


@pytest.mark.parametrize(("born", "months"), [
    (dt.date(2026, 5, 22), 6),   # six months ago to the day: 6 completed
    (dt.date(2026, 5, 23), 5),   # a day short
    (dt.date(2026, 11, 22), 0),  # born today
    (dt.date(2025, 11, 22), 12),
    (dt.date(2026, 1, 22), 10),
])
def test_completed_months(born: dt.date, months: int) -> None:
    assert _months(born) == months


def test_a_month_completes_on_the_last_day_of_a_shorter_month() -> None:
    feb_28 = dt.datetime(2027, 2, 28, 9, 0, tzinfo=dt.UTC)
    assert _months(dt.date(2027, 1, 31), feb_28) == 1
    assert _months(dt.date(2026, 8, 31), feb_28) == 6


def test_no_birth_date_no_age() -> None:
    assert PatientFacts(patient="Patient/p", birth_date=None, sex=None).age_months(NOW) is None


@pytest.mark.parametrize(("age_years", "years", "months"), [
    (0.85, 0, 10), (0.5, 0, 6), (0.3, 0, 3), (0.25, 0, 3), (0.1, 0, 1), (1.5, 1, 18), (60, 60, 720),
    ((5 + 0.5) / 12, 0, 5),  # the generator's half-month over the whole months
])
def test_a_case_age_fraction_is_completed_months(age_years: float, years: int, months: int) -> None:
    """A case's `age_years: 0.85` is a 10-month-old: both ages of the built patient are what the case means."""
    facts = PatientFacts(patient="Patient/p", birth_date=birth_date(age_years, NOW), sex=None)
    assert (facts.age_years(NOW), facts.age_months(NOW)) == (years, months)
