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


def test_a_month_lacking_the_day_of_birth_completes_on_the_first_of_the_next() -> None:
    """As a 29 February birthday is reached on 1 March: months and years never disagree (review: born
    2024-02-29, on 2025-02-28 the months said 12 and the years 0)."""
    at = lambda y, m, d: dt.datetime(y, m, d, 9, 0, tzinfo=dt.UTC)  # noqa: E731
    assert _months(dt.date(2027, 1, 31), at(2027, 2, 28)) == 0
    assert _months(dt.date(2027, 1, 31), at(2027, 3, 1)) == 1
    leap = PatientFacts(patient="Patient/p", birth_date=dt.date(2024, 2, 29), sex=None)
    assert (leap.age_years(at(2025, 2, 28)), leap.age_months(at(2025, 2, 28))) == (0, 11)
    assert (leap.age_years(at(2025, 3, 1)), leap.age_months(at(2025, 3, 1))) == (1, 12)


def test_months_and_years_agree_on_every_day() -> None:
    born = dt.date(2024, 2, 29)
    for day in range(0, 1200, 1):
        now = dt.datetime(2024, 2, 29, 9, 0, tzinfo=dt.UTC) + dt.timedelta(days=day)
        facts = PatientFacts(patient="Patient/p", birth_date=born, sex=None)
        assert facts.age_months(now) // 12 == facts.age_years(now)


def test_a_partial_birth_date_leaves_months_open_rather_than_make_an_infant_older() -> None:
    """Review: a birthDate of "2025-10" was read as 1 October, so on 10 April an infant perhaps 5 months old
    counted 6 and missed the "under 6 months" red flag; "2025" counted from 1 January (15 months)."""
    april_10 = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)
    month_only = PatientFacts(patient="Patient/p", birth_date=dt.date(2025, 10, 1), sex=None,
                              birth_date_latest=dt.date(2025, 10, 31))
    year_only = PatientFacts(patient="Patient/p", birth_date=dt.date(2025, 1, 1), sex=None,
                             birth_date_latest=dt.date(2025, 12, 31))
    assert month_only.age_months(april_10) is None and year_only.age_months(april_10) is None
    assert month_only.age_months(dt.datetime(2026, 4, 30, 9, 0, tzinfo=dt.UTC)) is None
    assert month_only.age_months(dt.datetime(2026, 5, 31, 9, 0, tzinfo=dt.UTC)) == 7  # every day of Oct: 7


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


def test_a_partial_birth_date_gives_the_youngest_and_oldest_ages() -> None:
    """The engine tests both ends: a test both meet (or both fail) is decided, else it is unknown."""
    from cdss.intake.facts import completed_months, completed_years

    year_only = PatientFacts(patient="Patient/p", birth_date=dt.date(2020, 1, 1), sex=None,
                             birth_date_latest=dt.date(2020, 12, 31))
    april_10 = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)
    assert year_only.ages(completed_years, april_10) == (5, 6)
    assert year_only.ages(completed_months, april_10) == (63, 75)
    full = PatientFacts(patient="Patient/p", birth_date=dt.date(2020, 3, 15), sex=None)
    assert full.ages(completed_years, april_10) == (6, 6)
