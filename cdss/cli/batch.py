"""CLI: `cdss batch INPUT... --out DIR`: evaluate a whole population (a FHIR Bulk Data export, bundles)
and compute the public-health indicators, on a local process pool or on Apache Spark."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path

import typer

from cdss.cli import app, fail
from cdss.cli.evaluate import parse_now
from cdss.errors import CdssError


class Engine(StrEnum):
    local = "local"
    spark = "spark"


@app.command("batch")
def batch_command(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="FHIR Bulk Data export folder(s) (NDJSON "
                                       "per resource type), NDJSON of resources or Bundles, Bundle files, "
                                       "folders of these (.gz / .xz read compressed)."),
    out: Path = typer.Option(..., "--out", help="Output folder (created): evaluations.ndjson, suggestions."
                             "parquet, data_gaps.parquet, indicators.json, indicator_members.parquet, "
                             "errors.ndjson, report.html."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local: a process pool on this machine; "
                                  "spark: Apache Spark through pyspark (local[*] unless spark-submit "
                                  "gives a master)."),
    workers: int = typer.Option(0, "--workers", min=0, max=512, help="Worker processes (local) or the "
                                "parallelism hint (spark); 0 = the number of cores."),
    now: str | None = typer.Option(None, "--now", help="Evaluation time, ISO-8601 (default: the end of "
                                   "--period, else now)."),
    period: str | None = typer.Option(None, "--period", metavar="START..END", help="The indicators' period "
                                      "(dates, END inclusive); default: the 365 days up to --now."),
    trend: bool = typer.Option(False, "--trend", help="Also compute the indicators at the end of each calendar "
                               "quarter of the period (a rolling year each; one more pass per quarter) into "
                               "trend.json and the report's trend charts."),
    pack: list[str] = typer.Option([], "--pack", metavar="ID[@VERSION]", help="Run this pack version "
                                   "instead of the newest active one; repeatable."),
    packs_dir: list[Path] = typer.Option([], "--packs-dir", help="Also load the packs below this folder; "
                                         "repeatable."),
) -> None:
    """Evaluate every patient of a population and compute the quality indicators.

    Patients whose data are unusable are listed in errors.ndjson and the run goes on. Exit 0 when the run
    finished (even with such patients); exit 2 for unusable arguments or inputs.
    """
    import datetime as dt

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cdss.population.run import parse_period, run_batch

    try:
        if now is None and period is not None:
            end = parse_period(period, dt.datetime.now(dt.UTC)).end
            when = (end + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0) - dt.timedelta(seconds=1)
        else:
            when = parse_now(now)
        span = parse_period(period, when)
        cores = workers or os.cpu_count() or 1
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=True, disable=not sys.stderr.isatty()) as progress:
            summary = run_batch(inputs, out, now=when, period=span, engine=engine.value, workers=cores,
                                pins=tuple(pack), packs_dirs=tuple(str(p) for p in packs_dir),
                                progress=progress if engine is Engine.local else None, trend=trend)
    except CdssError as exc:
        fail(exc, 2)
    rate = summary["patients"] / summary["seconds"] if summary["seconds"] else 0.0
    typer.echo(f"cdss batch: {summary['patients']} patients evaluated, {summary['errors']} not evaluable, "
               f"{summary['suggestions']} suggestions; {summary['bytes'] / 2**20:.1f} MB in "
               f"{summary['seconds']:.1f} s ({rate:.0f} patients/s, engine {engine.value}, {cores} workers) "
               f"-> {out}", err=True)
