"""Packs: format v2 in a whole pack: text leaves located at file:line:col, defaults (file over pack),
named definitions (shown by name in the trace; unknown, duplicate, cyclic and unused ones reported)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cdss.errors import PackError
from cdss.packs.registry import Registry, load_pack, load_registry
from cdss.packs.schema import Defined, Leaf
from cdss.testing.cases import run_pack_cases
from cdss.testing.validate import validate_pack

BASE = load_registry(bundled=False)
PACK_YAML = """\
id: v2-demo
version: 1.0.0
effective: 2026-01-01
status: active
title: {zh: 演示, en: Demo}
sources:
  - {id: src, title: 演示来源, year: 2020}
"""
RULE = """\
  - id: {slug}
    then:
      kind: referral
      urgency: urgent
      title: {{zh: 转诊, en: Refer}}
      detail: {{zh: 转诊。, en: Refer.}}
    when: {when}
    citation: {{source: src, section: s1}}
    evidence: unverified
"""


def make_pack(tmp_path: Path, rules: str, *, pack_extra: str = "", cases: str | None = None) -> Path:
    folder = tmp_path / "v2-demo"
    (folder / "rules").mkdir(parents=True)
    (folder / "pack.yaml").write_text(PACK_YAML + textwrap.dedent(pack_extra), encoding="utf-8")
    (folder / "rules" / "main.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
    if cases is not None:
        (folder / "cases").mkdir()
        (folder / "cases" / "main.yaml").write_text(textwrap.dedent(cases), encoding="utf-8")
    return folder


def rule(slug: str, when: str) -> str:
    return RULE.format(slug=slug, when=when)


def load(folder: Path):
    return load_pack(folder, BASE.concepts, BASE.catalogue)


def problems(folder: Path) -> list:
    with pytest.raises(PackError) as caught:
        load(folder)
    return caught.value.problems


def test_text_leaves_load_as_the_same_leaves_as_mappings(tmp_path: Path):
    text = make_pack(tmp_path / "a", "rules:\n" + rule("r", '{all: ["has hypertension", "sbp >= 180 mmHg within 1 '
                                                            'day"]}'))
    mapping = make_pack(tmp_path / "b", "rules:\n" + rule("r", '{all: [{has: hypertension}, {concept: sbp, op: ">=", '
                                                               'value: 180, within_days: 1}]}'))
    a, b = load(text), load(mapping)
    assert a.rules[0].rule.when == b.rules[0].rule.when
    assert a.sha256 == b.sha256  # same content, same hash: the format of a leaf is layout


def test_a_bad_text_leaf_is_located_at_its_column_and_field(tmp_path: Path):
    folder = make_pack(tmp_path, "rules:\n" + rule("r", '{all: ["has hypertension", "sbp >= 180 mmol/L"]}'))
    (p,) = problems(folder)
    assert p.code == "unit-refused"
    assert (p.file.endswith("rules/main.yaml"), p.line, p.col) == (True, 8, 50)  # the `m` of mmol/L
    assert p.field == "rules[0].when.all[1].unit"
    assert str(p).startswith(f"{p.file}:8:50: rules[0].when.all[1].unit: unit 'mmol/L' cannot be converted")


def test_a_text_leaf_in_block_style_is_located_too(tmp_path: Path):
    folder = make_pack(tmp_path, "rules:\n" + rule("r", "\n      all:\n        - has hypertension\n"
                                                        "        - sbp >= 180"))
    (p,) = problems(folder)
    assert (p.code, p.line, p.col, p.field) == ("unit-missing", 11, 21, "rules[0].when.all[1].unit")


DEFAULTS_RULES = """\
defaults: {within: 30 days}
rules:
""" + rule("r", '{all: ["sbp >= 140 mmHg", "has hypertension", "crb_like >= 1", "sbp < 200 mmHg ever"]}').replace(
    '"crb_like >= 1", ', "")


def test_the_files_default_replaces_the_packs_and_applies_to_measured_comparisons_only(tmp_path: Path):
    folder = make_pack(tmp_path, DEFAULTS_RULES, pack_extra="defaults: {within: 90 days}\n")
    leaves = load(folder).rules[0].rule.when.all
    assert leaves == (Leaf(concept="sbp", op=">=", value=140.0, within_days=30), Leaf(has="hypertension"),
                      Leaf(concept="sbp", op="<", value=200.0))


def test_the_packs_default_applies_when_the_file_gives_none(tmp_path: Path):
    folder = make_pack(tmp_path, DEFAULTS_RULES.replace("defaults: {within: 30 days}\n", ""),
                       pack_extra="defaults: {within: 2 weeks}\n")
    assert load(folder).rules[0].rule.when.all[0].within_days == 14


def test_a_mapping_leaf_is_taken_as_written_whatever_the_defaults(tmp_path: Path):
    folder = make_pack(tmp_path, "defaults: {within: 30 days}\nrules:\n"
                       + rule("r", '{concept: sbp, op: ">=", value: 140}'))
    assert load(folder).rules[0].rule.when.within_days is None


DEFINED = """\
definitions:
  severe_bp: {any: ["sbp >= 180 mmHg within 1 day", "dbp >= 110 mmHg within 1 day"]}
rules:
""" + rule("r", "{all: [{use: severe_bp}, {use: known_htn}]}")
PACK_DEFS = """\
definitions:
  known_htn: has hypertension
"""
CASES = """\
cases:
  - id: severe
    now: 2026-11-22T09:00:00+08:00
    patient:
      age_years: 50
      sex: female
      facts:
        - {concept: sbp, value: 190, days_ago: 0}
        - {concept: dbp, value: 100, days_ago: 0}
        - {concept: hypertension}
    expect:
      - {rule: referral/r}
"""


def test_a_definition_is_resolved_and_shown_by_name_in_the_trace(tmp_path: Path):
    folder = make_pack(tmp_path, DEFINED, pack_extra=PACK_DEFS, cases=CASES)
    pack = load(folder)
    first = pack.rules[0].rule.when.all[0]
    assert isinstance(first, Defined) and first.name == "severe_bp"
    registry = Registry(BASE.concepts, BASE.catalogue)
    registry.add(pack)
    (result,) = run_pack_cases(pack, registry)
    assert result.passed, result.failures
    (suggestion,) = result.result.suggestions
    names = [t.text for t in suggestion.rationale]
    assert names == ["severe_bp", "known_htn"]
    assert suggestion.rationale[0].parts[0].parts[0].text == "sbp latest >= 180 (within 1 d)"


def test_definitions_in_a_cycle_are_refused_once_with_the_cycle(tmp_path: Path):
    rules = ('definitions:\n  a: {all: [{use: b}, "has hypertension"]}\n  b: {any: [{use: a}]}\nrules:\n'
             + rule("r", "{use: a}"))
    (p,) = problems(make_pack(tmp_path, rules))
    assert (p.code, p.line, p.field) == ("definition-cycle", 2, "definitions.a")
    assert "a -> b -> a" in p.message


def test_an_unknown_definition_is_refused_with_a_suggestion(tmp_path: Path):
    (p,) = problems(make_pack(tmp_path, DEFINED.replace("{use: severe_bp}", "{use: sever_bp}"), pack_extra=PACK_DEFS))
    assert (p.code, p.line, p.field) == ("unknown-definition", 10, "rules[0].when.all[0].use")
    assert "did you mean 'severe_bp'" in str(p)


def test_a_duplicate_definition_is_refused(tmp_path: Path):
    (p,) = problems(make_pack(tmp_path, DEFINED.replace("definitions:\n", "definitions:\n  known_htn: has diabetes\n"),
                              pack_extra=PACK_DEFS))
    assert (p.code, p.line, p.field) == ("duplicate-definition", 2, "definitions.known_htn")


def test_an_unused_definition_is_a_warning_of_validate(tmp_path: Path):
    folder = make_pack(tmp_path, DEFINED, pack_extra=PACK_DEFS + "  spare: has diabetes\n")
    report = validate_pack(folder, BASE, use_lock=False)
    assert report.ok, report.problems
    (w,) = [w for w in report.warnings if w.code == "unused-definition"]
    assert (w.file.endswith("pack.yaml"), w.line, w.field) == (True, 10, "definitions.spare")
