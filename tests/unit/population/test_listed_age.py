"""The age a population listing shows for a resident: completed years, from a full or partial birth date, read
as the engine reads it (intake's PatientFacts), so that the listing and the advice never disagree."""

from __future__ import annotations

import datetime as dt

import pytest

from cdss.errors import IntakeError
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import default_registry
from cdss.population.job import listed_age

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _age(birth_date: str) -> int | None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patient", "id": "p", "birthDate": birth_date}}]}
    return listed_age(read_bundle(bundle, default_registry().concepts), NOW)


def test_completed_years_from_a_full_or_partial_birth_date() -> None:
    assert _age("1958-11-23") == 67  # the birthday is tomorrow
    assert _age("1958-11-22") == 68
    assert _age("1958") == 67  # a year alone: the youngest she may be (born by 31 Dec)
    assert _age("1958-11") == 67  # born 1-30 November: 67 or 68


def test_a_birth_date_after_now_lists_age_0_not_a_negative_age() -> None:
    assert _age("2027-01-05") == 0


def test_a_birth_date_that_does_not_exist_is_an_error_not_a_listed_age() -> None:
    with pytest.raises(IntakeError):
        _age("1958-02-30")
