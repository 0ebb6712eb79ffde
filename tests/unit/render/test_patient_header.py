"""The panel's patient header: name, sex and age; an infant's age in months ("0 岁" tells a clinician nothing)."""

from __future__ import annotations

import datetime as dt
import json

from cdss.render.patient import patient_header

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _bundle(birth: str) -> bytes:
    patient = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": birth,
               "name": [{"family": "李", "given": ["小雨"]}]}
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}).encode()


def test_an_infant_gets_her_age_in_months() -> None:
    assert patient_header(_bundle("2026-01-22"), NOW) == {"name": "李小雨", "sex": "female", "age": 0,
                                                          "age_months": 10}


def test_from_one_year_the_age_is_in_years_only() -> None:
    header = patient_header(_bundle("2025-11-22"), NOW)
    assert header["age"] == 1 and "age_months" not in header


def test_a_birth_date_after_the_evaluation_time_gives_no_age() -> None:
    assert "age" not in patient_header(_bundle("2027-01-01"), NOW)
