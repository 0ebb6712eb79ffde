"""Intake: a MedicationRequest's expected supply duration becomes a reading of the supply concept."""

from __future__ import annotations

from cdss.intake.bundle import read_bundle
from cdss.packs.schema import ConceptsFile
from cdss.vocab.concepts import ConceptSet

UCUM = "http://unitsofmeasure.org"
SUPPLY = {"system": "urn:cdss:local", "code": "MedicationRequest.dispenseRequest.expectedSupplyDuration"}

CONCEPTS = ConceptSet.build(ConceptsFile.model_validate({
    "id": "test", "version": "1.0.0", "effective": "2026-01-01", "status": "draft",
    "title": {"zh": "测试", "en": "test"},
    "concepts": [
        {"id": "rx_weeks", "kind": "quantity", "unit": "wk", "plausible": [0, 104],
         "title": {"zh": "处方周数", "en": "Supply weeks"}, "codes": [SUPPLY]},
        {"id": "amlodipine", "kind": "medication", "title": {"zh": "氨氯地平", "en": "Amlodipine"},
         "codes": [{"system": "http://www.whocc.no/atc", "code": "C08CA01"}]},
    ],
}), "test")

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1950-05-01", "gender": "female"}


def _order(duration: dict | None, status: str = "draft") -> dict:
    res = {"resourceType": "MedicationRequest", "id": "m1", "status": status, "intent": "order",
           "authoredOn": "2026-12-01T09:00:00+08:00",
           "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "C08CA01"}]},
           "subject": {"reference": "Patient/p1"}}
    if duration is not None:
        res["dispenseRequest"] = {"expectedSupplyDuration": duration}
    return res


def _read(*resources: dict):
    entries = [{"resource": r} for r in (PATIENT, *resources)]
    return read_bundle({"resourceType": "Bundle", "type": "collection", "entry": entries}, CONCEPTS)


def test_supply_in_days_is_read_in_weeks_with_the_order_time():
    facts = _read(_order({"value": 56, "unit": "days", "system": UCUM, "code": "d"}))
    (reading,) = facts.readings["rx_weeks"]
    assert reading.value == 8
    assert reading.source == "MedicationRequest/m1"
    assert reading.time is not None and reading.time.isoformat() == "2026-12-01T09:00:00+08:00"
    assert "amlodipine" in facts.present


def test_order_without_supply_or_stopped_gives_no_reading():
    assert "rx_weeks" not in _read(_order(None)).readings
    assert "rx_weeks" not in _read(_order({"value": 12, "system": UCUM, "code": "wk"}, status="stopped")).readings


def test_statement_supply_is_not_read():
    statement = {**_order({"value": 12, "system": UCUM, "code": "wk"}), "resourceType": "MedicationStatement"}
    assert "rx_weeks" not in _read(statement).readings
