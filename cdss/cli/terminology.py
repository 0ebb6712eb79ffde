"""CLI: `cdss terminology scan|check|suggest`: what a site's data send that the concepts do not recognise,
site ConceptMaps that map local codes to concepts, and draft maps proposed from display text."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from cdss.cli import OutputFormat, app, fail
from cdss.errors import CdssError

terminology_app = typer.Typer(help="Recognition of codes: scan data for unrecognised codings, check and draft "
                                   "site ConceptMaps.", no_args_is_help=True)
app.add_typer(terminology_app, name="terminology")

# Inputs at least this large (bytes, all files together) show a progress bar on a terminal.
PROGRESS_BYTES = 1_000_000


def _concepts(concept_maps: list[Path]):  # noqa: ANN202 - ConceptSet, imported lazily
    from cdss.packs.registry import default_registry

    concepts = default_registry().concepts
    if not concept_maps:
        return concepts
    from cdss.intake.concept_maps import apply_maps, load_map_files

    return apply_maps(concepts, load_map_files(concept_maps, concepts))


def _scan(paths: list[Path], concepts):  # noqa: ANN001, ANN202 - ConceptSet -> Scan
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from cdss.intake.scan import input_files, scan_files

    files = input_files(paths)
    total = sum(f.stat().st_size for f in files)
    console = Console(file=sys.stderr)
    with Progress(TextColumn("scanning"), BarColumn(), TextColumn("{task.completed}/{task.total} files"),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=total < PROGRESS_BYTES or not console.is_terminal) as bar:
        task = bar.add_task("scan", total=len(files))
        return scan_files(files, concepts, progress=lambda _p: bar.advance(task))


@terminology_app.command("scan")
def scan_command(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="FHIR Bundles, single resources or NDJSON "
                                       "files (.json, .ndjson, .jsonl; .xz/.gz compressed too), or folders of "
                                       "them."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    summary: bool = typer.Option(False, "--summary", help="Print the recognition figures instead: the share "
                                 "of conditions, observations and medications that map to a concept."),
    concept_map: list[Path] = typer.Option([], "--concept-map", metavar="MAP.json", help="Apply this site "
                                           "ConceptMap (FHIR R4/R5 JSON) first; repeatable."),
) -> None:
    """List every coding in the inputs that no concept recognises, with counts and the display sent.

    A scan counts every resource whatever its status; `--format json` prints
    {"unrecognised": [{"resource_type", "system", "code", "display", "count"}]}.
    """
    try:
        result = _scan(paths, _concepts(concept_map))
    except CdssError as exc:
        fail(exc, 2)
    if summary:
        if fmt is OutputFormat.json:
            typer.echo(json.dumps(result.summary_json(), ensure_ascii=False, indent=2))
            return
        typer.echo(f"files: {result.files}")
        typer.echo(f"{'group':<20} {'resources':>9} {'recognised':>10} {'share':>7}   {'codes':>5} "
                   f"{'recognised':>10} {'share':>7}")
        for group, count in result.groups.items():
            row = count.to_json()
            share = f"{row['share']:.1%}" if row["share"] is not None else "-"
            code_share = f"{row['code_share']:.1%}" if row["code_share"] is not None else "-"
            typer.echo(f"{group:<20} {row['resources']:>9} {row['recognised']:>10} {share:>7}   {row['codes']:>5} "
                       f"{row['recognised_codes']:>10} {code_share:>7}")
        return
    items = result.unrecognised
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"unrecognised": [u.to_json() for u in items]}, ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo(f"未识别编码：无 / no unrecognised codings ({result.files} files)")
        return
    typer.echo(f"未识别编码 / unrecognised codings: {len(items)} ({result.files} files)")
    for u in items:
        typer.echo(f"{u.count:>6}  {u.resource_type:<22} {u.system or '(no system)'} | {u.code} | {u.display or ''}")
