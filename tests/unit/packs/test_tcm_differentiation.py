"""tcm-differentiation: Western triage first. No TCM diagnosis is suggested while a modern red flag of that
presentation is present (a pack-level rule, checked on the rules' structure and on generated patients)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import load_registry
from cdss.packs.schema import AllOf, AnyOf, Leaf
from cdss.testing.factories import CaseFact, bundle_from_facts

ROOT = Path(__file__).resolve().parents[3]
PACK_DIR = ROOT / "pathways" / "tcm-differentiation"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(scope="module")
def reg():
    return load_registry([PACK_DIR], bundled=False)


@pytest.fixture(scope="module")
def pack(reg):
    return reg.select(["tcm-differentiation"])[0]


def _red_flag_fact(cond) -> list[CaseFact]:
    """Facts that make one red-flag part true."""
    if isinstance(cond, AllOf):
        return [f for c in cond.all for f in _red_flag_fact(c)]
    if isinstance(cond, AnyOf):
        return _red_flag_fact(cond.any[0])
    assert isinstance(cond, Leaf)
    if cond.has is not None:
        return [CaseFact(has=cond.has)]
    value = float(cond.value)
    return [CaseFact(concept=cond.concept, value=value + 5 if cond.op in (">=", ">") else value - 5)]


def test_every_tcm_diagnosis_rule_requires_the_red_flags_of_its_presentation_absent(pack):
    """Structure: each diagnosis rule tests `<condition>_redflags == 0` at its top level."""
    missing = []
    for prule in pack.rules:
        rule = prule.rule
        if rule.then.kind != "diagnosis":
            continue
        top = rule.when.all if isinstance(rule.when, AllOf) else (rule.when,)
        if not any(isinstance(c, Leaf) and (c.concept or "").endswith("_redflags") and c.op == "==" and c.value == 0
                   for c in top):
            missing.append(prule.full_id)
    assert not missing


def _syndrome_cases() -> list[dict]:
    out = []
    for path in sorted((PACK_DIR / "cases").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text("utf-8"))["cases"]:
            first = (case.get("expect") or [{}])[0]
            if first.get("rule", "").startswith("diagnosis/") and "disease" in first and "facts" in case["patient"]:
                out.append(case)
    return out


CASES = _syndrome_cases()


@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(CASES), data=st.data())
def test_adding_any_red_flag_stops_every_tcm_suggestion_for_that_disease(reg, pack, case, data):
    disease = case["expect"][0]["disease"]
    slug = disease.removeprefix("tcm-").replace("-", "_")
    flags = next(d for d in pack.derived if d.id == f"tcm_{slug}_redflags")
    part = data.draw(st.sampled_from(flags.parts))
    facts = [CaseFact(**f) for f in case["patient"]["facts"]]
    extra = _red_flag_fact(part.when)
    facts = [f for f in facts if f.concept not in {e.concept for e in extra if e.concept}] + extra
    age = case["patient"]["age_years"]
    if any(e.concept == "age_years" for e in extra):  # "under 6 months" is the red flag
        facts = [f for f in facts if f.concept != "age_years"]
        age = 0.3
    bundle = bundle_from_facts(facts, concepts=reg.concepts, now=NOW, age_years=age, sex=case["patient"]["sex"])
    result = evaluate(bundle, now=NOW, registry=reg, pins=["tcm-differentiation"])
    about = [s for s in result.suggestions if s.disease is not None and s.disease.id == disease]
    assert not [s.rule_id for s in about if s.kind == "diagnosis"]
    assert [s for s in about if s.kind == "referral"], "the red flag must lead to Western assessment / referral"


def test_without_red_flags_each_example_syndrome_fires(reg):
    case = next(c for c in CASES if c["id"] == "fengxuan-ganyang")
    facts = [CaseFact(**f) for f in case["patient"]["facts"]]
    bundle = bundle_from_facts(facts, concepts=reg.concepts, now=NOW, age_years=45, sex="male")
    result = evaluate(bundle, now=NOW, registry=reg, pins=["tcm-differentiation"])
    ids = {s.rule_id for s in result.suggestions}
    assert "tcm-differentiation/diagnosis/fengxuan-ganyang" in ids
    s = next(s for s in result.suggestions if s.rule_id.endswith("fengxuan-ganyang"))
    assert s.disease.code == "A04.02.01" and "天麻钩藤饮" in s.title["zh"]


def test_dizziness_without_a_bp_today_is_a_gap_not_advice(reg):
    """眩晕: BP >=180/110 is a red flag, so without a BP reading today no TCM suggestion is made."""
    facts = [CaseFact(has="tcm_dizziness"), CaseFact(has="tcm_tinnitus"), CaseFact(has="tcm_tongue_red"),
             CaseFact(has="tcm_coating_yellow"), CaseFact(has="tcm_pulse_wiry"),
             CaseFact(concept="sbp", value=130, days_ago=3)]
    bundle = bundle_from_facts(facts, concepts=reg.concepts, now=NOW, age_years=60, sex="female")
    result = evaluate(bundle, now=NOW, registry=reg, pins=["tcm-differentiation"])
    assert not [s for s in result.suggestions if s.kind == "diagnosis" and "fengxuan" in s.rule_id]
    assert {g.concept for g in result.data_gaps} >= {"sbp", "dbp"}
