"""Intake: FHIR Bundle (R4 / R4B / R5 JSON) -> PatientFacts. Nothing clinical is decided here."""
