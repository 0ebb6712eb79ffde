"""Population: one batch run, either engine, into an output folder."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdss.errors import ConfigError
from cdss.population.indicators import load_indicators
from cdss.population.job import JobConfig
from cdss.population.outputs import Sink
from cdss.population.sources import expand, input_bytes


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
        start = dt.datetime.fromisoformat(start_s).replace(tzinfo=dt.UTC)
        end = dt.datetime.fromisoformat(end_s).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ConfigError.one("not a period", "bad-period", field="--period", got=value,
                              expected="START..END, e.g. 2026-01-01..2026-12-31") from None
    if start > end:
        raise ConfigError.one("the period starts after it ends", "bad-period", field="--period", got=value)
    return Period(start, end)


def run_batch(inputs: list[str], out: Path, *, now: dt.datetime, period: Period, engine: str = "local",
              workers: int = 1, pins: tuple[str, ...] = (), packs_dirs: tuple[str, ...] = (),
              progress: Any = None) -> dict[str, Any]:
    """Evaluate every patient of the inputs and write the output folder; return the summary.

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
    session = counter = None
    with tempfile.TemporaryDirectory(prefix="cdss-batch-") as tmp:
        if engine == "spark":
            from cdss.population.spark import run_spark

            records, errors, shared, (session, counter) = run_spark(files, config, workers)
        else:
            from cdss.population.local import run_local

            records, errors, shared = run_local(files, config, Path(tmp), workers, size, progress)
        evaluations = 0
        try:
            for record in records:
                sink.add(record)
                evaluations += 1
            if counter is not None:
                evaluations = counter.value
        finally:
            if session is not None:
                session.stop()
        sink.add_errors(errors)
        summary = sink.close({**period.to_json(), "now": now.isoformat()}, shared)
    from cdss.population.report import write_report

    write_report(out, summary)
    seconds = time.perf_counter() - t0
    return {**summary, "seconds": round(seconds, 3), "bytes": size, "files": len(files), "engine": engine,
            "workers": workers, "evaluations": evaluations}
