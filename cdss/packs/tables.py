"""Packs: decision tables (`tables:` in rules files): their cells, their checks, and the derived fact each
becomes.

A table's row hits when every input cell holds. A cell is a unary test on its column's value, as in DMN's
simple unary tests: ``>= 140``, ``< 90``, ``[140..160)`` (``[``/``]`` closed, ``(``/``)`` open), ``= 2`` or
``2``, or ``-`` (any value). A table becomes a `TableFact`: a derived fact with one part per row (the row's
cells as an `all` condition), so the engine matches, stages, traces and reports data gaps of its rows as it
does for any derived fact; `cdss.engine.tables` applies the hit policy to the rows' outcomes.

Checks (run by the one check phase, `cdss.packs.check`, and by the XLSX import, located at the cell):
cells parse and there is one per input [table-cell, table-shape]; inputs are measured concepts or derived
facts given in their canonical unit [unknown-concept, not-a-quantity, unit-mismatch]; the hit policy has
what it needs [table-policy]; rows of a `unique` table never overlap [table-overlap] and overlapping rows of
an `any` table give the same output [table-conflict].
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from cdss.errors import Problem, did_you_mean
from cdss.packs.schema import AllOf, Condition, Derived, Leaf, Part, Table, TableInput
from cdss.vocab.concepts import ConceptSet

MEASURED = ("quantity", "demographic")
ANY = "-"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_COMPARE = re.compile(rf"^(>=|<=|>|<|=)?\s*({_NUMBER})$")
_RANGE = re.compile(rf"^([\[\(\]])\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*([\]\)\[])$")

# Where a problem of a table stands: a path below the table (("rows", 3, "when", 1), ("inputs", 0, "unit")).
Locate = Callable[[tuple, str, str], Problem]


@dataclass(frozen=True)
class Interval:
    """The values a cell accepts: lo..hi with open or closed ends (None: unbounded)."""

    lo: float | None = None
    lo_closed: bool = False
    hi: float | None = None
    hi_closed: bool = False

    def overlaps(self, other: Interval) -> bool:
        """Some value lies in both."""
        lo, lo_closed = _max_lo((self.lo, self.lo_closed), (other.lo, other.lo_closed))
        hi, hi_closed = _min_hi((self.hi, self.hi_closed), (other.hi, other.hi_closed))
        if lo is None or hi is None:
            return True
        return lo < hi or (lo == hi and lo_closed and hi_closed)

    def example(self, other: Interval) -> float | None:
        """A value in both (for error messages), when one is easy to name."""
        lo, _ = _max_lo((self.lo, self.lo_closed), (other.lo, other.lo_closed))
        hi, _ = _min_hi((self.hi, self.hi_closed), (other.hi, other.hi_closed))
        if lo is not None and hi is not None:
            return lo if self.contains(lo) and other.contains(lo) else (lo + hi) / 2
        return lo if lo is not None else hi

    def contains(self, x: float) -> bool:
        if self.lo is not None and (x < self.lo or (x == self.lo and not self.lo_closed)):
            return False
        return not (self.hi is not None and (x > self.hi or (x == self.hi and not self.hi_closed)))


def _max_lo(a: tuple[float | None, bool], b: tuple[float | None, bool]) -> tuple[float | None, bool]:
    if a[0] is None:
        return b
    if b[0] is None or a[0] > b[0]:
        return a
    if b[0] > a[0]:
        return b
    return a[0], a[1] and b[1]


def _min_hi(a: tuple[float | None, bool], b: tuple[float | None, bool]) -> tuple[float | None, bool]:
    if a[0] is None:
        return b
    if b[0] is None or a[0] < b[0]:
        return a
    if b[0] < a[0]:
        return b
    return a[0], a[1] and b[1]


class CellError(ValueError):
    """A cell that is not a unary test."""


def parse_cell(text: str) -> Interval:
    """A cell's text -> the values it accepts.

    Raises:
        CellError: not one of the forms of the module docstring.
    """
    cell = " ".join(str(text).split())
    if cell in (ANY, ""):
        return Interval()
    if m := _COMPARE.match(cell):
        op, x = m.group(1) or "=", float(m.group(2))
        return {">=": Interval(x, True), ">": Interval(x, False), "<=": Interval(hi=x, hi_closed=True),
                "<": Interval(hi=x, hi_closed=False), "=": Interval(x, True, x, True)}[op]
    if m := _RANGE.match(cell):
        lo, hi = float(m.group(2)), float(m.group(3))
        if lo > hi:
            raise CellError(f"the range {cell!r} is empty (its start is above its end)")
        interval = Interval(lo, m.group(1) == "[", hi, m.group(4) == "]")
        if lo == hi and not (interval.lo_closed and interval.hi_closed):
            raise CellError(f"the range {cell!r} is empty")
        return interval
    raise CellError(f"not a unary test: {cell!r}")


def _finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


def cell_condition(column: TableInput, interval: Interval) -> list[Leaf]:
    """The leaves of a cell: one test per bound of its interval (none for `-`)."""
    common = {"concept": column.concept, "stat": column.stat, "last_n": column.last_n,
              "within_days": column.within_days}
    if interval.lo is not None and interval.lo == interval.hi:
        return [Leaf(op="==", value=interval.lo, **common)]
    leaves = []
    if interval.lo is not None:
        leaves.append(Leaf(op=">=" if interval.lo_closed else ">", value=interval.lo, **common))
    if interval.hi is not None:
        leaves.append(Leaf(op="<=" if interval.hi_closed else "<", value=interval.hi, **common))
    return leaves


class TableFact(Derived):
    """A decision table as the engine runs it: a derived fact with one part per row (`cdss.engine.tables`)."""

    combine: Literal["table"] = "table"  # type: ignore[assignment]
    table: Table


def to_fact(table: Table) -> TableFact:
    """The derived fact a (checked) table becomes.

    Raises:
        CellError: a cell does not parse (never after `check_table` found no problem).
    """
    parts = []
    for row in table.rows:
        leaves = [leaf for column, cell in zip(table.inputs, row.when, strict=True)
                  for leaf in cell_condition(column, parse_cell(cell))]
        when: Condition = AllOf.model_construct(all=tuple(leaves))  # no cell but `-`: always true
        parts.append(Part(label=row.label, points=row.then, when=when))
    return TableFact(id=table.id, title=table.title, parts=tuple(parts), citation=table.citation,
                     evidence=table.evidence, table=table)


def check_table(table: Table, locate: Locate, concepts: ConceptSet, derived_ids: set[str]) -> list[Problem]:
    """Every problem of one table beyond its schema (see the module docstring)."""
    problems = list(_policy_problems(table, locate))
    for j, column in enumerate(table.inputs):
        problems.extend(_input_problems(column, j, locate, concepts, derived_ids))
    parsed: list[list[Interval] | None] = []
    width = len(table.inputs)
    for i, row in enumerate(table.rows):
        if len(row.when) != width:
            problems.append(locate(("rows", i, "when"), f"row {i + 1} has {len(row.when)} cell(s) for {width} "
                                   f"input column(s)", "table-shape"))
            parsed.append(None)
            continue
        cells: list[Interval] | None = []
        for j, cell in enumerate(row.when):
            try:
                cells.append(parse_cell(cell))  # type: ignore[union-attr]
            except CellError as exc:
                problems.append(locate(("rows", i, "when", j), str(exc), "table-cell",
                                       hint="write `>= 140`, `< 90`, `[140..160)`, `= 2` or `-` (any value)"))
                cells = None
                break
        parsed.append(cells)
    if table.hit_policy in ("unique", "any"):
        problems.extend(_overlaps(table, parsed, locate))
    return problems


def _policy_problems(table: Table, locate: Locate) -> Iterator[Problem]:
    policy, aggregator = table.hit_policy, table.aggregator
    if policy == "collect" and aggregator is None:
        yield locate(("hit_policy",), "`collect` needs an `aggregator`", "table-policy",
                     hint="add `aggregator: sum`, `max`, `min` or `count` (a table's output is one number)")
    if policy != "collect" and aggregator is not None:
        yield locate(("aggregator",), f"`aggregator` goes with hit policy `collect`, not `{policy}`", "table-policy")
    if policy == "collect" and aggregator in ("sum", "count") and table.default is not None:
        yield locate(("default",), f"collect {aggregator} takes no `default` (no row hit gives 0)", "table-policy")
    values = table.output.values
    if policy == "priority" and not values:
        yield locate(("output",), "`priority` needs `output.values`, highest priority first", "table-policy")
    if values:
        for i, row in enumerate(table.rows):
            if row.then not in values:
                yield locate(("rows", i, "then"), f"row {i + 1} gives {row.then:g}, which is not in `output.values`",
                             "table-policy", hint="add it to `output.values` or correct the row")
        if table.default is not None and table.default not in values:
            yield locate(("default",), f"the default {table.default:g} is not in `output.values`", "table-policy")
    for i, row in enumerate(table.rows):
        if not _finite(row.then):
            yield locate(("rows", i, "then"), "the output must be a finite number", "table-policy")


def _input_problems(column: TableInput, j: int, locate: Locate, concepts: ConceptSet,
                    derived_ids: set[str]) -> Iterator[Problem]:
    concept = concepts.by_id.get(column.concept)
    if concept is None and column.concept not in derived_ids:
        names = set(concepts.by_id) | derived_ids
        yield locate(("inputs", j, "concept"), f"unknown concept {column.concept!r}", "unknown-concept",
                     hint=" ".join(filter(None, [did_you_mean(column.concept, names), "concepts are declared in "
                                                 "catalogue/concepts/ or in the pack's `derived` / `tables`"])))
        return
    if concept is not None and concept.kind not in MEASURED and column.stat != "count":
        yield locate(("inputs", j, "concept"), f"{column.concept!r} is a coded concept ({concept.kind})",
                     "not-a-quantity", hint="a table column is a measured concept or a derived fact")
        return
    if column.last_n is not None and column.stat not in ("mean", "min", "max"):
        yield locate(("inputs", j, "last_n"), "`last_n` goes with stat mean, min or max", "invalid-value")
    canonical = concept.unit if concept is not None and column.stat in ("latest", "mean", "min", "max") else None
    if column.unit != canonical:
        expected = f"`{canonical}` (the concept's canonical unit)" if canonical else "no unit"
        yield locate(("inputs", j, "unit"), f"column {column.concept!r} has unit {column.unit!r}",
                     "unit-mismatch", expected=expected,
                     hint="cells are numbers in the concept's canonical unit" if canonical else
                     "remove `unit` (a derived fact, a count or days_since has none)")


def _overlaps(table: Table, parsed: Sequence[list[Interval] | None], locate: Locate) -> Iterator[Problem]:
    """Rows that can hit together: refused in a `unique` table, and in an `any` table when their outputs
    differ. Reported once per row, at the later row, naming the first earlier one it overlaps."""
    for i, cells in enumerate(parsed):
        if cells is None:
            continue
        for k in range(i):
            other = parsed[k]
            if other is None or not all(a.overlaps(b) for a, b in zip(other, cells, strict=True)):
                continue
            rows = table.rows
            if table.hit_policy == "any" and rows[k].then == rows[i].then:
                continue
            example = ", ".join(f"{col.concept}={_g(x)}" for col, a, b in zip(table.inputs, other, cells, strict=True)
                                if (x := a.example(b)) is not None)
            where = f" (both hit at {example})" if example else ""
            if table.hit_policy == "unique":
                yield locate(("rows", i), f"row {i + 1} overlaps row {k + 1}{where}: a `unique` table's rows "
                             "never hit together", "table-overlap",
                             hint="narrow a cell, or use hit policy `first`, `priority` or `collect`")
            else:
                yield locate(("rows", i), f"row {i + 1} overlaps row {k + 1}{where} with a different output "
                             f"({rows[i].then:g} vs {rows[k].then:g})", "table-conflict",
                             hint="overlapping rows of an `any` table must give the same output")
            break


def _g(x: float) -> str:
    return f"{x:g}"
