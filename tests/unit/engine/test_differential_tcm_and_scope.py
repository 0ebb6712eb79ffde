"""The differential is generic over `diagnosis` rules: a TCM catalogue disease takes part as disease +
syndrome; a rule's own age test that is false keeps it out; `in_scope` (the population scope, once it lands)
keeps a rule out. A tiny test pack, written here (fictitious content, for the engine only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdss.engine.differential import build_differential
from cdss.engine.evaluate import evaluate
from cdss.packs.registry import Registry, load_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

PACK = """\
id: test-ddx
version: 1.0.0
effective: 2026-11-22
status: active
title: {zh: 测试, en: Test}
sources:
  - {id: test, title: "Test source - fictitious, engine test only", year: 2026}
"""
RULES = """\
derived:
  - id: test_red_flags
    title: {zh: 测试危险征象, en: Test red flags}
    combine: max
    parts:
      - {label: {zh: 胸痛, en: chest pain}, points: 1, when: {has: chest_pain}}
    citation: {source: test, section: test}
    evidence: unverified
rules:
  - id: tcm-cough-no-red-flags
    then:
      kind: diagnosis
      urgency: routine
      disease: tcm-kesou
      title: {zh: 咳嗽病（测试）, en: Cough disease (test)}
      detail: {zh: 测试, en: test}
    when:
      all:
        - {concept: test_red_flags, op: "==", value: 0}
        - {has: cough}
    citation: {source: test, section: test}
    evidence: unverified
  - id: tcm-cold-wind-cold
    then:
      kind: diagnosis
      urgency: routine
      disease: tcm-ganmao
      title: {zh: 感冒 风寒束表证（测试）, en: "Common cold, wind-cold (test)"}
      detail: {zh: 测试, en: test}
    when:
      all:
        - {concept: age_years, op: ">=", value: 18}
        - {has: fever}
        - {has: cough}
    citation: {source: test, section: test}
    evidence: unverified
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root: Path = tmp_path_factory.mktemp("packs") / "test-ddx"
    (root / "rules").mkdir(parents=True)
    (root / "pack.yaml").write_text(PACK, encoding="utf-8")
    (root / "rules" / "diagnosis.yaml").write_text(RULES, encoding="utf-8")
    return load_registry([root.parent], bundled=False)


def run(registry: Registry, age: int, **kw: Any) -> Any:
    facts = [CaseFact.model_validate({"has": "fever", "days_ago": 1})]
    bundle = bundle_from_facts(facts, concepts=registry.concepts, now=NOW, age_years=age, sex="female")
    return evaluate(bundle, now=NOW, registry=registry, **kw)


def test_a_tcm_disease_takes_part_with_its_syndrome(registry: Registry) -> None:
    (c,) = [c for c in run(registry, 40).differential if c.disease.id == "tcm-ganmao"]
    assert (c.disease.id, c.kind, c.syndrome, c.status) == ("tcm-ganmao", "tcm", "风寒束表证", "possible")
    assert c.disease.system != "urn:cdss:local" and c.score == 0.5
    assert c.next_test is not None and c.next_test.concept == "cough"
    assert c.model_dump(mode="json")["syndrome"] == "风寒束表证"


def test_a_condition_met_only_by_a_derived_absence_is_not_listed(registry: Registry) -> None:
    # "no red flags" (a derived score of 0) holds for the patient, the cough is not recorded: no finding
    assert "tcm-kesou" not in {c.disease.id for c in run(registry, 40).differential}


def test_a_false_age_test_keeps_the_rule_out(registry: Registry) -> None:
    assert run(registry, 12).differential == ()


def test_out_of_scope_rules_take_no_part(registry: Registry) -> None:
    from cdss.engine import evaluate as engine

    ev = run(registry, 40)
    assert ev.differential
    build = engine.build_differential
    try:
        engine.build_differential = lambda runs, reg: build_differential(runs, reg, in_scope=lambda r: False)
        assert run(registry, 40).differential == ()
    finally:
        engine.build_differential = build
