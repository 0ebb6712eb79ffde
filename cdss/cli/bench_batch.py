"""CLI: `cdss bench --batch`: patients per second, MB per second per core and peak memory of `cdss batch`
on generated populations (a Bulk Data export of N residents) and on the Synthea sample bundles."""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys
import tempfile
from pathlib import Path

import typer

from cdss.cli.bench_table import col, echo_cases
from cdss.population.run import parse_period, run_batch

SYNTHEA = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "bundles" / "synthea"


def _peak_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of the largest finished worker process, in MB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def run_batch_bench(sizes: str, workers: int, fmt: str, engine: str = "local") -> None:
    from cdss.packs.registry import default_registry
    from cdss.testing.population import write_bulk_export

    counts = [int(s) for s in sizes.split(",") if s.strip()]
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    cores = workers or os.cpu_count() or 1
    registry = default_registry()
    cases = []
    with tempfile.TemporaryDirectory(prefix="cdss-bench-batch-") as tmp:
        inputs: list[tuple[str, list[str]]] = []
        for n in counts:
            folder = write_bulk_export(Path(tmp) / f"pop-{n}", n, concepts=registry.concepts, now=now, seed=n % 97)
            inputs.append((f"generated {n}", [str(folder)]))
        if SYNTHEA.is_dir():
            inputs.append((f"synthea {len(list(SYNTHEA.glob('*.json.xz')))} bundles (.xz)", [str(SYNTHEA)]))
        for label, paths in inputs:
            typer.echo(f"bench --batch: {label} ...", err=True)
            summary = run_batch(paths, Path(tmp) / "out", now=now, period=parse_period(None, now), engine=engine,
                                workers=cores)
            driver, worker = _peak_mb()
            seconds = summary["seconds"]
            cases.append({"input": label, "patients": summary["patients"], "bytes": summary["bytes"],
                          "seconds": seconds, "patients_per_s": round(summary["patients"] / seconds, 1),
                          "mb_per_s_per_core": round(summary["bytes"] / 2**20 / seconds / cores, 3),
                          "peak_driver_mb": round(driver, 1), "peak_worker_mb": round(worker, 1)})
    echo_cases(cases, [
        col("input", "<34"), col("patients", ">8"), ("MB", ">7.2f", lambda c: c["bytes"] / 2**20),
        col("s", ">7.1f", "seconds"), col("pat/s", ">7", "patients_per_s"), col("MB/s/core", ">9", "mb_per_s_per_core"),
        ("peak MB (driver/worker)", ">24", lambda c: f"{c['peak_driver_mb']:>11} / {c['peak_worker_mb']:<10}")],
        as_json={"engine": engine, "workers": cores} if fmt == "json" else None,
        heading=f"cdss batch, engine {engine}, {cores} workers (wall time includes start-up, grouping and report)")
    sys.stdout.flush()
