"""The differential: textbook presentations rank the intended condition first, a decisive finding against
drops it, the next test once recorded raises the score, red flags stay above it in every output."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import Registry, load_registry
from cdss.render.cds_hooks import render_cards
from cdss.render.fhir import guidance_bundle
from cdss.render.json import render_json
from cdss.render.text import render_text
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW, ROOT


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The diabetes and hypertension packs (the red-flag BP referral lives in the hypertension pack)."""
    return load_registry([ROOT / "pathways" / "t2dm-community", ROOT / "pathways" / "htn-community"],
                         bundled=False)


def run(registry: Any, facts: list[dict[str, Any]], age: int = 52, sex: str = "male") -> Any:
    bundle = bundle_from_facts([CaseFact.model_validate(f) for f in facts], concepts=registry.concepts, now=NOW,
                               age_years=age, sex=sex)
    return evaluate(bundle, now=NOW, registry=registry)


def by_id(ev: Any) -> dict[str, Any]:
    return {c.disease.id: c for c in ev.differential}


ONE_FPG = [{"concept": "fpg", "value": 7.4, "days_ago": 1}]


def test_one_raised_fpg_ranks_diabetes_first_with_its_evidence_and_next_test(registry: Any) -> None:
    ev = run(registry, ONE_FPG)
    first = ev.differential[0]
    assert first.disease.id == "type-2-diabetes"
    assert first.status == "possible" and 0 < first.score < 1
    assert {f.value for c in first.for_ for f in c.facts} == {7.4}
    assert first.for_[0].facts[0].unit == "mmol/L" and first.for_[0].facts[0].source
    # either question decides it: classic symptoms (one FPG then suffices) or a second FPG on another day
    assert first.next_test is not None and first.next_test.concept in ("classic_diabetes_symptoms", "fpg")
    assert first.next_test.score_if_met == 1.0
    # symptoms not in the record are a question to ask, never a finding against
    assert any(u.concept == "classic_diabetes_symptoms" and u.reason == "not-recorded" for u in first.unknown)
    assert not any(a.concept == "classic_diabetes_symptoms" for a in first.against)


def test_bp_raised_on_too_few_days_asks_for_another_day(registry: Any) -> None:
    bp = [{"concept": "sbp", "value": 150, "days_ago": 14}, {"concept": "dbp", "value": 95, "days_ago": 14},
          {"concept": "sbp", "value": 152, "days_ago": 7}, {"concept": "dbp", "value": 96, "days_ago": 7}]
    htn = by_id(run(registry, bp, age=58))["hypertension"]
    assert htn.status == "possible" and htn.score == 0.5
    assert htn.next_test is not None and htn.next_test.concept in ("sbp", "dbp")
    assert "another day" in htn.next_test.title["en"] and "另一天" in htn.next_test.title["zh"]


def test_the_next_test_once_recorded_raises_the_score(registry: Any) -> None:
    before = by_id(run(registry, ONE_FPG))["type-2-diabetes"]
    after = by_id(run(registry, [*ONE_FPG, {"concept": "fpg", "value": 7.4, "days_ago": 8}]))["type-2-diabetes"]
    assert after.score > before.score
    assert after.status == "met" and after.next_test is None


def test_a_decisive_finding_against_drops_the_condition(registry: Any) -> None:
    ev = run(registry, [{"concept": "fpg", "value": 7.4, "days_ago": 10},
                        {"concept": "fpg", "value": 5.0, "days_ago": 1}])
    assert "type-2-diabetes" not in by_id(ev)


def test_a_known_diagnosis_is_not_a_differential(registry: Any) -> None:
    ev = run(registry, [{"has": "diabetes", "days_ago": 400}, *ONE_FPG])
    assert "type-2-diabetes" not in by_id(ev)


def test_false_criteria_are_findings_against(registry: Any) -> None:
    ev = run(registry, [{"has": "classic_diabetes_symptoms", "days_ago": 3}, {"concept": "glucose", "value": 9.0,
                                                                             "days_ago": 1}])
    t2dm = by_id(ev)["type-2-diabetes"]
    assert any(c.concept == "glucose" and c.outcome == "false" for c in t2dm.against)
    assert any(c.concept == "classic_diabetes_symptoms" for c in t2dm.for_)


def test_no_findings_no_differential(registry: Any) -> None:
    assert run(registry, []).differential == ()


def test_json_contract_lists_the_differential(registry: Any) -> None:
    out = json.loads(render_json(run(registry, ONE_FPG)))
    first = out["differential"][0]
    assert {"condition", "code", "score", "for", "against", "unknown", "next_test"} <= set(first)
    assert first["condition"]["id"] == "type-2-diabetes"
    assert set(out) >= {"suggestions", "data_gaps", "notes"}  # nothing renamed or removed


def test_order_of_resources_does_not_change_the_differential(registry: Any) -> None:
    facts = [{"has": "classic_diabetes_symptoms", "days_ago": 3}, *ONE_FPG, {"concept": "sbp", "value": 150,
                                                                              "days_ago": 2}]
    bundle = bundle_from_facts([CaseFact.model_validate(f) for f in facts], concepts=registry.concepts, now=NOW,
                               age_years=52, sex="male")
    shuffled = {**bundle, "entry": list(reversed(bundle["entry"]))}
    a = evaluate(bundle, now=NOW, registry=registry).model_dump(mode="json")["differential"]
    assert a and a == evaluate(shuffled, now=NOW, registry=registry).model_dump(mode="json")["differential"]


RED_FLAG = [{"concept": "sbp", "value": 196, "days_ago": 0}, {"concept": "dbp", "value": 122, "days_ago": 0},
            {"has": "severe_headache", "days_ago": 0}, *ONE_FPG]


def test_red_flags_stay_above_the_differential_in_text(registry: Any) -> None:
    ev = run(registry, RED_FLAG, age=68)
    assert ev.suggestions[0].urgency == "emergency" and ev.differential
    text = render_text(ev)
    assert text.index(ev.suggestions[0].title["zh"]) < text.index("鉴别诊断")


@pytest.mark.parametrize("hook, shown", [("patient-view", True), ("encounter-start", True),
                                         ("order-sign", False), (None, False)])
def test_one_info_card_last_on_patient_view_and_encounter_start(registry: Any, hook: str | None, shown: bool) -> None:
    ev = run(registry, RED_FLAG, age=68)
    cards = render_cards(ev, hook_instance="h1", panel_url=None, hook=hook).body["cards"]
    ddx = [c for c in cards if c["summary"].startswith("鉴别诊断")]
    assert len(ddx) == (1 if shown else 0)
    if shown:
        assert cards[-1] is ddx[0] and ddx[0]["indicator"] == "info"
        assert cards[0]["indicator"] == "critical"
        assert ddx[0]["detail"].count("\n1. ") + ddx[0]["detail"].count("\n2. ") + \
            ddx[0]["detail"].count("\n3. ") + ddx[0]["detail"].count("\n4. ") <= 3


@pytest.mark.parametrize("version, model", [("R4", r4b_model), ("R5", r5_model)])
def test_fhir_candidates_are_differential_conditions(registry: Any, version: str, model: Any) -> None:
    ev = run(registry, ONE_FPG)
    out = guidance_bundle(ev, version=version)  # type: ignore[arg-type]
    model("Bundle").model_validate(out)
    conditions = [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "Condition"]
    ddx = [c for c in conditions if c["verificationStatus"]["coding"][0]["code"] == "differential"]
    assert len(ddx) == len(ev.differential) > 0
    for c in ddx:
        model("Condition").model_validate(c)
    assert ddx[0]["code"]["text"].startswith(ev.differential[0].disease.display)


def test_same_input_same_bytes(registry: Any) -> None:
    assert render_json(run(registry, RED_FLAG)) == render_json(run(registry, RED_FLAG))


def test_now_is_only_what_counts(registry: Any) -> None:
    later = NOW + dt.timedelta(days=400)  # the FPG is older than the 90 days the rules allow: nothing for
    bundle = bundle_from_facts([CaseFact.model_validate(f) for f in ONE_FPG], concepts=registry.concepts, now=NOW,
                               age_years=52, sex="male")
    assert "type-2-diabetes" not in by_id(evaluate(bundle, now=later, registry=registry))
