"""Decision tables and XLSX: export then import changes nothing (bytes of the YAML, and under hypothesis on
generated tables), an edited cell updates only its row, and bad cells are refused at `Sheet!Cell`."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from cdss.cli import app
from cdss.cli import pack as _pack_commands  # noqa: F401  (registers `cdss pack ...`)
from cdss.errors import PackError
from cdss.packs.schema import Table
from cdss.packs.xlsx import FIRST_ROW, pack_tables, read_sheet, write_workbook

HTN = Path(__file__).resolve().parents[3] / "pathways" / "htn-community"


@pytest.fixture
def htn(tmp_path: Path) -> Path:
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder)
    return folder


def _cli(*args: str):  # noqa: ANN202
    return CliRunner().invoke(app, ["pack", "table", *args])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


def test_export_then_import_changes_no_byte(htn: Path, tmp_path: Path):
    before = _snapshot(htn)
    book = tmp_path / "tables.xlsx"
    assert _cli("export", str(htn), "bp_grade", "-o", str(book)).exit_code == 0
    res = _cli("import", str(htn), str(book))
    assert res.exit_code == 0, res.output
    assert "bp_grade: unchanged" in res.output
    assert _snapshot(htn) == before


def test_sheet_has_concept_and_unit_headers_chinese_first(htn: Path, tmp_path: Path):
    book = tmp_path / "tables.xlsx"
    _cli("export", str(htn), "-o", str(book))
    sheet = load_workbook(book)["bp_grade"]
    assert [sheet.cell(10, c).value for c in range(1, 7)] == [
        "行 / Row", "sbp", "dbp", "输出 / Output", "标签（中文）/ Label (zh)", "标签（英文）/ Label (en)"]
    assert [sheet.cell(11, c).value for c in range(1, 4)] == ["单位 / Unit", "mm[Hg]", "mm[Hg]"]
    assert [sheet.cell(FIRST_ROW, c).value for c in range(1, 7)] == [
        1, "[140..160)", "-", 1, "1级 收缩压140–159", "Grade 1 SBP 140-159"]


def test_an_edited_cell_changes_only_its_row_and_reverting_restores_every_byte(htn: Path, tmp_path: Path):
    before = _snapshot(htn)
    book = tmp_path / "tables.xlsx"
    _cli("export", str(htn), "bp_grade", "-o", str(book))
    wb = load_workbook(book)
    wb["bp_grade"][f"B{FIRST_ROW}"] = "[140..165)"
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    res = _cli("import", str(htn), str(edited))
    assert res.exit_code == 0, res.output  # rows 1 and 3 now overlap, which `collect` allows
    grading = htn / "rules" / "grading.yaml"
    old_lines = before["rules/grading.yaml"].decode().splitlines()
    new_lines = grading.read_text(encoding="utf-8").splitlines()
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert len(changed) == 1 and '"[140..165)"' in new_lines[changed[0]]
    assert "# below 140/90" in grading.read_text(encoding="utf-8")  # comments inside the table are kept
    assert _cli("import", str(htn), str(book)).exit_code == 0
    assert _snapshot(htn) == before


@pytest.mark.parametrize(("cell", "value", "code", "where"), [
    (f"C{FIRST_ROW + 1}", "[90..abc)", "table-cell", f"bp_grade!C{FIRST_ROW + 1}"),
    (f"D{FIRST_ROW + 2}", "two", "table-cell", f"bp_grade!D{FIRST_ROW + 2}"),
    ("B4", "sometimes", "invalid-value", "bp_grade!B4"),
    ("B11", "mmHg", "unit-mismatch", "bp_grade!B11"),
    ("B10", "spb", "unknown-concept", "bp_grade!B10"),
    ("B1", "bp_grad", "table-sheet", "bp_grade!B1"),
    ("A1", "Table", "table-sheet", "bp_grade!A1"),
    (f"B{FIRST_ROW}", None, "table-cell", f"bp_grade!B{FIRST_ROW}"),
    (f"E{FIRST_ROW}", None, "missing-key", f"bp_grade!E{FIRST_ROW}"),
])
def test_bad_cells_are_refused_at_their_cell_and_nothing_is_written(htn: Path, tmp_path: Path, cell, value,
                                                                    code, where):
    before = _snapshot(htn)
    book = tmp_path / "tables.xlsx"
    _cli("export", str(htn), "bp_grade", "-o", str(book))
    wb = load_workbook(book)
    wb["bp_grade"][cell] = value
    wb.save(book)
    res = _cli("import", str(htn), str(book))
    assert res.exit_code == 1
    assert f"{where}: " in res.output and f"[{code}]" in res.output, res.output
    assert _snapshot(htn) == before


def test_a_unique_table_edited_to_overlap_is_refused_at_the_row(tmp_path: Path):
    folder = tmp_path / "mental-health-community"
    shutil.copytree(HTN.parent / "mental-health-community", folder)
    before = _snapshot(folder)
    book = tmp_path / "tables.xlsx"
    _cli("export", str(folder), "phq9_band", "-o", str(book))
    wb = load_workbook(book)
    wb["phq9_band"][f"B{FIRST_ROW + 1}"] = "[4..10)"
    wb.save(book)
    res = _cli("import", str(folder), str(book))
    assert res.exit_code == 1 and f"phq9_band!A{FIRST_ROW + 1}: row 2 overlaps row 1" in res.output, res.output
    assert _snapshot(folder) == before


def test_not_a_workbook_is_a_clear_error(htn: Path, tmp_path: Path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip", encoding="utf-8")
    res = _cli("import", str(htn), str(bad))
    assert res.exit_code == 1 and "[table-sheet]" in res.output and "Traceback" not in res.output


def test_export_of_an_unknown_table_is_a_usage_error(htn: Path, tmp_path: Path):
    res = _cli("export", str(htn), "bp_grde", "-o", str(tmp_path / "x.xlsx"))
    assert res.exit_code == 2 and "[unknown-table]" in res.output and "bp_grade" in res.output


# --- property: any table survives the round trip ------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1,
                max_size=12)
_num = st.integers(-500, 500).map(float) | st.floats(-500, 500, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def _cell(draw: st.DrawFn) -> str:
    a, b = sorted((draw(_num), draw(_num)))
    kind = draw(st.sampled_from(["any", "cmp", "eq", "range"]))
    if kind == "any":
        return "-"
    if kind == "cmp":
        return f"{draw(st.sampled_from(['>=', '>', '<=', '<']))} {a:g}"
    if kind == "eq":
        return f"{a:g}"
    if a == b:
        return f"[{a:g}..{b:g}]"
    return f"{draw(st.sampled_from('[('))}{a:g}..{b:g}{draw(st.sampled_from(')]'))}"


@st.composite
def tables(draw: st.DrawFn) -> Table:
    width = draw(st.integers(1, 3))
    policy = draw(st.sampled_from(["unique", "first", "priority", "any", "collect"]))
    rows = [{"when": [draw(_cell()) for _ in range(width)], "then": draw(_num),
             "label": {"zh": draw(_text), "en": draw(_text)}} for _ in range(draw(st.integers(1, 6)))]
    doc = {"id": draw(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)),
           "title": {"zh": draw(_text), "en": draw(_text)}, "hit_policy": policy,
           "inputs": [{"concept": draw(st.sampled_from(["sbp", "dbp", "age_years", "egfr"])),
                       "unit": draw(st.none() | st.sampled_from(["mm[Hg]", "a"])),
                       "stat": draw(st.sampled_from(["latest", "mean", "max"])),
                       "last_n": draw(st.none() | st.integers(1, 50)),
                       "within_days": draw(st.none() | st.integers(0, 3650))} for _ in range(width)],
           "output": {"title": {"zh": draw(_text), "en": draw(_text)},
                      "values": draw(st.lists(_num, max_size=4))},
           "rows": rows, "citation": {"source": "s", "section": "x"}, "evidence": "unverified"}
    if policy == "collect":
        doc["aggregator"] = draw(st.sampled_from(["sum", "max", "min", "count"]))
    if draw(st.booleans()):
        doc["default"] = draw(_num)
    return Table.model_validate(doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_property_any_table_reads_back_equal_from_its_sheet(table: Table):
    buf = io.BytesIO()
    write_workbook([table], buf)
    buf.seek(0)
    sheet = load_workbook(buf)[table.id]
    back, read = read_sheet(sheet, "t.xlsx", table)
    assert not read.problems, [str(p) for p in read.problems]
    assert back == table


def test_a_sheet_that_is_not_a_table_layout_is_refused():
    sheet = Workbook().active
    sheet["A1"] = "something else"
    table, read = read_sheet(sheet, "t.xlsx", None)
    assert table is None and [p.code for p in read.problems] == ["table-sheet"]


def test_pack_tables_lists_the_converted_table():
    assert list(pack_tables(HTN)) == ["bp_grade"]


def test_a_table_id_too_long_for_a_sheet_name_is_refused():
    table = next(iter(pack_tables(HTN).values())).table.model_copy(update={"id": "t" * 32})
    with pytest.raises(PackError) as caught:
        write_workbook([table], io.BytesIO())
    assert caught.value.problems[0].code == "table-sheet"
