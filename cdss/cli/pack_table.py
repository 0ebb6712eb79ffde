"""CLI: `cdss pack table export|import`: decision tables to and from XLSX (see `cdss.packs.xlsx`).

Exit codes: 0 ok, 1 problems (a cell, a sheet, the pack's check), 2 usage (no such pack or table).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cdss.cli import fail
from cdss.errors import ConfigError, PackError

table_app = typer.Typer(help="Decision tables to and from XLSX workbooks (one sheet per table).",
                        no_args_is_help=True)  # `cdss pack table`: added to the pack group by cdss.cli.pack


def _pack_folder(path: Path) -> Path:
    if not (path / "pack.yaml").is_file():
        fail(ConfigError.one("not a pack folder (no pack.yaml)", "not-a-pack", file=str(path),
                             hint="give a folder like pathways/htn-community"), 2)
    return path


@table_app.command("export")
def export_command(
    path: Path = typer.Argument(..., help="The pack folder."),
    table_ids: list[str] = typer.Argument(None, help="Table ids to export (default: every table of the pack)."),
    out: Path = typer.Option(..., "-o", "--out", help="The XLSX file to write."),
) -> None:
    """Write decision tables to an XLSX workbook, one sheet per table (Chinese labels first)."""
    from cdss.packs.xlsx import pack_tables, write_workbook

    folder = _pack_folder(path)
    try:
        found = pack_tables(folder)
    except PackError as exc:
        fail(exc, 1)
    wanted = table_ids or sorted(found)
    missing = [t for t in wanted if t not in found]
    if missing or not wanted:
        listed = ", ".join(sorted(found)) or "none"
        fail(ConfigError.one(f"no table {missing[0]!r} in the pack" if missing else "the pack has no tables",
                             "unknown-table", file=str(folder), hint=f"tables: {listed}"), 2)
    try:
        write_workbook([found[t].table for t in wanted], out)
    except PackError as exc:
        fail(exc, 1)
    typer.echo(f"{out}: {len(wanted)} table(s): {', '.join(wanted)}", err=True)


@table_app.command("import")
def import_command(
    path: Path = typer.Argument(..., help="The pack folder."),
    workbook: Path = typer.Argument(..., help="An XLSX file written by `cdss pack table export` and edited."),
) -> None:
    """Read edited tables back: check every cell (errors as `Sheet!C17`), write the tables that changed in
    place in their rules files (the rest of each file is kept), and check the pack again. Bump the pack's
    version before publishing the change."""
    from cdss.packs.loader import bundled_dir
    from cdss.packs.registry import load_concepts, load_pack
    from cdss.packs.xlsx import pack_tables, read_workbook, replace_table

    folder = _pack_folder(path)
    try:
        found = pack_tables(folder)
        concepts = load_concepts(bundled_dir("catalogue") / "concepts")
        derived = set(found) | _derived_ids(folder)
        tables = read_workbook(workbook, found, concepts, derived)
    except PackError as exc:
        fail(exc, 1)
    originals = {loc.path: loc.path.read_text(encoding="utf-8") for loc in found.values()}
    changed = []
    try:
        for table in tables:
            loc = found[table.id]
            if replace_table(loc.path, loc.index, loc.table, table):
                changed.append(table.id)
        if changed:
            load_pack(folder, concepts)
    except PackError as exc:
        for file, text in originals.items():
            file.write_text(text, encoding="utf-8")
        fail(exc, 1)
    for table in tables:
        typer.echo(f"{table.id}: {'updated in ' + str(found[table.id].path) if table.id in changed else 'unchanged'}",
                   err=True)


def _derived_ids(folder: Path) -> set[str]:
    from cdss.packs.loader import read_yaml, validate
    from cdss.packs.schema import PackFile, RulesFile

    ids = {d.id for d in validate(PackFile, read_yaml(folder / "pack.yaml")).derived}
    for path in sorted((folder / "rules").glob("*.yaml")):
        ids |= {d.id for d in validate(RulesFile, read_yaml(path)).derived}
    return ids
