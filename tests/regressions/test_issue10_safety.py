"""Regressions of issue 10 (clinical safety foundation): population scope, pregnancy from every coding,
whose data, the deceased, supersedes, same-time readings, and the codes behind E3, E4, E6 and E8.

Pack-level errors have their own cases in pathways/*/cases/safety-regressions.yaml (named e1-..., e2-...);
this file pins what needs a real FHIR coding, the CLI, the service or the loader."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cdss.cli import _register, app
from cdss.engine.evaluate import evaluate
from cdss.errors import IntakeError, PackError
from cdss.packs.registry import default_registry, load_pack
from cdss.render.text import render_text
from cdss.testing.factories import CaseFact, bundle_from_facts
from cdss.testing.properties import check_pack_properties
from tests.conftest import FIXTURES, NOW, ROOT
from tests.e2e.conftest import client, engine  # noqa: F401, F811  (the service with the bundled packs)

REG = default_registry()
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
_register()
runner = CliRunner()


def _patient(age: float = 30, sex: str = "female", facts: tuple[CaseFact, ...] = (), **extra: Any) -> dict:
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    bundle["entry"][0]["resource"].update(extra)
    return bundle


def _add(bundle: dict, resource: dict) -> dict:
    out = copy.deepcopy(bundle)
    out["entry"].append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return out


def _condition(rid: str, code: str, system: str = ICD10) -> dict:
    return {"resourceType": "Condition", "id": rid, "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2026-10-01"}


def _observation(rid: str, code: str, **value: Any) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": "2026-11-01T09:00:00+08:00",
            "subject": {"reference": "Patient/p1"}, **value}


SEVERE_BP = (CaseFact(concept="sbp", value=185), CaseFact(concept="dbp", value=115))
URGENT_CARE = "htn-community/referral/severe-bp-urgent-care"
PREGNANCY_REFER = "htn-community/referral/severe-bp-pregnancy-refer"
ACEI_ALERT = "medication-safety/medication/acei-arb-pregnancy-lactation"


def _rules(bundle: dict) -> set[str]:
    return {s.rule_id for s in evaluate(bundle, now=NOW, registry=REG).suggestions}


# --- E1 / population scope: unknown pregnancy status gets a caution, from data ----------------------------

def test_e1_woman_of_unknown_pregnancy_status_gets_a_caution_in_json_and_text():
    result = evaluate(_patient(30, "female", SEVERE_BP), now=NOW, registry=REG)
    (s,) = [s for s in result.suggestions if s.rule_id == URGENT_CARE]
    assert s.cautions and "妊娠" in s.cautions[0]["zh"] and "pregnan" in s.cautions[0]["en"]
    assert s.model_dump(mode="json")["cautions"] == [dict(c) for c in s.cautions]
    assert s.cautions[0]["zh"] in render_text(result)


def test_e1_man_and_woman_confirmed_not_pregnant_get_no_caution():
    man = evaluate(_patient(30, "male", SEVERE_BP), now=NOW, registry=REG)
    not_pregnant = _add(_patient(30, "female", SEVERE_BP),
                        _observation("ps", "82810-3", valueCodeableConcept={"coding": [{"system": LOINC,
                                                                                        "code": "LA26683-5"}]}))
    woman = evaluate(not_pregnant, now=NOW, registry=REG)
    for result in (man, woman):
        (s,) = [s for s in result.suggestions if s.rule_id == URGENT_CARE]
        assert s.cautions == ()
        assert "cautions" not in s.model_dump(mode="json")


def test_e1_unknown_age_against_an_age_bound_is_a_data_gap_not_advice():
    bundle = _patient(30, "male", SEVERE_BP)
    del bundle["entry"][0]["resource"]["birthDate"]
    result = evaluate(bundle, now=NOW, registry=REG)
    assert URGENT_CARE not in {s.rule_id for s in result.suggestions}
    assert any(g.concept == "age_years" and URGENT_CARE in g.rules for g in result.data_gaps)


def test_e1_the_contradiction_property_finds_captopril_in_pregnancy_when_the_scope_is_removed(tmp_path: Path):
    folder = tmp_path / "htn-community"
    shutil.copytree(ROOT / "pathways" / "htn-community", folder)
    rules = folder / "rules" / "referral.yaml"
    text = rules.read_text(encoding="utf-8")
    scoped = "    population: {age_years: {min: 18}, pregnant: exclude, lactating: exclude}\n"
    start = text.index("  - id: severe-bp-urgent-care\n")  # the captopril card's own scope, not its twin's
    at = text.index(scoped, start)
    rules.write_text(text[:at] + "    population: {}\n" + text[at + len(scoped):], encoding="utf-8")
    pack = load_pack(folder, REG.concepts, REG.catalogue)
    results = check_pack_properties(pack, REG, examples=10, groups=("safety",))
    broken = [r for r in results if r.status == "failed" and r.rule == URGENT_CARE]
    assert broken and ACEI_ALERT in broken[0].message


def test_loader_refuses_a_treatment_rule_without_scope(tmp_path: Path):
    folder = tmp_path / "htn-community"
    shutil.copytree(ROOT / "pathways" / "htn-community", folder)
    rules = folder / "rules" / "treatment.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("    population: {age_years: {min: 18}, pregnant: exclude}\n", "", 1),
                     encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_pack(folder, REG.concepts, REG.catalogue)
    (problem,) = [p for p in err.value.problems if p.code == "missing-scope"]
    assert problem.file.endswith("treatment.yaml") and problem.line and problem.col
    result = runner.invoke(app, ["pack", "validate", str(folder)])
    assert result.exit_code == 1 and "[missing-scope]" in result.output + (result.stderr or "")


# --- E4: pregnancy from every common coding -------------------------------------------------------------

@pytest.mark.parametrize("resource", [
    _condition("z34", "Z34.0"), _condition("z32", "Z32.1"), _condition("z35", "Z35.9"), _condition("o13", "O13"),
    _condition("o24", "O24.4"), _condition("sct", "77386006", "http://snomed.info/sct"),
    _observation("ps", "82810-3", valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA15173-0"}]}),
    _observation("edd", "11778-8", valueDateTime="2027-03-01"),
], ids=["Z34.0", "Z32.1", "Z35.9", "O13", "O24.4", "SNOMED-77386006", "LOINC-82810-3-LA15173-0", "EDD-future"])
def test_e4_pregnancy_is_recognised_from_every_common_coding(resource: dict):
    bundle = _add(_patient(30, "female", (CaseFact(has="acei"), *SEVERE_BP)), resource)
    fired = _rules(bundle)
    assert ACEI_ALERT in fired  # scenario I: Z34.0 + enalapril gave no alert
    assert PREGNANCY_REFER in fired and URGENT_CARE not in fired


def test_e4_a_past_delivery_date_and_delivery_codes_are_not_a_pregnancy():
    past = _add(_patient(30, "female", SEVERE_BP), _observation("edd", "11778-8", valueDateTime="2026-06-01"))
    delivered = _add(_patient(30, "female", SEVERE_BP), _condition("o80", "O80"))
    for bundle in (past, delivered):
        assert PREGNANCY_REFER not in _rules(bundle)


# --- E3, E6: value sets ----------------------------------------------------------------------------------

def test_e3_throat_pain_r07_0_is_not_chest_pain_nor_dissection():
    bundle = _add(_patient(50, "female", (CaseFact(concept="sbp", value=146), CaseFact(concept="dbp", value=88))),
                  _condition("r070", "R07.0"))
    fired = _rules(bundle)
    assert not {r for r in fired if "chest-back-pain" in r}
    assert REG.concepts.match([{"system": ICD10, "code": "R07.0"}]) == ()
    assert REG.concepts.match([{"system": ICD10, "code": "R07.4"}]) == ("chest_pain",)


def test_e6_sequelae_of_intracerebral_haemorrhage_i69_1_get_no_antiplatelet():
    bundle = _add(_patient(66, "male"), _condition("i691", "I69.1"))
    assert "stroke-befast/treatment/antiplatelet-non-cardioembolic" not in _rules(bundle)
    ischaemic = _add(_patient(66, "male"), _condition("i693", "I69.3"))
    assert "stroke-befast/treatment/antiplatelet-non-cardioembolic" in _rules(ischaemic)


def test_e8_evidence_marks_are_not_higher_than_their_inputs():
    marks = {r.full_id: r.rule.evidence for p in REG.select() for r in p.rules}
    assert marks["t2dm-community/referral/severe-hypoglycaemia"] == "unverified"
    assert marks["lipids-community/treatment/low-risk-ldl-above-3-4"] == "unverified"


# --- whose data ------------------------------------------------------------------------------------------

def _other_patients_bp() -> dict:
    obs = _observation("bp-x", "8480-6", valueQuantity={"value": 190, "unit": "mm[Hg]",
                                                       "system": "http://unitsofmeasure.org", "code": "mm[Hg]"})
    obs["subject"] = {"reference": "Patient/someone-else"}
    return _add(_patient(60, "male"), obs)


def test_a_resource_about_another_patient_is_refused_with_its_fhir_path():
    with pytest.raises(IntakeError) as err:
        evaluate(_other_patients_bp(), now=NOW, registry=REG)
    (problem,) = err.value.problems
    assert problem.code == "other-patient"
    assert problem.field == "Bundle.entry[1].resource.subject.reference"


@pytest.mark.parametrize("ref", ["Patient/p1", "urn:uuid:p1", "https://ehr.example/fhir/Patient/p1/_history/2"])
def test_references_to_the_patient_by_id_or_full_url_are_accepted(ref: str):
    obs = _observation("bp-1", "8480-6", valueQuantity={"value": 120, "unit": "mm[Hg]",
                                                       "system": "http://unitsofmeasure.org", "code": "mm[Hg]"})
    obs["subject"] = {"reference": ref}
    evaluate(_add(_patient(60, "male"), obs), now=NOW, registry=REG)


def test_cli_exits_2_naming_the_fhir_path(tmp_path: Path):
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(_other_patients_bp()), encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(path), "--now", NOW.isoformat()])
    assert result.exit_code == 2
    assert "Bundle.entry[1].resource.subject.reference" in result.output + (result.stderr or "")


def test_service_answers_422_operation_outcome(client):  # noqa: F811
    from tests.unit.service.support import load_hook

    hook = load_hook("patient-view-emergency.json")
    obs = hook["prefetch"]["observations"]["entry"][0]["resource"]
    obs["subject"] = {"reference": "Patient/someone-else"}
    response = client.post("/cds-services/cdss-patient-view", json=hook)
    assert response.status_code == 422
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "other-patient" in json.dumps(body)


# --- the deceased ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [{"deceasedBoolean": True}, {"deceasedDateTime": "2026-11-20"}])
def test_a_deceased_patient_gets_no_advice_only_a_note(extra: dict):
    result = evaluate(_patient(70, "male", SEVERE_BP, **extra), now=NOW, registry=REG)
    assert result.suggestions == () and result.data_gaps == ()
    assert len(result.notes) == 1 and "deceased" in result.notes[0] and "死亡" in result.notes[0]


def test_a_death_recorded_after_the_evaluation_time_does_not_hide_advice():
    result = evaluate(_patient(70, "male", SEVERE_BP, deceasedDateTime="2026-12-30"), now=NOW, registry=REG)
    assert URGENT_CARE in {s.rule_id for s in result.suggestions}


# --- supersedes (E2 across packs) --------------------------------------------------------------------------

def test_e2_superseded_advice_moves_to_the_superseded_list_with_by_what():
    facts = (*SEVERE_BP, CaseFact(has="hypertension", days_ago=900), CaseFact(has="severe_headache"))
    result = evaluate(_patient(68, "male", facts), now=NOW, registry=REG)
    assert URGENT_CARE not in {s.rule_id for s in result.suggestions}
    (gone,) = [s for s in result.superseded if s.rule_id == URGENT_CARE]
    assert any("ambulance-bp-neurological" in by for by in gone.superseded_by)
    data = result.model_dump(mode="json")
    assert data["superseded"][0]["superseded_by"] == list(gone.superseded_by)
    assert "Superseded" in render_text(result)


def test_e3_one_dissection_card_not_two():
    facts = (CaseFact(has="severe_chest_back_pain"), CaseFact(concept="sbp", value=170),
             CaseFact(concept="dbp", value=95))
    fired = _rules(_patient(60, "male", facts))
    assert "chest-pain-red-flags/referral/raised-bp-chest-back-pain" in fired
    assert "htn-community/referral/ambulance-chest-back-pain" not in fired


# --- same-time readings ------------------------------------------------------------------------------------

def _two_readings(first: str, second: str, order: tuple[int, int]) -> dict:
    bundle = _patient(55, "male", (CaseFact(has="hypertension", days_ago=900),))
    readings = []
    for rid, sbp in ((first, 135.0), (second, 145.0)):
        readings.append(_observation(rid, "8480-6", valueQuantity={"value": sbp, "unit": "mm[Hg]",
                                                                   "system": "http://unitsofmeasure.org",
                                                                   "code": "mm[Hg]"}))
    readings.append(_observation("dbp", "8462-4", valueQuantity={"value": 80, "unit": "mm[Hg]",
                                                                 "system": "http://unitsofmeasure.org",
                                                                 "code": "mm[Hg]"}))
    for i in (*order, 2):
        bundle = _add(bundle, readings[i])
    return bundle


def test_same_time_readings_give_the_same_advice_whatever_their_ids_and_order():
    variants = [_two_readings(a, b, o) for a, b in (("obs-a", "obs-b"), ("obs-b", "obs-a")) for o in ((0, 1), (1, 0))]
    results = [evaluate(v, now=NOW, registry=REG) for v in variants]
    advice = [sorted(s.rule_id for s in r.suggestions) for r in results]
    assert all(a == advice[0] for a in advice)
    # the policy: the mean of same-time readings (140), which is "not at target <140/90"
    assert "htn-community/pathway/follow-up-uncontrolled" in advice[0]
    assert "htn-community/pathway/follow-up-controlled" not in advice[0]


def test_fixture_bundles_still_read():
    bundle = json.loads((FIXTURES / "bundles" / "htn-emergency.json").read_text(encoding="utf-8"))
    assert evaluate(bundle, now=NOW, registry=REG).suggestions
