"""CLI: `cdss terminology scan|check|suggest`: what a site's data send that the concepts do not recognise,
site ConceptMaps that map local codes to concepts, and draft maps proposed from display text."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

from cdss.cli import OutputFormat, app, fail
from cdss.errors import CdssError

terminology_app = typer.Typer(help="Recognition of codes: scan data for unrecognised codings, check and draft "
                                   "site ConceptMaps.", no_args_is_help=True)
app.add_typer(terminology_app, name="terminology")

class FhirVersionOpt(StrEnum):
    """FHIR version of a written ConceptMap: R4 (`equivalence`) or R5 (`relationship`)."""

    R4 = "R4"
    R5 = "R5"


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
        rows = [u.model_dump(mode="json") for u in items]
        typer.echo(json.dumps({"unrecognised": rows}, ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo(f"未识别编码：无 / no unrecognised codings ({result.files} files)")
        return
    typer.echo(f"未识别编码 / unrecognised codings: {len(items)} ({result.files} files)")
    for u in items:
        typer.echo(f"{u.count:>6}  {u.resource_type:<22} {u.system or '(no system)'} | {u.code} | {u.display or ''}")


@terminology_app.command("check")
def check_command(
    maps: list[Path] = typer.Argument(..., metavar="MAP.json...", help="Site ConceptMaps (FHIR R4/R5 JSON)."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """Check site ConceptMaps: url and version, every target a known concept, no source mapped twice.

    Exit 0 when every map is usable, 1 with every problem (file and FHIR path), 2 for an unreadable file.
    """
    from cdss.errors import IntakeError
    from cdss.intake.concept_maps import apply_maps, load_map_files
    from cdss.packs.registry import default_registry

    try:
        concepts = default_registry().concepts
        loaded = load_map_files(maps, concepts)
        apply_maps(concepts, loaded)
    except IntakeError as exc:
        if fmt is OutputFormat.json:
            typer.echo(json.dumps({"ok": False, "problems": [p.to_dict() for p in exc.problems]},
                                  ensure_ascii=False, indent=2))
            raise typer.Exit(2 if exc.code == "file-unreadable" else 1) from None
        fail(exc, 2 if exc.code == "file-unreadable" else 1)
    except CdssError as exc:
        fail(exc, 2)
    rows = [{"file": m.file, **m.stamp.model_dump(mode="json"), "applied": len(m.entries), "not_applied": m.ignored}
            for m in loaded]
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": True, "maps": rows}, ensure_ascii=False, indent=2))
        return
    for r in rows:
        typer.echo(f"ok: {r['file']}: {r['url']}|{r['version']} sha256 {r['sha256'][:12]}: {r['applied']} mapped, "
                   f"{r['not_applied']} not applied (relatedto / broader / unconfirmed)")


@terminology_app.command("suggest")
def suggest_command(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="Inputs to scan, as for `scan`."),
    out: Path | None = typer.Option(None, "--out", help="Write the draft ConceptMap here (default: stdout)."),
    fhir_version: FhirVersionOpt = typer.Option(FhirVersionOpt.R4, "--fhir-version",
                                                help="R4 (equivalence) or R5 (relationship)."),
    limit: int = typer.Option(3, "--limit", min=1, max=10, help="Candidates per coding."),
    min_score: float = typer.Option(80.0, "--min-score", min=0, max=100, help="Lowest fuzzy score kept (0-100)."),
    concept_map: list[Path] = typer.Option([], "--concept-map", metavar="MAP.json", help="Apply this site "
                                           "ConceptMap first; repeatable."),
) -> None:
    """Propose candidate concepts for unrecognised codings from their display text (Chinese and English
    names of the concepts and their codes' displays) and write a DRAFT ConceptMap.

    Every entry is marked unconfirmed (equivalence `relatedto`), which no evaluation applies: a person
    reviews the draft and confirms an entry by setting `equivalent` (or `wider`). Never applied by itself.
    """
    from cdss.intake.suggest import draft_map, suggest

    try:
        concepts = _concepts(concept_map)
        found = suggest(_scan(paths, concepts).unrecognised, concepts, limit=limit, min_score=min_score)
    except CdssError as exc:
        fail(exc, 2)
    draft = draft_map(found, version=fhir_version.value)  # type: ignore[arg-type]
    text = json.dumps(draft, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    with_candidates = sum(1 for s in found if s.candidates)
    typer.echo(f"草稿已写入 draft written: {out} ({with_candidates} of {len(found)} unrecognised codings have "
               f"candidates; every entry is UNCONFIRMED and not applied until reviewed)", err=True)
    for s in found:
        best = ", ".join(f"{c.concept} {c.score:g}" for c in s.candidates) or "-"
        typer.echo(f"  {s.coding.system}|{s.coding.code} {s.coding.display or ''}: {best}", err=True)
