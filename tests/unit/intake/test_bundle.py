"""Intake: what a bundle becomes, and the errors that name the field."""

from __future__ import annotations

import json

import pytest

from cdss.errors import IntakeError
from cdss.intake.bundle import read_bundle
from tests.conftest import load_bundle, synthea_files


def _bundle(*resources: dict, type_: str = "collection") -> dict:
    return {"resourceType": "Bundle", "type": type_, "entry": [{"resource": r} for r in resources]}


PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-05-01", "gender": "female"}


def _obs(code: str, value: float, unit: str, status: str = "final", when: str = "2026-11-20T08:00:00+08:00",
         oid: str = "o1") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": status, "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def _error(data, registry) -> IntakeError:
    with pytest.raises(IntakeError) as info:
        read_bundle(data, registry.concepts, source_name="in.json")
    return info.value


def test_read_bundle_not_json_names_line(registry):
    err = _error(b"{not json", registry)
    assert err.code == "not-json"
    assert "line 1" in str(err) and str(err).startswith("in.json:")


def test_read_bundle_not_a_bundle_says_what_it_got(registry):
    err = _error(json.dumps(PATIENT), registry)
    assert err.code == "not-a-bundle"
    assert "'Patient'" in str(err)


@pytest.mark.parametrize("entries, code", [([], "no-patient"), ([PATIENT, dict(PATIENT, id="p2")], "two-patients")])
def test_read_bundle_patient_count_is_checked(registry, entries, code):
    err = _error(_bundle(*entries), registry)
    assert err.code == code


def test_read_bundle_bad_date_names_fhir_path(registry):
    err = _error(_bundle(PATIENT, _obs("8480-6", 120, "mm[Hg]", when="22/11/2026")), registry)
    assert err.code == "bad-date"
    assert err.problems[0].field == "Bundle.entry[1].resource.effectiveDateTime"
    assert "'22/11/2026'" in str(err)


@pytest.mark.parametrize("type_", ["collection", "transaction", "batch", "searchset"])
def test_read_bundle_accepts_bundle_types(registry, type_):
    facts = read_bundle(_bundle(PATIENT, _obs("8480-6", 150, "mm[Hg]"), type_=type_), registry.concepts)
    assert facts.patient == "Patient/p1"
    assert [r.value for r in facts.readings["sbp"]] == [150.0]


def test_read_bundle_skips_preliminary_observations(registry):
    facts = read_bundle(_bundle(PATIENT, _obs("8480-6", 150, "mm[Hg]", status="preliminary")), registry.concepts)
    assert "sbp" not in facts.readings


def test_read_bundle_converts_units_to_canonical(registry):
    facts = read_bundle(_bundle(PATIENT, _obs("2345-7", 126, "mg/dL")), registry.concepts)
    (reading,) = facts.readings["glucose"]
    assert reading.unit == "mmol/L"
    assert reading.value == pytest.approx(6.99, abs=0.01)


def test_read_bundle_unknown_unit_is_a_note_not_an_error(registry):
    facts = read_bundle(_bundle(PATIENT, _obs("2345-7", 126, "furlongs")), registry.concepts)
    assert "glucose" not in facts.readings
    assert [(n.concept, n.reason) for n in facts.notes] == [("glucose", "unknown-unit")]


def test_read_bundle_implausible_value_is_set_aside(registry):
    facts = read_bundle(_bundle(PATIENT, _obs("8480-6", 1200, "mm[Hg]")), registry.concepts)
    assert "sbp" not in facts.readings
    assert facts.notes[0].reason == "implausible"


def test_read_bundle_reads_bp_panel_components(registry):
    facts = read_bundle(load_bundle("htn-emergency.json"), registry.concepts)
    assert [r.value for r in facts.readings["sbp"]] == [148.0, 196.0]
    assert [r.value for r in facts.readings["dbp"]] == [92.0, 122.0]
    assert {"hypertension", "severe_headache"} <= set(facts.present)


def test_read_bundle_skips_refuted_and_resolved_conditions(registry):
    def cond(cid: str, clinical: str | None, verification: str | None) -> dict:
        res = {"resourceType": "Condition", "id": cid,
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]}}
        if clinical:
            res["clinicalStatus"] = {"coding": [{"code": clinical}]}
        if verification:
            res["verificationStatus"] = {"coding": [{"code": verification}]}
        return res

    facts = read_bundle(_bundle(PATIENT, cond("a", "resolved", None), cond("b", None, "refuted"),
                                cond("c", "inactive", None), cond("d", None, "entered-in-error")), registry.concepts)
    assert "diabetes" not in facts.present
    facts = read_bundle(_bundle(PATIENT, cond("e", "active", "confirmed")), registry.concepts)
    assert [p.source for p in facts.present["diabetes"]] == ["Condition/e"]


def test_read_bundle_r5_medication_codeable_reference(registry):
    med = {"resourceType": "MedicationStatement", "id": "m1", "status": "recorded",
           "medication": {"concept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "C09AA05"}]}}}
    facts = read_bundle(_bundle(PATIENT, med), registry.concepts)
    assert [p.source for p in facts.present["acei"]] == ["MedicationStatement/m1"]


@pytest.mark.parametrize("path", synthea_files(), ids=lambda p: p.name.split("_")[0])
def test_read_bundle_reads_real_synthea_bundles(registry, path):
    facts = read_bundle(load_bundle(f"synthea/{path.name}"), registry.concepts)
    assert facts.patient.startswith("Patient/")
    assert facts.readings.get("sbp"), "Synthea BP panels (55284-4) carry SBP components"
    assert all(r.unit == "mm[Hg]" for r in facts.readings["sbp"])
