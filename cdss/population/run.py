"""Population: one batch run, either engine, into an output folder."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cdss.errors import ConfigError
from cdss.population.indicators import Tally, load_indicators
from cdss.population.job import JobConfig
from cdss.population.outputs import Sink
from cdss.population.sources import expand, input_bytes
from cdss.vocab.times import parse_time


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.date().isoformat(), "end": self.end.date().isoformat()}


def parse_period(value: str | None, now: dt.datetime) -> Period:
    """`START..END` (ISO dates, END inclusive); absent: the 365 days up to `now`.

    Raises:
        ConfigError: not two dates, or START after END [bad-period].
    """
    if value is None:
        return Period(now - dt.timedelta(days=365), now)
    start_s, sep, end_s = value.partition("..")
    try:
        if not sep:
            raise ValueError
        start, end = parse_time(start_s), parse_time(end_s)
    except ValueError:
        raise ConfigError.one("not a period", "bad-period", field="--period", got=value,
                              expected="START..END, e.g. 2026-01-01..2026-12-31") from None
    if start > end:
        raise ConfigError.one("the period starts after it ends", "bad-period", field="--period", got=value)
    return Period(start, end)


def quarter_ends(period: Period, now: dt.datetime) -> list[dt.datetime]:
    """The ends (23:59:59 UTC) of the calendar quarters that end inside the period, before `now`."""
    out = []
    for year in range(period.start.year, now.year + 1):
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31)):
            t = dt.datetime(year, month, day, 23, 59, 59, tzinfo=dt.UTC)
            if period.start <= t < now and t.date() < now.date():
                out.append(t)
    return out


def _records(engine: str, files: list[Path], config: JobConfig, tmp: Path, workers: int, size: int,
             progress: Any) -> Iterator[Any]:
    """(records, errors, shared) of one run of either engine, then the number of evaluations."""
    session = counter = None
    if engine == "spark":
        from cdss.population.spark import run_spark

        records, errors, shared, (session, counter) = run_spark(files, config, workers)
    else:
        from cdss.population.local import run_local

        records, errors, shared = run_local(files, config, tmp, workers, size, progress)
    evaluations = [0]

    def counted() -> Iterator[dict[str, Any]]:
        for record in records:
            evaluations[0] += 1
            yield record

    try:
        yield counted(), errors, shared
    finally:
        if counter is not None:
            evaluations[0] = counter.value
        if session is not None:
            session.stop()
    yield evaluations[0]


def run_batch(inputs: list[str], out: Path, *, now: dt.datetime, period: Period, engine: str = "local",
              workers: int = 1, pins: tuple[str, ...] = (), packs_dirs: tuple[str, ...] = (),
              progress: Any = None, trend: bool = False) -> dict[str, Any]:
    """Evaluate every patient of the inputs and write the output folder; return the summary. With `trend`,
    the indicators are also computed at the end of each calendar quarter of the period (each a rolling
    year, one more evaluation of every patient per point) into trend.json and the report.

    Raises:
        ConfigError: missing inputs, bad indicator definitions.
        CdssError: unknown pack pins (raised by a worker).
    """
    files = expand(inputs)
    size = input_bytes(files)
    definitions = load_indicators()
    config = JobConfig(now=now.isoformat(), pins=tuple(pins), packs_dirs=tuple(packs_dirs),
                       contract_concept=definitions.contract_concept)
    from cdss.population.job import Worker

    Worker(config)  # fail fast (unknown pins, bad packs) before any work
    t0 = time.perf_counter()
    sink = Sink(out, definitions)
    points = []
    with tempfile.TemporaryDirectory(prefix="cdss-batch-") as tmp:
        if trend:
            for i, at in enumerate(quarter_ends(period, now)):
                tally = Tally(definitions)
                (Path(tmp) / f"t{i}").mkdir()
                run = _records(engine, files, replace(config, now=at.isoformat()), Path(tmp) / f"t{i}", workers,
                               size, progress)
                records, _, _ = next(run)
                for record in records:
                    if "error" not in record:
                        tally.add(record)
                for _ in run:
                    pass
                points.append({"at": at.date().isoformat(), "indicators": _compact(tally.to_json({}))})
        run = _records(engine, files, config, Path(tmp), workers, size, progress)
        records, errors, shared = next(run)
        for record in records:
            sink.add(record)
        evaluations = list(run)[0]
        sink.add_errors(errors)
        summary = sink.close({**period.to_json(), "now": now.isoformat()}, shared)
    if trend:
        points.append({"at": now.date().isoformat(), "indicators": _compact(summary["indicators"])})
        (out / "trend.json").write_text(json.dumps({"points": points}, ensure_ascii=False, indent=2) + "\n",
                                        encoding="utf-8")
        summary["trend"] = points
    from cdss.population.report import write_report

    write_report(out, summary)
    seconds = time.perf_counter() - t0
    return {**summary, "seconds": round(seconds, 3), "bytes": size, "files": len(files), "engine": engine,
            "workers": workers, "evaluations": evaluations}


def _compact(indicators: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: i[k] for k in ("id", "group", "numerator", "denominator", "value")} for i in indicators["indicators"]]
