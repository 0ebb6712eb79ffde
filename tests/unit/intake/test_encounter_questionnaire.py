"""Intake: Encounters become presences of encounter concepts; QuestionnaireResponse answers become readings."""

from __future__ import annotations

import datetime as dt

from cdss.intake.bundle import read_bundle
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.dictionary import ConceptsFile

Q = "https://example.org/fhir/Questionnaire/self-care"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"

CONCEPTS = ConceptSet.build(ConceptsFile.model_validate({
    "id": "test", "version": "1.0.0", "effective": "2026-01-01", "status": "draft",
    "title": {"zh": "测试", "en": "test"},
    "concepts": [
        {"id": "inpatient_stay", "kind": "encounter", "title": {"zh": "住院", "en": "Inpatient stay"},
         "codes": [{"system": ACT, "code": "IMP"}]},
        {"id": "discharged_home", "kind": "encounter", "title": {"zh": "出院回家", "en": "Discharged home"},
         "codes": [{"system": DISPOSITION, "code": "home"}]},
        {"id": "q_eating", "kind": "quantity", "unit": "{score}", "plausible": [0, 10],
         "title": {"zh": "进餐", "en": "Eating"}, "codes": [{"system": Q, "code": "1"}]},
        {"id": "q_falls", "kind": "finding", "title": {"zh": "跌倒", "en": "Falls"},
         "codes": [{"system": Q, "code": "2.1"}]},
    ],
}), "test")

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1950-05-01", "gender": "female"}


def _read(*resources: dict):
    entries = [{"resource": r} for r in (PATIENT, *resources)]
    return read_bundle({"resourceType": "Bundle", "type": "collection", "entry": entries}, CONCEPTS)


def test_read_encounter_discharge_is_present_at_the_end_of_the_stay():
    facts = _read({"resourceType": "Encounter", "id": "e1", "status": "finished",
                   "class": {"system": ACT, "code": "IMP"},
                   "period": {"start": "2026-11-01T08:00:00+08:00", "end": "2026-11-10T10:00:00+08:00"},
                   "hospitalization": {"dischargeDisposition": {"coding": [{"system": DISPOSITION, "code": "home"}]}}})
    assert [p.source for p in facts.present["inpatient_stay"]] == ["Encounter/e1"]
    assert facts.present["discharged_home"][0].time == dt.datetime.fromisoformat("2026-11-10T10:00:00+08:00")


def test_read_encounter_r5_class_list_and_admission_are_read():
    facts = _read({"resourceType": "Encounter", "id": "e2", "status": "completed",
                   "class": [{"coding": [{"system": ACT, "code": "IMP"}]}],
                   "actualPeriod": {"start": "2026-11-01T08:00:00+08:00"},
                   "admission": {"dischargeDisposition": {"coding": [{"system": DISPOSITION, "code": "home"}]}}})
    assert set(facts.present) == {"inpatient_stay", "discharged_home"}


def test_read_encounter_planned_or_cancelled_says_nothing():
    facts = _read({"resourceType": "Encounter", "id": "e3", "status": "planned",
                   "class": {"system": ACT, "code": "IMP"}})
    assert not facts.present


def _response(status: str = "completed", **answer) -> dict:
    return {"resourceType": "QuestionnaireResponse", "id": "qr1", "status": status,
            "questionnaire": f"{Q}|1.0.0", "authored": "2026-11-20T09:00:00+08:00",
            "item": [{"linkId": "1", "answer": [answer]},
                     {"linkId": "2", "item": [{"linkId": "2.1", "answer": [{"valueBoolean": True}]}]}]}


def test_read_questionnaire_integer_answer_is_a_reading_and_nested_yes_is_present():
    facts = _read(_response(valueInteger=3))
    assert [(r.value, r.source) for r in facts.readings["q_eating"]] == [(3.0, "QuestionnaireResponse/qr1")]
    assert "q_falls" in facts.present


def test_read_questionnaire_coded_answer_scores_by_ordinal_extension_then_numeric_code():
    ordinal = {"system": "urn:x", "code": "a", "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 5}]}
    assert _read(_response(valueCoding=ordinal)).readings["q_eating"][0].value == 5.0
    assert _read(_response(valueCoding={"system": "urn:x", "code": "4"})).readings["q_eating"][0].value == 4.0


def test_read_questionnaire_implausible_score_is_a_note_not_a_reading():
    facts = _read(_response(valueInteger=99))
    assert "q_eating" not in facts.readings
    assert [n.reason for n in facts.notes] == ["implausible"]


def test_read_questionnaire_in_progress_response_is_ignored():
    facts = _read(_response(status="in-progress", valueInteger=3))
    assert not facts.readings and not facts.present
