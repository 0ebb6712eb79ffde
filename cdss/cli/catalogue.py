"""CLI: `cdss catalogue` — list, search, show, import, coverage and export the disease catalogue.

The bundled catalogue is a reconstructed draft, not the official 2023 list; text output says so in its
first line, JSON output carries each entry's provenance. `--catalogue DIR` points at another version.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from cdss.cli import OutputFormat, app, fail
from cdss.errors import ConfigError, PackError
from cdss.packs.catalogue import (
    COVERAGE_KINDS,
    Catalogue,
    Disease,
    bundled_catalogue_dir,
    load_catalogue,
    rule_coverage,
    unknown_disease_hint,
)
from cdss.vocab.labels import bilingual

catalogue_app = typer.Typer(
    help="The disease catalogue (2023 community basic list, reconstructed draft): list, search, show, "
         "import an official list, rule coverage, FHIR export.",
    no_args_is_help=True,
)
app.add_typer(catalogue_app, name="catalogue")

class KindOpt(StrEnum):
    western = "western"
    tcm = "tcm"


class ExportFormat(StrEnum):
    codesystem = "codesystem"
    valueset = "valueset"
    csv = "csv"
    xlsx = "xlsx"


class StatusOpt(StrEnum):
    draft = "draft"
    active = "active"
    retired = "retired"


class FhirVersionOpt(StrEnum):
    R5 = "R5"
    R4B = "R4B"


CatalogueDirOpt = typer.Option(None, "--catalogue", help="Catalogue folder (default: the bundled one).",
                               file_okay=False)
KindOption = typer.Option(None, "--kind", help="Only western (西医) or tcm (中医) entries.")
DepartmentOption = typer.Option(None, "--department", help="Only entries of this department or "
                                                           "sub-department, e.g. 内科, 呼吸.")
FormatOption = typer.Option(OutputFormat.text, "--format", help="text (Chinese first) or json.")
ImportFileArg = typer.Argument(..., help="The official list as .csv (UTF-8) or .xlsx.")
ImportVersionOpt = typer.Option(..., "--version", help="Semver of the new catalogue version, e.g. 1.0.0.")
ImportOutOpt = typer.Option(None, "--out", file_okay=False,
                            help="Folder to write (default: ./<catalogue-id>-<version>); must not exist "
                                 "or be empty.")
ImportStatusOpt = typer.Option(StatusOpt.draft, "--status", help="Status of the new version.")
ImportKindOpt = typer.Option(None, "--kind", help="Kind of the rows that have no 类别 column.")
ImportEffectiveOpt = typer.Option(None, "--effective", help="Effective date YYYY-MM-DD (default: today).")
ExportFormatOpt = typer.Option(..., "--format", help="codesystem or valueset (FHIR JSON), or csv / xlsx (the "
                                                     "import table).")
ExportOutOpt = typer.Option(None, "--out", dir_okay=False,
                            help="File to write (default: stdout; required for xlsx).")
FhirVersionOption = typer.Option(FhirVersionOpt.R5, "--fhir-version", help="R5 or R4B.")


def _load(folder: Path | None) -> Catalogue:
    try:
        return load_catalogue(folder or bundled_catalogue_dir())
    except PackError as exc:
        fail(exc, 1)
        raise  # unreachable: fail exits


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def disease_json(d: Disease, full: bool = False) -> dict[str, Any]:
    """One entry as the CLI's JSON prints it (`full` adds syndromes and note)."""
    out: dict[str, Any] = {
        "id": d.id, "kind": d.kind, "code": d.code, "code_system": d.code_system,
        "codes": d.codes.model_dump(), "name": {"zh": d.name.zh, "en": d.name.en},
        "department": d.department, "subdepartment": d.subdepartment, "role": d.role,
        "aliases": list(d.aliases), "provenance": d.provenance.model_dump(),
    }
    if full:
        out["syndromes"] = [s.model_dump() for s in d.syndromes]
        out["note"] = d.note
    return out


def _banner(cat: Catalogue) -> str:
    meta = cat.meta
    reconstructed = sum(d.provenance.status == "reconstructed" for d in cat.diseases)
    line = f"# {cat.id}@{cat.version} ({meta.status}) {meta.title.zh} / {meta.title.en}"
    if reconstructed:
        line += (f"\n# {reconstructed} 条为重建条目，非官方清单原文 / {reconstructed} entries are "
                 "reconstructed, not copied from the official list")
    return line


def _text_line(d: Disease) -> str:
    dept = d.department + (f"/{d.subdepartment}" if d.subdepartment else "")
    mark = "" if d.provenance.status == "official" else "  [重建 reconstructed]"
    return f"{d.id:<34} {d.code or '-':<16} {d.name.zh}  {d.name.en}  ({dept}; {d.role}){mark}"


def _print_list(cat: Catalogue, found: list[Disease], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        _echo_json([disease_json(d) for d in found])
        return
    typer.echo(_banner(cat))
    for d in found:
        typer.echo(_text_line(d))
    typer.echo(f"# {len(found)} entries")


@catalogue_app.command("list")
def list_cmd(kind: KindOpt | None = KindOption, department: str | None = DepartmentOption,
             fmt: OutputFormat = FormatOption, catalogue: Path | None = CatalogueDirOpt) -> None:
    """List catalogue entries (all, or of one kind or department)."""
    cat = _load(catalogue)
    _print_list(cat, cat.search("", kind.value if kind else None, department), fmt)


@catalogue_app.command("search")
def search_cmd(text: str = typer.Argument(..., help="Part of a Chinese or English name, alias, id or code."),
               kind: KindOpt | None = KindOption, department: str | None = DepartmentOption,
               fmt: OutputFormat = FormatOption, catalogue: Path | None = CatalogueDirOpt) -> None:
    """Search entries by Chinese or English name, alias, id or code (case-insensitive)."""
    cat = _load(catalogue)
    _print_list(cat, cat.search(text, kind.value if kind else None, department), fmt)


@catalogue_app.command("show")
def show_cmd(disease_id: str = typer.Argument(..., metavar="ID", help="Entry id, e.g. hypertension."),
             fmt: OutputFormat = FormatOption, catalogue: Path | None = CatalogueDirOpt) -> None:
    """Show one entry with its codes, syndromes, provenance and note."""
    cat = _load(catalogue)
    d = cat.get(disease_id)
    if d is None:
        fail(ConfigError.one(f"unknown disease id {disease_id!r}", "unknown-disease", field="ID",
                             hint=unknown_disease_hint(cat, disease_id)), 2)
        return
    if fmt is OutputFormat.json:
        _echo_json(disease_json(d, full=True))
        return
    lines = [
        f"{d.name.zh}  {d.name.en}",
        f"  id:          {d.id}  ({cat.id}@{cat.version})",
        f"  kind:        {bilingual('disease_kind', d.kind, sep=' ')}",
        f"  code:        {d.code or '-'}  ({d.code_system})",
    ]
    for key, value in d.codes.model_dump().items():
        if value and value != d.code:
            lines.append(f"  {key + ':':<12} {value}")
    lines += [f"  department:  {d.department}" + (f" / {d.subdepartment}" if d.subdepartment else ""),
              f"  role:        {d.role}"]
    if d.aliases:
        lines.append(f"  aliases:     {', '.join(d.aliases)}")
    for s in d.syndromes:
        lines.append(f"  syndrome:    {s.name} {s.code or '-'} ({s.code_status})")
    lines.append(f"  provenance:  {d.provenance.status}: {d.provenance.basis}")
    if d.note:
        lines.append(f"  note:        {d.note}")
    typer.echo("\n".join(lines))


# --- rules (from the lead's registry) -----------------------------------------------------------------

def rule_pairs(catalogue_dir: Path | None) -> list[tuple[str, str, str | None]]:
    """(rule full id, rule kind, disease id or None) of every selected rule pack.

    Raises:
        PackError: a pack or the catalogue does not load.
    """
    from cdss.packs.registry import load_registry

    registry = load_registry(catalogue_dir=catalogue_dir) if catalogue_dir else load_registry()
    return [(rule.full_id, rule.kind, rule.disease) for pack in registry.select() for rule in pack.rules]


@catalogue_app.command("coverage")
def coverage_cmd(fmt: OutputFormat = FormatOption, catalogue: Path | None = CatalogueDirOpt) -> None:
    """For each disease: how many diagnosis / treatment / referral / pathway / medication rules point at
    it; totals and the uncovered list."""
    cat = _load(catalogue)
    try:
        rules = rule_pairs(catalogue)
    except PackError as exc:
        fail(exc, 1)
        return
    report = rule_coverage(cat, rules)
    if fmt is OutputFormat.json:
        _echo_json(report)
        return
    typer.echo(_banner(cat))
    typer.echo(f"{'id':<34} {'code':<14} " + " ".join(f"{k[:5]:>5}" for k in COVERAGE_KINDS)
               + "  name / packs")
    for item in report["diseases"]:
        n = item["rules"]
        if not any(n.values()):
            continue
        packs = ", ".join(report["totals"]["packs"].get(item["id"], []))
        typer.echo(f"{item['id']:<34} {item['code'] or '-':<14} "
                   + " ".join(f"{n[k]:>5}" for k in COVERAGE_KINDS)
                   + f"  {item['name']['zh']} {item['name']['en']} [{packs}]")
    t = report["totals"]
    typer.echo(f"# covered {t['covered']} of {t['diseases']}; rules: "
               + ", ".join(f"{k} {v}" for k, v in t["rules"].items()))
    typer.echo(f"# uncovered ({t['uncovered']}): " + ", ".join(t["uncovered_ids"]))


# --- import --------------------------------------------------------------------------------------------

@catalogue_app.command("import")
def import_cmd(
    file: Path = ImportFileArg,
    version: str = ImportVersionOpt,
    out: Path | None = ImportOutOpt,
    status: StatusOpt = ImportStatusOpt,
    kind: KindOpt | None = ImportKindOpt,
    effective: str | None = ImportEffectiveOpt,
    fmt: OutputFormat = FormatOption,
    catalogue: Path | None = CatalogueDirOpt,
) -> None:
    """Import an official list as a new catalogue version: check every row, write the folder, print the diff
    against the current version and the rules that would lose their disease. Nothing is written on errors."""
    from cdss.packs.catalogue_import import (
        build_entries,
        diff_catalogues,
        new_version_meta,
        read_table,
        rules_losing_disease,
        write_catalogue,
    )

    current = _load(catalogue)
    try:
        when = dt.date.fromisoformat(effective) if effective else None
    except ValueError:
        fail(ConfigError.one("malformed date", "malformed-date", field="--effective", got=effective,
                             expected="YYYY-MM-DD"), 2)
        return
    try:
        table = read_table(file, shown=str(file), kind=kind.value if kind else None)
    except PackError as exc:
        fail(exc, 2)
        return
    result = build_entries(table, current, file.name)
    if result.problems:
        for p in result.problems:
            typer.echo(f"cdss: {p}", err=True)
        typer.echo(f"cdss: {len(result.problems)} problem(s) in {file}; nothing was written", err=True)
        raise typer.Exit(1)
    for w in result.warnings:
        typer.echo(f"cdss: warning: {w}", err=True)
    target = out or Path.cwd() / f"{current.id}-{version}"
    try:
        meta = new_version_meta(current, version, file.name, status.value, when,
                                departments=[d.department for d in result.diseases])
        written = write_catalogue(meta, result.diseases, target,
                                  header=f"Imported from {file.name} by `cdss catalogue import`.")
    except PackError as exc:
        fail(exc, 2)
        return
    diff = diff_catalogues(current.diseases, written.diseases)
    try:
        pairs = rule_pairs(catalogue)
        losing: dict[str, list[str]] | None = rules_losing_disease(
            diff.removed, [(r, d) for r, _, d in pairs])
    except (PackError, ImportError) as exc:
        typer.echo(f"cdss: warning: rules could not be loaded, so rules losing their disease are not listed "
                   f"({str(exc).splitlines()[0]})", err=True)
        losing = None
    if fmt is OutputFormat.json:
        _echo_json({"written": str(target), "catalogue": f"{written.id}@{written.version}",
                    "entries": len(written.diseases), "diff": diff.to_dict(), "rules_losing_disease": losing})
        return
    typer.echo(f"wrote {target} ({written.id}@{written.version}, {len(written.diseases)} entries, "
               f"status {written.meta.status})")
    typer.echo(f"diff against {current.id}@{current.version}:")
    typer.echo(f"  added ({len(diff.added)}): {', '.join(diff.added) or '-'}")
    typer.echo(f"  removed ({len(diff.removed)}): {', '.join(diff.removed) or '-'}")
    typer.echo(f"  renamed ({len(diff.renamed)}): "
               + (", ".join(f"{i} {a} -> {b}" for i, a, b in diff.renamed) or "-"))
    typer.echo(f"  recoded ({len(diff.recoded)}): "
               + (", ".join(f"{i} {a or '-'} -> {b or '-'}" for i, a, b in diff.recoded) or "-"))
    if losing is not None:
        typer.echo(f"rules that would lose their disease ({sum(len(v) for v in losing.values())}):")
        for disease, rules in losing.items():
            typer.echo(f"  {disease}: {', '.join(rules)}")


# --- export ---------------------------------------------------------------------------------------------

@catalogue_app.command("export")
def export_cmd(
    fmt: ExportFormat = ExportFormatOpt,
    kind: KindOpt | None = KindOption,
    out: Path | None = ExportOutOpt,
    fhir_version: FhirVersionOpt = FhirVersionOption,
    catalogue: Path | None = CatalogueDirOpt,
) -> None:
    """Export the catalogue: FHIR CodeSystem / ValueSet (validated with fhir.resources), or the import table.

    A valueset without --kind is a JSON list of two ValueSets (western by ICD-10, tcm by GB/T 15657-2021).
    """
    from cdss.packs.catalogue_import import export_rows, write_rows_csv, write_rows_xlsx
    from cdss.render.catalogue_fhir import catalogue_code_system, catalogue_value_set, validated

    cat = _load(catalogue)
    if fmt in (ExportFormat.csv, ExportFormat.xlsx):
        shown = cat
        if kind:
            shown = Catalogue(meta=cat.meta, diseases=tuple(d for d in cat.diseases if d.kind == kind.value),
                              sha256=cat.sha256, path=cat.path)
        rows = export_rows(shown)
        if fmt is ExportFormat.xlsx:
            if out is None:
                fail(ConfigError.one("xlsx needs a file", "missing-option", field="--out",
                                     hint="pass --out FILE.xlsx"), 2)
                return
            write_rows_xlsx(rows, out)
        elif out is None:
            write_rows_csv(rows, sys.stdout)
        else:
            with open(out, "w", encoding="utf-8", newline="") as fh:
                write_rows_csv(rows, fh)
        return
    version = fhir_version.value
    if fmt is ExportFormat.codesystem:
        resource: Any = validated(catalogue_code_system(cat, kind.value if kind else None), version)
    elif kind:
        resource = validated(catalogue_value_set(cat, kind.value), version)
    else:
        resource = [validated(catalogue_value_set(cat, k), version) for k in ("western", "tcm")]
    text = json.dumps(resource, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
