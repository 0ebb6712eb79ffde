"""Engine: a decision table's result from its rows' outcomes, under its hit policy, in open-world logic.

Each row is true (it hits), false, or unknown (a cell's data are missing or stale). The result is the set
of outputs the table could give once the unknown rows are decided, and whether "no value" (no row hits, no
`default`) is among them:

* `unique` / `any`: a hitting row decides (rows that could hit with it give the same output, checked at
  load time); with none, each unknown row's output, and the default (or no value) if every row may miss;
* `first`: rows in order; an unknown row before the first hitting one may still take its place;
* `priority`: the hitting row whose output comes first in `output.values`; unknown rows of a higher
  priority may still take its place;
* `collect` sum / count: hitting rows count, unknown rows may add or not (no hit: 0); max / min: the
  largest / smallest output of the hitting rows, unknown rows may raise / lower it (no hit: the default,
  or no value).

The engine keeps a derived fact as a range [lo, hi]: a single candidate is an exact value, several a range
(a test on it is true only if it holds across the range, else unknown: a data gap). With "no value" among
the candidates, the table has no value: every test on it is unknown, and its unknown rows are the gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdss.engine.compile import CompiledPack
from cdss.engine.decide import LeafResult, decide, trace
from cdss.engine.results import ConditionTrace, trusted_trace
from cdss.engine.truth import FALSE, TRUE, UNKNOWN, WORD, Truth
from cdss.packs.schema import Table
from cdss.packs.tables import TableFact


@dataclass(frozen=True)
class TableResult:
    """What the rows' outcomes allow: [lo, hi], or no value (`missing`), and which rows decided it."""

    lo: float | None
    hi: float | None
    missing: str | None  # None | "no-match" (no row hits, no default) | "incomplete" (may have no value)
    used: tuple[int, ...]  # 0-based rows whose output the result takes (the hits that count)

    @property
    def exact(self) -> bool:
        return self.missing is None and self.lo == self.hi


def table_result(table: Table, outcomes: Sequence[Truth]) -> TableResult:
    """The table's result from its rows' outcomes (aligned with `table.rows`)."""
    outs = [row.then for row in table.rows]
    hits = [i for i, o in enumerate(outcomes) if o is TRUE]
    maybe = [i for i, o in enumerate(outcomes) if o is UNKNOWN]
    policy = table.hit_policy
    if policy == "collect":
        return _collect(table, outs, hits, maybe)
    used: list[int]
    candidates: list[float | None]
    if policy == "first":
        used, candidates = [], []
        for i, o in enumerate(outcomes):
            if o is FALSE:
                continue
            candidates.append(outs[i])
            if o is TRUE:
                used = [i]
                break
        else:
            candidates.append(table.default)
    elif policy == "priority":
        rank = {v: k for k, v in reversed(list(enumerate(table.output.values)))}
        if hits:
            best = min(hits, key=lambda i: (rank[outs[i]], i))
            used = [best]
            candidates = [outs[best], *(outs[i] for i in maybe if rank[outs[i]] < rank[outs[best]])]
        else:
            used, candidates = [], [*(outs[i] for i in maybe), table.default]
    else:  # unique, any: a hit decides (overlapping rows agree, checked by cdss.packs.tables)
        if hits:
            used, candidates = hits, [outs[i] for i in hits]
        else:
            used, candidates = [], [*(outs[i] for i in maybe), table.default]
    return _from_candidates(candidates, used)


def _from_candidates(candidates: list[float | None], used: list[int]) -> TableResult:
    values = [c for c in candidates if c is not None]
    if not values:
        return TableResult(None, None, "no-match", tuple(used))
    if len(values) < len(candidates):
        return TableResult(min(values), max(values), "incomplete", tuple(used))
    return TableResult(min(values), max(values), None, tuple(used))


def _collect(table: Table, outs: list[float], hits: list[int], maybe: list[int]) -> TableResult:
    agg = table.aggregator
    if agg == "count":
        return TableResult(float(len(hits)), float(len(hits) + len(maybe)), None, tuple(hits))
    if agg == "sum":
        base = sum(outs[i] for i in hits)
        return TableResult(base + sum(min(0.0, outs[i]) for i in maybe),
                           base + sum(max(0.0, outs[i]) for i in maybe), None, tuple(hits))
    pick = max if agg == "max" else min
    if hits:
        best = pick(outs[i] for i in hits)
        used = tuple(i for i in hits if outs[i] == best)
        others = [outs[i] for i in maybe if pick(outs[i], best) != best]
        return _from_candidates([best, *others], list(used))
    return _from_candidates([*(outs[i] for i in maybe), table.default], [])


def decided_value(table: Table, on: Sequence[bool]) -> float | None:
    """The table's output when every row is decided (`on`: which rows hit); None: no value."""
    result = table_result(table, [TRUE if x else FALSE for x in on])
    return result.lo if result.missing is None else None


def run_table(d: TableFact, cp: CompiledPack, leaves: Mapping[int, LeafResult],
              parts: Mapping[str, tuple[ConditionTrace, ...]]) -> tuple[TableResult, tuple[ConditionTrace, ...]]:
    """Decide a table's rows and apply its hit policy: the result, and one trace per row (the rationale
    shows each row with its outcome; `✓` marks the rows whose output the result takes)."""
    table = d.table
    outcomes: list[Truth] = []
    decided = []
    for node in cp.part_trees[d.id]:
        dec = decide(node, leaves)
        outcomes.append(dec.outcome)
        decided.append(dec)
    result = table_result(table, outcomes)
    traces = []
    for i, (row, dec) in enumerate(zip(table.rows, decided, strict=True)):
        mark = " ✓" if i in result.used else ""
        cells = "; ".join(f"{col.concept} {cell}" for col, cell in zip(table.inputs, row.when, strict=True)
                          if cell.strip() != "-")
        text = f"行{i + 1} / row {i + 1}: {row.label.zh} / {row.label.en} [{cells or '-'}] → {row.then:g}{mark}"
        shown = trace(dec, cp, leaves, parts) if dec.items else None
        items = () if shown is None else shown.parts if shown.text == "all" else (shown,)
        traces.append(trusted_trace(text, WORD[dec.outcome], (), items))
    return result, tuple(traces)


def describe_result(table: Table, result: TableResult) -> tuple[str, str | None]:
    """(stat, note) of the table's evidence: the hit policy, and the rows used or the range left open."""
    stat = table.hit_policy + (f" {table.aggregator}" if table.aggregator else "")
    rows = ", ".join(str(i + 1) for i in result.used)
    note = f"row(s) {rows}" if rows else "no row hit" + (" (default)" if table.default is not None else "")
    if not result.exact:
        note += f"; rows unknown: between {result.lo:g} and {result.hi:g}"
    return stat, note
