"""Decision tables in the engine: each hit policy, in open-world logic (an unknown row may still hit), and
the trace and data gaps of a table used by a rule."""

from __future__ import annotations

import pytest

from cdss.engine.tables import TableResult, table_result
from cdss.engine.truth import Truth
from cdss.packs.schema import Table

T, F, U = Truth.TRUE, Truth.FALSE, Truth.UNKNOWN
LABEL = {"zh": "行", "en": "row"}


def _table(policy: str, outputs: list[float], *, aggregator: str | None = None, default: float | None = None,
           values: list[float] | None = None) -> Table:
    doc = {"id": "t", "title": LABEL, "hit_policy": policy, "inputs": [{"concept": "age_years", "unit": "a"}],
           "output": {"title": LABEL, "values": values or []},
           "rows": [{"when": ["-"], "then": v, "label": LABEL} for v in outputs],
           "citation": {"source": "s", "section": "x"}, "evidence": "unverified"}
    if aggregator:
        doc["aggregator"] = aggregator
    if default is not None:
        doc["default"] = default
    return Table.model_validate(doc)


def _range(r: TableResult) -> tuple:
    return (r.lo, r.hi, r.missing)


# --- unique / any: a hit decides; otherwise every unknown row (and the default) is possible ---------------

@pytest.mark.parametrize("policy", ["unique", "any"])
def test_unique_and_any_a_hitting_row_decides_even_with_unknown_rows(policy):
    result = table_result(_table(policy, [1, 2, 3]), [F, T, U])
    assert _range(result) == (2, 2, None) and result.used == (1,)


@pytest.mark.parametrize("policy", ["unique", "any"])
def test_unique_without_a_hit_unknown_rows_leave_a_range_with_the_default(policy):
    assert _range(table_result(_table(policy, [1, 2, 3], default=0), [F, U, U])) == (0, 3, None)


def test_unique_without_default_an_unknown_row_may_leave_no_value():
    assert _range(table_result(_table("unique", [1, 2]), [U, F])) == (1, 1, "incomplete")


def test_unique_no_row_hits_and_no_default_is_no_match():
    assert _range(table_result(_table("unique", [1, 2]), [F, F])) == (None, None, "no-match")


def test_no_row_hits_gives_the_default():
    assert _range(table_result(_table("unique", [1, 2], default=0), [F, F])) == (0, 0, None)


# --- first: rows in order ---------------------------------------------------------------------------------

def test_first_takes_the_first_hit_in_row_order():
    result = table_result(_table("first", [3, 2, 1]), [F, T, T])
    assert _range(result) == (2, 2, None) and result.used == (1,)


def test_first_an_unknown_row_before_the_hit_may_still_take_its_place():
    assert _range(table_result(_table("first", [3, 2, 1]), [U, F, T])) == (1, 3, None)


def test_first_an_unknown_row_after_the_hit_changes_nothing():
    assert _range(table_result(_table("first", [3, 2, 1]), [T, U, U])) == (3, 3, None)


# --- priority: the hit whose output comes first in output.values ------------------------------------------

def test_priority_takes_the_highest_priority_output_not_the_first_row():
    table = _table("priority", [1, 3, 2], values=[3, 2, 1])
    result = table_result(table, [T, T, T])
    assert _range(result) == (3, 3, None) and result.used == (1,)


def test_priority_an_unknown_row_of_higher_priority_leaves_a_range():
    table = _table("priority", [1, 3, 2], values=[3, 2, 1])
    assert _range(table_result(table, [F, U, T])) == (2, 3, None)
    assert _range(table_result(table, [T, F, U])) == (1, 2, None)  # 2 outranks 1
    assert _range(table_result(table, [U, F, T])) == (2, 2, None)  # 1 cannot outrank 2


# --- collect with an aggregator ---------------------------------------------------------------------------

def test_collect_sum_unknown_rows_may_add_or_not():
    table = _table("collect", [1, 2, 4], aggregator="sum")
    assert _range(table_result(table, [T, U, F])) == (1, 3, None)
    assert _range(table_result(table, [F, F, F])) == (0, 0, None)  # an empty sum is 0


def test_collect_sum_a_negative_unknown_row_may_lower_it():
    assert _range(table_result(_table("collect", [2, -1], aggregator="sum"), [T, U])) == (1, 2, None)


def test_collect_count_counts_hits_and_may_count_unknown_rows():
    assert _range(table_result(_table("collect", [5, 5, 5], aggregator="count"), [T, U, F])) == (1, 2, None)


def test_collect_max_is_the_grade_of_the_highest_hit_unknown_rows_may_raise_it():
    table = _table("collect", [1, 2, 3], aggregator="max", default=0)
    result = table_result(table, [T, F, U])
    assert _range(result) == (1, 3, None) and result.used == (0,)
    assert _range(table_result(table, [U, F, F])) == (0, 1, None)
    assert _range(table_result(table, [F, F, F])) == (0, 0, None)
    assert _range(table_result(table, [F, F, T])) == (3, 3, None)  # nothing unknown can exceed it


def test_collect_min_unknown_rows_may_lower_it():
    assert _range(table_result(_table("collect", [1, 2, 3], aggregator="min"), [F, T, U])) == (2, 2, None)
    assert _range(table_result(_table("collect", [1, 2, 3], aggregator="min"), [U, T, F])) == (1, 2, None)


def test_collect_max_without_default_no_hit_is_no_match():
    assert _range(table_result(_table("collect", [1, 2], aggregator="max"), [F, F])) == (None, None, "no-match")


# --- a table used by a rule: the converted htn `bp_grade` -------------------------------------------------

import datetime as dt  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from cdss.engine.evaluate import evaluate  # noqa: E402
from cdss.packs.registry import load_registry  # noqa: E402
from cdss.testing.factories import CaseFact, bundle_from_facts  # noqa: E402

HTN = Path(__file__).resolve().parents[3] / "pathways" / "htn-community"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
COMBINATION = "htn-community/treatment/start-combination"


def _evaluate(registry, *facts: dict):  # noqa: ANN001, ANN202
    bundle = bundle_from_facts([CaseFact(**f) for f in ({"has": "hypertension", "days_ago": 400}, *facts)],
                               concepts=registry.concepts, now=NOW, age_years=56, sex="male")
    return evaluate(bundle, now=NOW, registry=registry, pins=["htn-community"])


def _bp_grade_trace(suggestion):  # noqa: ANN001, ANN202
    return next(t for t in suggestion.rationale if t.text.startswith("bp_grade"))


def test_bp_grade_table_trace_shows_every_row_and_marks_the_one_that_decides(registry):
    result = _evaluate(registry, {"concept": "sbp", "value": 165, "days_ago": 3},
                       {"concept": "dbp", "value": 92, "days_ago": 3})
    (combination,) = [s for s in result.suggestions if s.rule_id == COMBINATION]
    grade = _bp_grade_trace(combination)
    assert grade.outcome == "true" and grade.facts[0].value == 2 and grade.facts[0].stat == "collect max"
    rows = {t.text.split(":")[0]: (t.outcome, t.text.endswith("✓")) for t in grade.parts}
    assert rows["行2 / row 2"] == ("true", False)  # DBP 92 hits grade 1, but the higher grade applies
    assert rows["行3 / row 3"] == ("true", True)
    assert [r for r, (outcome, _) in rows.items() if outcome == "true"] == ["行2 / row 2", "行3 / row 3"]


def test_bp_grade_table_with_dbp_missing_is_open_and_asks_for_dbp(registry):
    result = _evaluate(registry, {"concept": "sbp", "value": 150, "days_ago": 3})
    assert COMBINATION not in [s.rule_id for s in result.suggestions]
    gaps = {(g.concept, g.reason) for g in result.data_gaps if COMBINATION in g.rules}
    assert gaps == {("dbp", "absent")}


def test_bp_grade_table_unknown_rows_cannot_raise_a_known_grade_3(registry):
    result = _evaluate(registry, {"concept": "sbp", "value": 185, "days_ago": 3})
    (combination,) = [s for s in result.suggestions if s.rule_id == COMBINATION]
    assert _bp_grade_trace(combination).facts[0].value == 3


def test_a_table_no_row_of_which_hits_and_without_default_is_a_no_match_gap(tmp_path: Path):
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder, ignore=shutil.ignore_patterns("cases"))
    grading = folder / "rules" / "grading.yaml"
    text = grading.read_text(encoding="utf-8")
    grading.write_text("\n".join(line for line in text.splitlines() if not line.strip().startswith("default:"))
                       + "\n", encoding="utf-8")
    registry = load_registry([tmp_path], bundled=False)
    result = _evaluate(registry, {"concept": "sbp", "value": 120, "days_ago": 3},
                       {"concept": "dbp", "value": 70, "days_ago": 3})
    assert COMBINATION not in [s.rule_id for s in result.suggestions]
    assert {(g.concept, g.reason) for g in result.data_gaps if COMBINATION in g.rules} == {("bp_grade", "no-match")}
