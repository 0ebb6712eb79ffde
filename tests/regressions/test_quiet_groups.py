"""Regression: a quiet differential group is left out only when it gives the patient no candidate.

A group none of whose diagnosis rules tests a concept of the record, except the Patient's age and sex, is
*quiet* (`cdss.engine.plan.QuietGroup`): whether it gives a candidate depends only on which of its rules the
population scopes exclude and on the outcomes of its age and sex tests. The evaluation keeps that answer per
`plan.silent_key` for the process. Two patients with the same record but another age, or another sex
that a rule's population reads, must each get their own answer, whatever came before; and every answer
must be the one walking every rule gives (`index=False`). A tiny test pack, written here (fictitious content,
for the engine only).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cdss.engine.evaluate import _Evaluation, evaluate_facts
from cdss.engine.matcher import PlainMatcher
from cdss.engine.population import prepare
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import Registry, load_registry
from cdss.packs.scope import load_safety_settings
from cdss.render.json import render_json
from cdss.testing.factories import bundle_from_facts

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)

PACK = """\
id: test-quiet
version: 1.0.0
effective: 2026-11-22
status: active
title: {zh: 测试, en: Test}
sources:
  - {id: test, title: "Test source - fictitious, engine test only", year: 2026}
"""
RULES = """\
rules:
  - id: cold-from-age-alone
    then:
      kind: diagnosis
      urgency: routine
      disease: tcm-ganmao
      title: {zh: 感冒（测试）, en: Common cold (test)}
      detail: {zh: 测试, en: test}
    when: {concept: age_years, op: ">=", value: 65}
    citation: {source: test, section: test}
    evidence: unverified
  - id: cough-for-women-only
    then:
      kind: diagnosis
      urgency: routine
      disease: tcm-kesou
      title: {zh: 咳嗽病（测试）, en: Cough disease (test)}
      detail: {zh: 测试, en: test}
    population: {sex: [female]}
    when: {concept: age_years, op: ">=", value: 18}
    citation: {source: test, section: test}
    evidence: unverified
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root: Path = tmp_path_factory.mktemp("packs") / "test-quiet"
    (root / "rules").mkdir(parents=True)
    (root / "pack.yaml").write_text(PACK, encoding="utf-8")
    (root / "rules" / "diagnosis.yaml").write_text(RULES, encoding="utf-8")
    return load_registry([root.parent], bundled=False)


def candidates(registry: Registry, age: int, sex: str) -> list[str]:
    """The differential's diseases for a patient with no data but age and sex; the same with and without
    the index, byte for byte."""
    bundle = bundle_from_facts([], concepts=registry.concepts, now=NOW, age_years=age, sex=sex)
    facts = read_bundle(bundle, registry.concepts)
    indexed, full = (render_json(evaluate_facts(facts, now=NOW, registry=registry, packs=registry.select(),
                                                matcher=PlainMatcher(), index=index)) for index in (True, False))
    assert indexed == full
    return [c["condition"]["id"] for c in json.loads(indexed)["differential"]]


def test_both_groups_are_quiet_for_a_record_without_data(registry: Registry) -> None:
    facts = read_bundle(bundle_from_facts([], concepts=registry.concepts, now=NOW, age_years=40, sex="male"),
                        registry.concepts)
    state = _Evaluation(prepare(facts, NOW, load_safety_settings()), NOW, registry, PlainMatcher())
    state.run_packs(registry.select())
    assert {q.group[0] for q in state.selection.quiet} == {"tcm-ganmao", "tcm-kesou"}
    assert state.silent_groups() == {q.group for q in state.selection.quiet}  # a 40-year-old man: neither


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 0, 2), (3, 2, 1, 0, 3, 1)])
def test_each_patient_gets_the_answer_of_their_own_age_and_sex(registry: Registry, order: tuple[int, ...]) -> None:
    patients = [((40, "male"), []), ((70, "male"), ["tcm-ganmao"]), ((40, "female"), ["tcm-kesou"]),
                ((70, "female"), ["tcm-ganmao", "tcm-kesou"])]
    for n in order:
        (age, sex), expected = patients[n]
        assert sorted(candidates(registry, age, sex)) == expected, (age, sex)
