"""CLI: `cdss evaluate FILE|-`: evaluate a FHIR Bundle and print the advice (a stable contract)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer

from cdss.cli import OutputFormat, app, fail
from cdss.errors import CdssError, ConfigError
from cdss.vocab.times import parse_time


def parse_now(value: str | None) -> dt.datetime:
    """`--now` as an aware datetime; a date alone means midnight UTC; absent means the current time."""
    if value is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        return parse_time(value)
    except ValueError:
        raise ConfigError.one("not an ISO-8601 date or time", "bad-now", field="--now", got=value,
                              expected="e.g. 2026-11-22 or 2026-11-22T09:00:00+08:00") from None


@app.command("evaluate")
def evaluate_command(
    file: str = typer.Argument(..., metavar="FILE|-", help="FHIR Bundle (JSON) to evaluate; - reads stdin."),
    now: str | None = typer.Option(None, "--now", help="Evaluation time, ISO-8601 (default: now). Ages, "
                                   "windows and staleness count from it."),
    fmt: OutputFormat = typer.Option(OutputFormat.json, "--format", help="json (the stable contract) or text."),
    pack: list[str] = typer.Option([], "--pack", metavar="ID[@VERSION]", help="Run this pack version "
                                   "instead of the newest active one; repeatable."),
    packs_dir: list[Path] = typer.Option([], "--packs-dir", help="Also load the packs below this folder; "
                                         "repeatable."),
    concept_map: list[Path] = typer.Option([], "--concept-map", metavar="MAP.json", help="Site ConceptMap "
                                           "(FHIR R4/R5 JSON) mapping local codes to concepts; repeatable. "
                                           "The answer names every map it used."),
) -> None:
    """Evaluate a FHIR Bundle and print suggestions with their rationale and data gaps.

    Exit 0 with advice (possibly none); exit 2 with a one-line message for unusable input.
    """
    from cdss.engine.evaluate import evaluate
    from cdss.engine.plan_cache import ready_registry
    from cdss.packs.registry import load_registry
    from cdss.render.json import render_json

    try:
        when = parse_now(now)
        if file == "-":
            data, name = sys.stdin.buffer.read(), "<stdin>"
        else:
            try:
                data, name = Path(file).read_bytes(), file
            except OSError as exc:
                raise ConfigError.one(f"cannot read the file: {exc.strerror}", "file-unreadable", file=file) from exc
        registry = load_registry(packs_dir) if packs_dir else ready_registry()
        if concept_map:
            from cdss.intake.concept_maps import with_maps

            registry = with_maps(registry, concept_map)
        result = evaluate(data, now=when, registry=registry, pins=pack, source_name=name)
    except CdssError as exc:
        fail(exc, 2)
    if fmt is OutputFormat.json:
        typer.echo(render_json(result), nl=False)
        return
    from cdss.render.conditions import wording_for  # the text's words (labels.yaml): only for text
    from cdss.render.text import render_text

    typer.echo(render_text(result, wording_for(registry)), nl=False)
