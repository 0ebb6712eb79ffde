"""Engine: suggestions, their order and rationale, data gaps, pinning, and large packs."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from cdss.engine.compile import compile_pack
from cdss.engine.durable import MAX_RULES_PER_RULESET, rulesets_for
from cdss.engine.evaluate import evaluate
from cdss.errors import ConfigError, EngineError
from cdss.packs.registry import load_registry
from tests.conftest import load_bundle

HTN = "htn-community"


def _htn(registry, name, now):
    return evaluate(load_bundle(name), now=now, registry=registry, pins=[HTN])


def test_evaluate_emergency_comes_first_with_rule_facts_and_source(registry, now):
    result = _htn(registry, "htn-emergency.json", now)
    first = result.suggestions[0]
    assert (first.urgency, first.kind) == ("emergency", "referral")
    assert first.rule == "htn-community@1.3.0#htn-community/referral/ambulance-bp-neurological"
    assert first.disease is not None and first.disease.code == "I10"
    facts = {(f.concept, f.value, f.source) for f in first.facts()}
    assert ("sbp", 196.0, ("Observation/bp2",)) in facts
    assert ("severe_headache", True, ("Condition/c-headache",)) in facts
    assert first.citations[0].source == "htn-national-2017" and first.evidence == "secondary"


def test_evaluate_orders_by_urgency_then_kind_then_id(registry, now):
    result = _htn(registry, "htn-emergency.json", now)
    keys = [s.sort_key() for s in result.suggestions]
    assert keys == sorted(keys)


def test_evaluate_healthy_adult_gets_no_diagnosis_treatment_or_referral(registry, now):
    result = evaluate(load_bundle("healthy-adult.json"), now=now, registry=registry)
    assert not [s for s in result.suggestions if s.kind in ("diagnosis", "treatment", "referral")]


def test_evaluate_new_diagnosis_from_three_days(registry, now):
    result = _htn(registry, "htn-new-diagnosis.json", now)
    assert [s.rule_id for s in result.suggestions if s.kind == "diagnosis"] == [
        "htn-community/diagnosis/office-bp-three-days"]


def test_evaluate_without_bp_today_reports_a_gap_not_an_emergency(registry, now):
    bundle = load_bundle("htn-emergency.json")
    bp_today = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "bp2")
    bp_today["effectiveDateTime"] = "2026-11-19T08:40:00+08:00"  # three days old; the headache is today
    result = evaluate(bundle, now=now, registry=registry, pins=[HTN])
    assert not [s for s in result.suggestions if s.urgency == "emergency"]
    gaps = {(g.concept, g.reason) for g in result.data_gaps}
    assert ("sbp", "stale") in gaps
    sbp_gap = next(g for g in result.data_gaps if g.concept == "sbp")
    assert "htn-community/referral/ambulance-bp-neurological" in sbp_gap.rules
    assert sbp_gap.urgency == "emergency"


def test_evaluate_is_byte_for_byte_deterministic(registry, now):
    bundle = load_bundle("htn-emergency.json")
    runs = {json.dumps(evaluate(bundle, now=now, registry=registry).model_dump(mode="json"), ensure_ascii=False)
            for _ in range(3)}
    assert len(runs) == 1


def test_evaluate_ids_depend_on_content(registry, now):
    a = _htn(registry, "htn-emergency.json", now)
    b = _htn(registry, "htn-controlled.json", now)
    assert {s.id for s in a.suggestions}.isdisjoint({s.id for s in b.suggestions})


def test_evaluate_unknown_pin_is_an_engine_error_with_hint(registry, now):
    with pytest.raises(EngineError) as info:
        evaluate(load_bundle("healthy-adult.json"), now=now, registry=registry, pins=["htn-comunity@1.0.0"])
    assert info.value.code == "unknown-pack"
    assert "did you mean 'htn-community'" in str(info.value)


def test_evaluate_naive_time_is_refused(registry):
    with pytest.raises(ConfigError):
        evaluate(load_bundle("healthy-adult.json"), now=dt.datetime(2026, 11, 22), registry=registry)


def test_evaluate_pack_larger_than_one_ruleset_is_split(tmp_path: Path, now):
    """A pack with more tests than durable-rules can hold in one ruleset (it hangs at ~512) still runs."""
    src = Path(__file__).resolve().parents[3] / "pathways" / HTN
    dst = tmp_path / "big"
    shutil.copytree(src, dst)
    (dst / "cases").exists() and shutil.rmtree(dst / "cases")
    text = (dst / "pack.yaml").read_text().replace("id: htn-community", "id: big-pack")
    (dst / "pack.yaml").write_text(text)
    rules = ["rules:"]
    for i in range(600):
        rules.append(f"""  - id: r{i}
    then: {{kind: screening, urgency: info, title: {{zh: t{i}, en: t{i}}}, detail: {{zh: d, en: d}}}}
    when: {{concept: sbp, op: ">=", value: {100 + i * 0.25}, within_days: 1}}
    citation: {{source: htn-primary-2019, section: test}}
    evidence: unverified""")
    (dst / "rules" / "many.yaml").write_text("\n".join(rules) + "\n")
    registry = load_registry([tmp_path], bundled=False)
    pack = registry.select(["big-pack"])[0]
    compiled = compile_pack(pack)
    prepared = [p for group in compiled.groups.values() for p in rulesets_for(group)]
    assert all(len(p.ruleset.rules) <= MAX_RULES_PER_RULESET for p in prepared)
    assert len(prepared) >= 3
    result = evaluate(load_bundle("htn-emergency.json"), now=now, registry=registry, pins=["big-pack"])
    fired = {s.rule_id for s in result.suggestions if s.rule_id.startswith("big-pack/screening/")}
    # SBP today is 196: thresholds 100 .. 196 fire (385 of them), none above.
    assert len(fired) == sum(1 for i in range(600) if 100 + i * 0.25 <= 196)


def test_bundle_from_facts_on_29_february_gives_the_right_age(registry):
    from cdss.intake.bundle import read_bundle
    from cdss.testing.factories import bundle_from_facts

    leap = dt.datetime(2028, 2, 29, 9, 0, tzinfo=dt.UTC)
    facts = read_bundle(bundle_from_facts([], concepts=registry.concepts, now=leap, age_years=40), registry.concepts)
    assert facts.age_years(leap) == 40


def test_evaluate_more_than_1024_times_in_one_process(now):
    """Regression: sessions whose facts fired no rule used to stay in durable-rules, which failed with
    MemoryError after 1,024 evaluations (a long-running service would have stopped advising)."""
    from cdss.engine.evaluate import evaluate_facts
    from cdss.intake.bundle import read_bundle

    registry = load_registry([Path(__file__).resolve().parents[3] / "pathways" / "paediatric-danger-signs"],
                             bundled=False)
    facts = read_bundle(load_bundle("healthy-adult.json"), registry.concepts)
    packs = registry.select()
    results = {json.dumps(evaluate_facts(facts, now=now, registry=registry, packs=packs).model_dump(mode="json"))
               for _ in range(1100)}
    assert len(results) == 1
