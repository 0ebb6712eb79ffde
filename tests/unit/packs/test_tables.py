"""Decision tables in packs: cells, the check phase (overlaps, conflicts, units, hit policies), located at
file:line:col, and the loader and `cdss pack validate` refusing the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdss.errors import PackError
from cdss.packs.registry import Registry, load_pack, load_registry
from cdss.packs.tables import CellError, Interval, parse_cell
from cdss.testing.validate import validate_pack

HTN = Path(__file__).resolve().parents[3] / "pathways" / "htn-community"


@pytest.mark.parametrize(("cell", "interval"), [
    ("-", Interval()),
    (">= 140", Interval(140, True)),
    ("> 140", Interval(140, False)),
    ("<90", Interval(hi=90, hi_closed=False)),
    ("<= 90", Interval(hi=90, hi_closed=True)),
    ("= 2", Interval(2, True, 2, True)),
    ("2", Interval(2, True, 2, True)),
    ("[140..160)", Interval(140, True, 160, False)),
    ("(0 .. 5]", Interval(0, False, 5, True)),
    ("]0..5[", Interval(0, False, 5, False)),
    ("[-1.5..2e1]", Interval(-1.5, True, 20, True)),
])
def test_cells_are_dmn_unary_tests(cell, interval):
    assert parse_cell(cell) == interval


@pytest.mark.parametrize("cell", ["=> 140", "[160..140)", "[5..5)", "high", "140 mmHg", "[1,2]", "1..2"])
def test_a_cell_that_is_not_a_unary_test_is_refused(cell):
    with pytest.raises(CellError):
        parse_cell(cell)


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ("[140..160)", "[160..180)", False), ("[140..160]", "[160..180)", True), ("< 5", ">= 5", False),
    ("-", ">= 5", True), ("= 3", "[0..3)", False), ("= 3", "[0..3]", True), ("(1..2)", "(1..2)", True),
])
def test_overlap_of_two_cells(a, b, overlap):
    assert parse_cell(a).overlaps(parse_cell(b)) is overlap
    assert parse_cell(b).overlaps(parse_cell(a)) is overlap


def _copy(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder, ignore=shutil.ignore_patterns("cases"))
    grading = folder / "rules" / "grading.yaml"
    text = grading.read_text(encoding="utf-8")
    assert old in text
    grading.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def base() -> Registry:
    return load_registry([], bundled=False)


@pytest.fixture
def problems_of(tmp_path: Path, base: Registry):  # noqa: ANN201
    def problems(old: str, new: str) -> list:
        """The problems of an edited htn copy, after checking the loader and validate report the same ones."""
        folder = _copy(tmp_path, old, new)
        with pytest.raises(PackError) as caught:
            load_pack(folder, base.concepts, base.catalogue)
        loaded = list(caught.value.problems)
        report = validate_pack(folder, base, use_lock=False)
        assert sorted(str(p) for p in report.problems) == sorted(str(p) for p in loaded)
        return loaded
    return problems


ROW1 = '{when: ["[140..160)", "-"], then: 1,'


def test_unique_table_with_overlapping_rows_is_refused_at_the_later_row(problems_of):
    problems = problems_of("hit_policy: collect\n    aggregator: max\n", "hit_policy: unique\n")
    overlaps = [p for p in problems if p.code == "table-overlap"]
    # row 2 (dbp 90-99, any sbp) overlaps row 1 (sbp 140-159, any dbp): both hit at sbp=140, dbp=90
    first = overlaps[0]
    assert first.file.endswith("grading.yaml") and first.field == "tables[0].rows[1]"
    assert first.line == 30 and "row 2 overlaps row 1 (both hit at sbp=140, dbp=90)" in first.message
    assert len(overlaps) == 5  # every row but the first overlaps an earlier one


def test_any_table_refuses_overlapping_rows_only_when_outputs_differ(problems_of):
    problems = problems_of("hit_policy: collect\n    aggregator: max\n", "hit_policy: any\n")
    conflicts = [p for p in problems if p.code == "table-conflict"]
    # rows 1 and 2 overlap with the same grade 1: allowed; row 3 (grade 2) overlaps row 2 (grade 1): refused
    assert [p.field for p in conflicts] == ["tables[0].rows[2]", "tables[0].rows[3]", "tables[0].rows[4]",
                                            "tables[0].rows[5]"]
    assert "(2 vs 1)" in conflicts[0].message


@pytest.mark.parametrize(("old", "new", "code", "field"), [
    ('"[140..160)", "-"], then: 1', '"[140..1x0)", "-"], then: 1', "table-cell", "tables[0].rows[0].when[0]"),
    ('"[140..160)", "-"], then: 1', '"[140..160)"], then: 1', "table-shape", "tables[0].rows[0].when"),
    ('{concept: sbp, unit: "mm[Hg]"', '{concept: sbp, unit: mmHg', "unit-mismatch", "tables[0].inputs[0].unit"),
    ('{concept: sbp, unit: "mm[Hg]"', '{concept: spb, unit: "mm[Hg]"', "unknown-concept",
     "tables[0].inputs[0].concept"),
    ('{concept: sbp, unit: "mm[Hg]"', '{concept: diabetes, unit: "mm[Hg]"', "not-a-quantity",
     "tables[0].inputs[0].concept"),
    ("    aggregator: max\n", "", "table-policy", "tables[0].hit_policy"),
    ("values: [0, 1, 2, 3]", "values: [0, 1, 2]", "table-policy", "tables[0].rows[4].then"),
    ("hit_policy: collect\n    aggregator: max\n", "hit_policy: first\n    aggregator: max\n", "table-policy",
     "tables[0].aggregator"),
    ("    default: 0", "    default: 7", "table-policy", "tables[0].default"),
    ("citation: {source: htn-primary-2019, section: 血压水平分类和定义 (表)}",
     "citation: {source: nowhere, section: x}", "unknown-source", "tables[0].citation.source"),
    ("  - id: bp_grade", "  - id: antihtn_classes", "duplicate-id", "tables[0].id"),
    ("  - id: bp_grade", "  - id: sbp", "derived-shadows-concept", "tables[0].id"),
])
def test_bad_tables_are_refused_with_located_problems(problems_of, old, new, code, field):
    problems = problems_of(old, new)
    found = [p for p in problems if p.code == code]
    assert found, [str(p) for p in problems]
    assert found[0].file.endswith("grading.yaml") and found[0].line
    if field is not None:
        assert found[0].field == field


def test_a_table_depending_on_itself_is_a_cycle(problems_of):
    problems = problems_of('{concept: dbp, unit: "mm[Hg]", within_days: 90}', "{concept: bp_grade}")
    assert [p.code for p in problems if p.code == "derived-cycle"] == ["derived-cycle"]


def test_the_converted_packs_load_with_their_tables(base: Registry):
    htn = load_pack(HTN, base.concepts, base.catalogue)
    assert "bp_grade" in {d.id for d in htn.derived}
    mental = load_pack(HTN.parent / "mental-health-community", base.concepts, base.catalogue)
    assert {"phq9_band", "gad7_band"} <= {d.id for d in mental.derived}
