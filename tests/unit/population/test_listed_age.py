"""The age a population listing shows for a resident: completed years, from a full or partial birth date."""

from __future__ import annotations

import datetime as dt

from cdss.population.job import _age

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def test_completed_years_from_a_full_or_partial_birth_date() -> None:
    assert _age({"birthDate": "1958-11-23"}, NOW) == 67  # the birthday is tomorrow
    assert _age({"birthDate": "1958-11-22"}, NOW) == 68
    assert _age({"birthDate": "1958"}, NOW) == 67  # a year alone: the youngest she may be (born by 31 Dec)
    assert _age({"birthDate": "1958-11"}, NOW) == 67  # born 1-30 November: 67 or 68


def test_a_birth_date_that_does_not_exist_gives_no_age() -> None:
    assert _age({"birthDate": "1958-02-30"}, NOW) is None
    assert _age({"birthDate": "unknown"}, NOW) is None
