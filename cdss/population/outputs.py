"""Population: the output folder, written from the stream of patient records in patient order.

evaluations.ndjson (one evaluation line per patient), suggestions.parquet, data_gaps.parquet,
indicator_members.parquet (row batches, never the whole table in memory), indicators.json,
errors.ndjson, and the data report.html is drawn from (summary.json).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cdss.population.indicators import IndicatorFile, Tally

BATCH = 5000
WORKLIST_CAP = 200  # residents listed per doctor and worklist rule in the report (the rest are counted)

SUGGESTION_SCHEMA = pa.schema([
    ("patient", pa.string()), ("suggestion_id", pa.string()), ("pack", pa.string()), ("pack_version", pa.string()),
    ("rule", pa.string()), ("kind", pa.string()), ("urgency", pa.string()), ("disease", pa.string()),
    ("title_zh", pa.string()), ("title_en", pa.string()), ("evidence", pa.string()),
    ("centre", pa.string()), ("team", pa.string()), ("doctor", pa.string()),
    ("cautions_zh", pa.list_(pa.string())), ("cautions_en", pa.list_(pa.string()))])  # (added last: 2026-12)
GAP_SCHEMA = pa.schema([
    ("patient", pa.string()), ("pack", pa.string()), ("pack_version", pa.string()), ("rule", pa.string()),
    ("concept", pa.string()), ("reason", pa.string()), ("urgency", pa.string())])
MEMBER_SCHEMA = pa.schema([
    ("indicator", pa.string()), ("patient", pa.string()), ("in_numerator", pa.bool_()),
    ("in_denominator", pa.bool_()), ("centre", pa.string()), ("team", pa.string()), ("doctor", pa.string())])


class _Table:
    """A Parquet file written in row batches."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema)
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


class Sink:
    """Receives patient records in patient order and writes every output file."""

    def __init__(self, out: Path, definitions: IndicatorFile):
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.definitions = definitions
        self.evaluations = open(out / "evaluations.ndjson", "w", encoding="utf-8")
        self.suggestions = _Table(out / "suggestions.parquet", SUGGESTION_SCHEMA)
        self.gaps = _Table(out / "data_gaps.parquet", GAP_SCHEMA)
        self.members = _Table(out / "indicator_members.parquet", MEMBER_SCHEMA)
        self.tally = Tally(definitions)
        self.errors: list[dict[str, Any]] = []
        self.patients = 0
        self.suggestion_count = 0
        self.worklist_rules = {w.rule: w.status for w in definitions.worklists}
        # doctor -> rule -> [count, [resident rows]] (the first WORKLIST_CAP residents)
        self.worklists: dict[str, dict[str, list[Any]]] = {}
        self.last_key: str | None = None

    def add(self, record: dict[str, Any]) -> None:
        key = record["key"]
        if self.last_key is not None and key <= self.last_key:
            raise RuntimeError(f"records out of order: {key!r} after {self.last_key!r}")
        self.last_key = key
        if "error" in record:
            self.errors.append(record["error"])
            return
        self.patients += 1
        self.evaluations.write(record["line"] + "\n")
        groups = {k: record.get(k) for k in ("centre", "team", "doctor")}
        for s in record["suggestions"]:
            self.suggestion_count += 1
            self.suggestions.add({"patient": record["patient"], **s, **groups})
            status = self.worklist_rules.get(s["rule"])
            if status is not None:
                entry = self.worklists.setdefault(groups["doctor"] or "", {}).setdefault(s["rule"], [0, []])
                entry[0] += 1
                if len(entry[1]) < WORKLIST_CAP:
                    entry[1].append({"patient": record["patient"], "name": record.get("name"),
                                     "age": record.get("age"), "title_zh": s["title_zh"],
                                     "title_en": s["title_en"], "status": status})
        for g in record["gaps"]:
            for r in g["rules"]:
                self.gaps.add({"patient": record["patient"], "pack": r["pack"], "pack_version": r["pack_version"],
                               "rule": r["rule"], "concept": g["concept"], "reason": g["reason"],
                               "urgency": g["urgency"]})
        for row in self.tally.add(record):
            self.members.add(row)

    def add_errors(self, errors: Iterable[dict[str, Any]]) -> None:
        self.errors.extend(errors)

    def close(self, period: dict[str, str], shared: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Finish every file; return the run's summary (also written to summary.json)."""
        self.evaluations.close()
        for table in (self.suggestions, self.gaps, self.members):
            table.close()
        indicators = self.tally.to_json(period)
        (self.out / "indicators.json").write_text(json.dumps(indicators, ensure_ascii=False, indent=2) + "\n",
                                                  encoding="utf-8")
        errors = sorted(self.errors, key=lambda e: (e.get("patient") or "", e.get("source") or "",
                                                    e.get("message") or ""))
        with open(self.out / "errors.ndjson", "w", encoding="utf-8") as fh:
            for e in errors:
                fh.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")
        summary = {"period": period, "patients": self.patients, "errors": len(errors),
                   "suggestions": self.suggestion_count,
                   "worklists": {doc: {rule: {"count": c, "residents": rows, "status": self.worklist_rules[rule]}
                                       for rule, (c, rows) in sorted(rules.items())}
                                 for doc, rules in sorted(self.worklists.items())},
                   "names": {ref: _display(res) for ref, res in sorted(shared.items())}}
        (self.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
        return {**summary, "indicators": indicators}


def _display(res: dict[str, Any]) -> str | None:
    if isinstance(res.get("name"), str):  # Organization, CareTeam
        return res["name"]
    for name in res.get("name") or []:
        if isinstance(name, dict):
            if isinstance(name.get("text"), str):
                return name["text"]
            given = "".join(g for g in name.get("given") or [] if isinstance(g, str))
            family = name.get("family") if isinstance(name.get("family"), str) else ""
            if family or given:
                return f"{family}{given}"
    return None
