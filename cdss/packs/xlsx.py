"""Packs: decision tables to and from XLSX workbooks, for editors who work in spreadsheets.

One sheet per table, named by the table's id. Labels are Chinese first, English beside:

    A1  表格 / Table                 B1  the table id
    A2  标题（中文）/ Title (zh)      B2  ...            A3  标题（英文）/ Title (en)   B3 ...
    A4  命中策略 / Hit policy         B4  unique | first | priority | any | collect
    A5  汇总 / Aggregator             B5  sum | max | min | count (collect only; else empty)
    A6  无命中时输出 / Default        B6  a number, or empty
    A7  输出 / Output                 B7  output title (zh)     C7  output title (en)
    A8  输出取值 / Output values      B8, C8 ...  one value per cell (priority order), or empty
    A10 行 / Row       B10.. one column per input: its concept; then 输出 / Output, 标签（中文）, 标签（英文）
    A11 单位 / Unit    A12 统计 / Stat    A13 最近n次 / Last n    A14 时限（天）/ Within (days)
    A15.. one row per table row: its number, one unary test per input, the output, the labels.

The table's citation and evidence stay in the YAML (the sheet does not carry them). Import validates every
cell (errors located as `Sheet!C17`), then writes only the tables that changed, each in place in its rules
file through ruamel's round-trip (the rest of the file, comments included, is kept byte for byte), and
loads the pack again so that the one check phase accepts the result; a file the check refuses is restored.
An export followed by an import changes nothing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cdss.errors import PackError, Problem, did_you_mean
from cdss.packs.loader import display_path, read_yaml, validate
from cdss.packs.schema import RulesFile, Table
from cdss.packs.tables import check_table
from cdss.vocab.concepts import ConceptSet

META_LABELS = ("表格 / Table", "标题（中文）/ Title (zh)", "标题（英文）/ Title (en)", "命中策略 / Hit policy",
               "汇总 / Aggregator", "无命中时输出 / Default", "输出 / Output", "输出取值 / Output values")
HEAD_ROW = 10  # the row of input concepts; units, stat, last n and window below it; table rows from FIRST_ROW
HEAD_LABELS = ("行 / Row", "单位 / Unit", "统计 / Stat", "最近n次 / Last n", "时限（天）/ Within (days)")
FIRST_ROW = HEAD_ROW + len(HEAD_LABELS)
TAIL_LABELS = ("输出 / Output", "标签（中文）/ Label (zh)", "标签（英文）/ Label (en)")
MAX_SHEET_NAME = 31  # Excel's limit


@dataclass(frozen=True)
class Located:
    """A table in a rules file: the file, its index under `tables`, the model."""

    path: Path
    index: int
    table: Table


def pack_tables(folder: Path) -> dict[str, Located]:
    """Every decision table of a pack folder, by id.

    Raises:
        PackError: a rules file is not valid (located problems).
    """
    out: dict[str, Located] = {}
    for path in sorted((folder / "rules").glob("*.yaml")):
        part = validate(RulesFile, read_yaml(path))
        for i, table in enumerate(part.tables):
            out.setdefault(table.id, Located(path, i, table))
    return out


# --- export ---------------------------------------------------------------------------------------------

def _num(x: float | None) -> int | float | None:
    """A number as a spreadsheet shows it: whole numbers without `.0`."""
    if x is None:
        return None
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


def write_workbook(tables: Sequence[Table], out: Path | io.BytesIO) -> None:
    """One sheet per table (see the module docstring).

    Raises:
        PackError: a table id is longer than a sheet name may be [table-sheet].
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for table in tables:
        if len(table.id) > MAX_SHEET_NAME:
            raise PackError.one(f"table id {table.id!r} is longer than {MAX_SHEET_NAME} characters, the longest "
                                "sheet name", "table-sheet", field=f"tables.{table.id}", hint="shorten the id")
        sheet = book.create_sheet(table.id)
        meta = (table.id, table.title.zh, table.title.en, table.hit_policy, table.aggregator, _num(table.default))
        for r, (label, value) in enumerate(zip(META_LABELS, meta, strict=False), start=1):
            sheet.cell(r, 1, label).font = bold
            sheet.cell(r, 2, value)
        sheet.cell(7, 1, META_LABELS[6]).font = bold
        sheet.cell(7, 2, table.output.title.zh)
        sheet.cell(7, 3, table.output.title.en)
        sheet.cell(8, 1, META_LABELS[7]).font = bold
        for k, v in enumerate(table.output.values):
            sheet.cell(8, 2 + k, _num(v))
        for r, label in enumerate(HEAD_LABELS):
            sheet.cell(HEAD_ROW + r, 1, label).font = bold
        width = len(table.inputs)
        for j, col in enumerate(table.inputs):
            for r, value in enumerate((col.concept, col.unit, col.stat, col.last_n, col.within_days)):
                sheet.cell(HEAD_ROW + r, 2 + j, value).font = bold if r == 0 else Font()
        for k, label in enumerate(TAIL_LABELS):
            sheet.cell(HEAD_ROW, 2 + width + k, label).font = bold
        for i, row in enumerate(table.rows):
            r = FIRST_ROW + i
            sheet.cell(r, 1, i + 1)
            for j, cell in enumerate(row.when):
                sheet.cell(r, 2 + j, cell).data_type = "s"
            sheet.cell(r, 2 + width, _num(row.then))
            sheet.cell(r, 3 + width, row.label.zh)
            sheet.cell(r, 4 + width, row.label.en)
        sheet.column_dimensions["A"].width = 26
    book.save(out)


# --- import ---------------------------------------------------------------------------------------------

class _Sheet:
    """One sheet being read, with the cell behind each part of the table (for located errors)."""

    def __init__(self, sheet: Any, shown: str):
        self.sheet = sheet
        self.name = sheet.title
        self.shown = shown
        self.cells: dict[tuple, str] = {}
        self.problems: list[Problem] = []

    def ref(self, row: int, col: int) -> str:
        from openpyxl.utils import get_column_letter

        return f"{get_column_letter(col)}{row}"

    def value(self, row: int, col: int, loc: tuple) -> Any:
        self.cells[loc] = self.ref(row, col)
        value = self.sheet.cell(row, col).value
        return value.strip() if isinstance(value, str) else value

    def locate(self, loc: tuple, message: str, code: str, **extra: Any) -> Problem:
        """The problem at the cell of `loc`, or of its nearest enclosing part that has one."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.cells:
                return Problem(message, code, file=self.shown, field=f"{self.name}!{self.cells[loc[:n]]}", **extra)
        return Problem(message, code, file=self.shown, field=f"{self.name}!A1", **extra)

    def add(self, row: int, col: int, message: str, code: str, **extra: Any) -> None:
        self.problems.append(Problem(message, code, file=self.shown, field=f"{self.name}!{self.ref(row, col)}",
                                     **extra))


def _number(s: _Sheet, row: int, col: int, loc: tuple, *, whole: bool = False) -> Any:
    value = s.value(row, col, loc)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        s.add(row, col, "a number is needed", "table-cell", got=value)
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            s.add(row, col, "a number is needed", "table-cell", got=value)
            return None
    if not math.isfinite(value) or (whole and not float(value).is_integer()):
        s.add(row, col, "a whole number is needed" if whole else "a finite number is needed", "table-cell",
              got=value)
        return None
    return int(value) if whole else float(value)


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_sheet(sheet: Any, shown: str, keep: Table | None) -> tuple[Table | None, _Sheet]:
    """A sheet -> the table it describes (citation and evidence from `keep`), with its located problems."""
    s = _Sheet(sheet, shown)
    for r, label in enumerate(META_LABELS, start=1):
        if _text(s.value(r, 1, ())) != label:
            s.add(r, 1, "not a decision-table sheet", "table-sheet", expected=repr(label),
                  hint="export a table first (`cdss pack table export`) and edit that layout")
            return None, s
    width = 0
    while _text(s.value(HEAD_ROW, 2 + width, ())) not in (None, TAIL_LABELS[0]):
        width += 1
    if width == 0 or _text(s.value(HEAD_ROW, 2 + width, ())) != TAIL_LABELS[0]:
        s.add(HEAD_ROW, 2 + width, f"the input columns must be followed by {TAIL_LABELS[0]!r}", "table-sheet")
        return None, s
    values = []
    col = 2
    while (v := _number(s, 8, col, ("output", "values", col - 2))) is not None:
        values.append(v)
        col += 1
    data: dict[str, Any] = {
        "id": _text(s.value(1, 2, ("id",))),
        "title": {"zh": _text(s.value(2, 2, ("title", "zh"))), "en": _text(s.value(3, 2, ("title", "en")))},
        "hit_policy": _text(s.value(4, 2, ("hit_policy",))),
        "output": {"title": {"zh": _text(s.value(7, 2, ("output", "title", "zh"))),
                             "en": _text(s.value(7, 3, ("output", "title", "en")))}, "values": values},
        "inputs": [], "rows": [],
    }
    s.cells[("output",)] = s.ref(7, 2)
    s.cells[("title",)] = s.ref(2, 2)
    if (agg := _text(s.value(5, 2, ("aggregator",)))) is not None:
        data["aggregator"] = agg
    if (default := _number(s, 6, 2, ("default",))) is not None:
        data["default"] = default
    for j in range(width):
        c = 2 + j
        column: dict[str, Any] = {"concept": _text(s.value(HEAD_ROW, c, ("inputs", j, "concept")))}
        s.cells[("inputs", j)] = s.ref(HEAD_ROW, c)
        if (unit := _text(s.value(HEAD_ROW + 1, c, ("inputs", j, "unit")))) is not None:
            column["unit"] = unit
        if (stat := _text(s.value(HEAD_ROW + 2, c, ("inputs", j, "stat")))) is not None:
            column["stat"] = stat
        for r, key in ((3, "last_n"), (4, "within_days")):
            if (n := _number(s, HEAD_ROW + r, c, ("inputs", j, key), whole=True)) is not None:
                column[key] = n
        data["inputs"].append(column)
    r = FIRST_ROW
    while any(s.sheet.cell(r, c).value not in (None, "") for c in range(1, 5 + width)):
        i = len(data["rows"])
        s.cells[("rows", i)] = s.ref(r, 1)
        cells = [_text(s.value(r, 2 + j, ("rows", i, "when", j))) for j in range(width)]
        for j, cell in enumerate(cells):
            if cell is None:
                s.add(r, 2 + j, "an empty cell; write `-` for any value", "table-cell")
        s.cells[("rows", i, "when")] = s.ref(r, 2)
        data["rows"].append({"when": [c or "-" for c in cells],
                             "then": _number(s, r, 2 + width, ("rows", i, "then")),
                             "label": {"zh": _text(s.value(r, 3 + width, ("rows", i, "label", "zh"))),
                                       "en": _text(s.value(r, 4 + width, ("rows", i, "label", "en")))}})
        s.cells[("rows", i, "label")] = s.ref(r, 3 + width)
        r += 1
    if keep is not None:
        data["citation"] = keep.model_dump(mode="json", by_alias=True)["citation"]
        data["evidence"] = keep.evidence
    if s.problems:
        return None, s
    try:
        table = Table.model_validate(_drop_none(data))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            code = "missing-key" if err["type"] == "missing" else "invalid-value"
            message = "an empty cell" if err["type"] == "missing" else \
                err["msg"].removeprefix("Value error, ")[:1].lower() + err["msg"].removeprefix("Value error, ")[1:]
            s.problems.append(s.locate(loc, message, code))
        return None, s
    return table, s


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


def read_workbook(path: Path, existing: dict[str, Located], concepts: ConceptSet,
                  derived_ids: set[str]) -> list[Table]:
    """Every sheet of a workbook as a checked table.

    Raises:
        PackError: the file is not a workbook, a sheet names no table of the pack, or any cell is wrong
            (every problem, each at its `Sheet!Cell`).
    """
    from openpyxl import load_workbook

    shown = display_path(path)
    try:
        book = load_workbook(path, read_only=False, data_only=True)
    except FileNotFoundError as exc:
        raise PackError.one("file not found", "file-not-found", file=shown) from exc
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException for a non-workbook
        raise PackError.one(f"not an XLSX workbook: {exc}", "table-sheet", file=shown) from exc
    problems: list[Problem] = []
    tables: list[Table] = []
    for sheet in book.worksheets:
        table_id = _text(sheet.cell(1, 2).value)
        keep = existing.get(table_id or "")
        if keep is None:
            problems.append(Problem(f"no table {table_id!r} in the pack", "table-sheet", file=shown,
                                    field=f"{sheet.title}!B1", hint=did_you_mean(table_id or "", existing)
                                    or "add the table to a rules file first (its citation and evidence live there)"))
            continue
        table, s = read_sheet(sheet, shown, keep.table)
        problems.extend(s.problems)
        if table is not None:
            problems.extend(check_table(table, s.locate, concepts, derived_ids))
            tables.append(table)
    if problems:
        raise PackError(problems)
    return tables


# --- writing the YAML back ---------------------------------------------------------------------------------

def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.preserve_quotes = True
    return y


def _flow(value: Any) -> Any:
    """Plain data as ruamel nodes in flow style (`{when: [...], then: 1, ...}`), as the packs write rows."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, dict):
        node = CommentedMap((k, _flow(v)) for k, v in value.items())
        node.fa.set_flow_style()
        return node
    if isinstance(value, list | tuple):
        node = CommentedSeq(_flow(v) for v in value)
        node.fa.set_flow_style()
        return node
    if isinstance(value, str) and _needs_quotes(value):
        return DoubleQuotedScalarString(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _needs_quotes(value: str) -> bool:
    """A string that plain YAML in a flow collection would read as something else (or not at all)."""
    if not value or value != value.strip() or value[:1] in "-[]{}()<>=!&*#?|%@`'\",:~":
        return True
    if any(ch in value for ch in "[]{},:#"):
        return True
    if value.lower() in ("true", "false", "yes", "no", "on", "off", "null", "y", "n"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def _plain(table: Table) -> dict[str, Any]:
    return table.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _update_node(node: Any, old: Table, new: Table) -> None:
    """Change the table's YAML node where the new table differs, leaving equal parts (and comments) alone."""
    before, after = _plain(old), _plain(new)
    keys = list(Table.model_fields)
    for key in keys:
        if before.get(key) == after.get(key):
            continue
        if key not in after:
            del node[key]
        elif key == "rows" and key in node:
            rows = node["rows"]
            for i, row in enumerate(after["rows"]):
                if i < len(before["rows"]) and before["rows"][i] == row:
                    continue
                if i < len(rows):
                    rows[i] = _flow(row)
                else:
                    rows.append(_flow(row))
            del rows[len(after["rows"]):]
        elif key in node:
            node[key] = _flow(after[key]) if isinstance(after[key], dict | list) else after[key]
        else:
            position = sum(1 for k in keys[: keys.index(key)] if k in node)
            node.insert(position, key, _flow(after[key]) if isinstance(after[key], dict | list) else after[key])


def _item_text(y: Any, node: Any) -> str:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    holder = CommentedMap()
    holder["tables"] = CommentedSeq([node])
    buf = io.StringIO()
    y.dump(holder, buf)
    return buf.getvalue().split("\n", 1)[1]


def replace_table(path: Path, index: int, old: Table, new: Table) -> bool:
    """Write `new` in place of the `index`-th table of a rules file; False when nothing changed.

    Raises:
        PackError: the file's layout around the table cannot be kept exactly [table-write].
    """
    if _plain(old) == _plain(new):
        return False
    y = _yaml()
    text = path.read_text(encoding="utf-8")
    data = y.load(text)
    seq = data["tables"]
    lines = text.splitlines(keepends=True)
    start = seq.lc.item(index)[0]
    if index + 1 < len(seq):
        end = seq.lc.item(index + 1)[0]
    else:
        keys = list(data)
        later = [data.lc.key(k)[0] for k in keys[keys.index("tables") + 1:]]
        end = min(later) if later else len(lines)
    # The table as ruamel writes it back unchanged must be its text in the file, so that only it changes.
    if "".join(lines[start:end]) != _item_text(y, seq[index]):
        raise PackError.one("cannot rewrite this table without changing its layout", "table-write",
                            file=display_path(path), line=start + 1,
                            hint="write the table as the packs do (block keys, one flow-style row per line) "
                                 "and import again")
    _update_node(seq[index], old, new)
    path.write_text("".join([*lines[:start], _item_text(y, seq[index]), *lines[end:]]), encoding="utf-8")
    return True
