"""Rule conditions in words (cdss.render.conditions): Chinese first, English beside, with the concepts' names
and units; every rule of every shipped pack reads in both languages without a raw id."""

from __future__ import annotations

import re

import pytest

from cdss.packs.registry import default_registry, walk_leaves
from cdss.packs.schema import AllOf, Leaf, NotOf
from cdss.render.conditions import ConditionWords, Phrase, wording_for

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def registry():
    return default_registry()


@pytest.fixture(scope="module")
def wording(registry):
    return wording_for(registry)


def leaf(**kw) -> Leaf:
    return Leaf(**kw)


def test_a_threshold_with_a_window_reads_with_name_unit_and_window(wording) -> None:
    words = wording.leaf(leaf(concept="sbp", op=">=", value=180, within_days=1))
    assert words == Phrase("收缩压 ≥ 180 mmHg（1 天内）", "Systolic blood pressure ≥ 180 mmHg within 1 day")


def test_presence_absence_and_statistics_read_as_words(wording) -> None:
    assert wording.leaf(leaf(has="diabetes")) == Phrase("有：糖尿病", "has: diabetes mellitus")
    negated = wording.tree(NotOf(**{"not": leaf(has="diabetes")}))
    assert negated.op == "leaf" and negated.words == Phrase("否：糖尿病", "no: diabetes mellitus")
    assert wording.leaf(leaf(concept="sbp", op=">=", value=140, on_days=3)) == Phrase(
        "收缩压日均值 ≥ 140 mmHg（至少 3 天）", "day-mean systolic blood pressure ≥ 140 mmHg on at least 3 days")
    assert wording.leaf(leaf(concept="hba1c", op=">=", value=7, stat="mean", last_n=3)).zh.startswith(
        "最近 3 次")
    assert wording.leaf(leaf(concept="heart_rate", op="<", value=60)).zh == "心率 < 60 次/分"
    assert wording.leaf(leaf(concept="sex", op="==", value="female")).zh == "性别 = 女"


def test_a_derived_fact_is_named_by_its_title(registry, wording) -> None:
    htn = registry.versions("htn-community")[0]
    grade = next(d for d in htn.derived if d.id == "bp_grade")
    words = wording.leaf(leaf(concept="bp_grade", op=">=", value=2))
    assert words.zh.startswith(grade.title.zh) and "bp_grade" not in words.both


def test_the_tree_keeps_all_and_any_and_formulas(registry, wording) -> None:
    rule = next(r for r in registry.versions("htn-community")[0].rules
                if r.full_id.endswith("referral/ambulance-bp-neurological"))
    tree = wording.tree(rule.rule.when)
    assert isinstance(rule.rule.when, AllOf) and tree.op == "all" and tree.words.zh == "全部满足"
    leaves = [t for t in _walk(tree) if t.op == "leaf"]
    assert any(t.words.zh == "收缩压 ≥ 180 mmHg（1 天内）" and t.formula == "sbp latest >= 180 (within 1 d)"
               for t in leaves)


def test_a_named_definition_is_kept_on_its_node(wording) -> None:
    class Named(AllOf):  # what pack format v2 may hand over: a condition that carries its definition's name
        definition: str = "uncontrolled_bp"

    tree = wording.tree(Named(all=(leaf(has="hypertension"),)))
    assert tree.definition == "uncontrolled_bp"


def test_a_rationale_node_reads_from_its_formula(wording) -> None:
    assert wording.words("sbp latest >= 180 (within 1 d)") == Phrase(
        "收缩压 ≥ 180 mmHg（1 天内）", "Systolic blood pressure ≥ 180 mmHg within 1 day")
    assert wording.words("any") == Phrase("任一满足", "any of")
    assert wording.words("一级 / Grade 1: 1") is None  # a derived part is already in words
    assert wording.line("has nonexistent_thing") == "has nonexistent_thing"  # unknown: the formula, as is


def _walk(node: ConditionWords):
    yield node
    for item in node.items:
        yield from _walk(item)


def test_property_every_rule_of_every_shipped_pack_reads_in_both_languages(registry, wording) -> None:
    """No raw concept id, no missing label, Chinese in the Chinese text, no UCUM brackets, for every leaf."""
    checked = 0
    for pack in registry.all():
        derived = {d.id for d in pack.derived}
        conditions = [(r.full_id, r.rule.when) for r in pack.rules] + [
            (f"{pack.id}/derived/{d.id}", p.when) for d in pack.derived for p in d.parts if p.when is not None]
        for where, cond in conditions:
            tree = wording.tree(cond)
            for node in _walk(tree):
                for text in (node.words.zh, node.words.en):
                    assert text and "None" not in text and "{" not in text and "[" not in text, (where, text)
                assert CJK.search(node.words.zh), (where, node.words.zh)
            for lf, _ in walk_leaves(cond):
                name = wording.name(lf.subject)
                assert name is not None, f"{where}: {lf.subject} has no name"
                words = wording.leaf(lf)
                assert name.zh in words.zh, (where, words.zh)
                assert name.en[1:] in words.en, (where, words.en)
                if "_" in lf.subject or lf.subject in derived:
                    assert lf.subject not in words.both, (where, words.both)
                assert wording.words(str(_formula(lf))) == words
                checked += 1
    assert checked > 1000


def _formula(lf: Leaf) -> str:
    from cdss.engine.compile import describe

    return describe(lf)


def test_the_text_output_and_the_card_detail_print_conditions_in_words(registry) -> None:
    import datetime as dt
    from pathlib import Path

    from cdss.engine.evaluate import evaluate
    from cdss.render.cds_hooks import render_cards
    from cdss.render.text import render_text

    bundle = (Path(__file__).resolve().parents[3] / "service/static/samples/htn-emergency.json").read_bytes()
    result = evaluate(bundle, now=dt.datetime.fromisoformat("2026-11-22T09:00:00+08:00"), registry=registry)
    text = render_text(result, wording_for(registry))
    assert "✔ 收缩压 ≥ 180 mmHg（1 天内） / Systolic blood pressure ≥ 180 mmHg within 1 day" in text
    assert "[sbp latest >= 180 (within 1 d)]" in text  # the formula stays beside the words
    assert "✔ 任一满足 / any of" in text
    cards = render_cards(result, hook_instance="h1", panel_url=None).body["cards"]
    detail = cards[0]["detail"]
    assert "收缩压 ≥ 180 mmHg（1 天内） / Systolic blood pressure ≥ 180 mmHg within 1 day" in detail
    assert text.index("收缩压") < text.index("Systolic")  # Chinese first
