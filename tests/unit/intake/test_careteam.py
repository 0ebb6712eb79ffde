"""Intake: a family-doctor contract is an active CareTeam of the resident (cdss/intake/careteam.py)."""

from __future__ import annotations

import datetime as dt

from cdss.intake.bundle import read_bundle
from cdss.packs.registry import default_registry

CONTRACT = {"system": "urn:cdss:local", "code": "family-doctor-contract"}
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1950-05-01", "gender": "female"}


def _careteam(status: str = "active", category: dict | None = None) -> dict:
    return {"resourceType": "CareTeam", "id": "ct1", "status": status,
            "category": [{"coding": [category or CONTRACT]}], "subject": {"reference": "Patient/p1"},
            "period": {"start": "2025-03-01"}, "managingOrganization": [{"reference": "Organization/c1"}],
            "participant": [{"member": {"reference": "Practitioner/d1"}}]}


def _read(*resources: dict):
    entries = [{"resource": r} for r in (PATIENT, *resources)]
    return read_bundle({"resourceType": "Bundle", "type": "collection", "entry": entries},
                       default_registry().concepts)


def test_active_contract_careteam_makes_the_resident_signed_from_the_signing_date():
    facts = _read(_careteam())
    (presence,) = facts.present["family_doctor_contract"]
    assert presence.source == "CareTeam/ct1"
    assert presence.time == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def test_inactive_or_proposed_careteam_is_no_contract():
    for status in ("inactive", "proposed", "suspended", "entered-in-error"):
        assert "family_doctor_contract" not in _read(_careteam(status)).present, status


def test_careteam_of_another_category_is_no_contract():
    facts = _read(_careteam(category={"system": "http://loinc.org", "code": "LA27976-2"}))
    assert "family_doctor_contract" not in facts.present
