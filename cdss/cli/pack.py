"""CLI: `cdss pack ...`: the guideline editor's toolkit (validate, test, diff, publish, migrate, schema).

Exit codes: 0 ok, 1 problems found in the pack (invalid, a case or property fails, content changed
without a new version), 2 usage (no such folder, bad option). Problems go to stderr as
`FILE:LINE:COL: FIELD: what is wrong ...; what to do [code]`; `--format json` prints one JSON document
on stdout instead.
"""

from __future__ import annotations

import json
import types
import typing
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from cdss.cli import OutputFormat, app, fail
from cdss.cli.pack_table import table_app
from cdss.errors import CdssError, ConfigError, PackError, Problem

pack_app = typer.Typer(help="Validate, test, diff and publish rule packs (the guideline editor's toolkit).",
                       no_args_is_help=True)
app.add_typer(pack_app, name="pack")
pack_app.add_typer(table_app, name="table")


class SchemaFormat(StrEnum):
    markdown = "markdown"
    json = "json"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _folders(path: Path) -> list[Path]:
    """Pack folders of PATH (a pack folder, or a folder of packs such as pathways/)."""
    from cdss.packs.registry import pack_folders

    if not path.is_dir():
        raise ConfigError.one("no such folder", "not-a-pack", file=str(path),
                              hint="give a pack folder (with pack.yaml) or a folder of packs")
    folders = pack_folders(path)
    if not folders:
        raise ConfigError.one("no pack.yaml in this folder or its subfolders", "not-a-pack", file=str(path),
                              hint="give a folder like pathways/htn-community")
    return folders


def _base_registry():  # noqa: ANN202 - Registry, imported lazily to keep `cdss --help` fast
    from cdss.packs.registry import load_registry

    return load_registry(bundled=False)


def _print_problems(problems: tuple[Problem, ...] | list[Problem], prefix: str = "") -> None:
    for p in problems:
        typer.echo(f"{prefix}{p}", err=True)


# --- validate -------------------------------------------------------------------------------------------

@pack_app.command("validate")
def validate_command(
    path: Path = typer.Argument(..., help="A pack folder (with pack.yaml), or a folder of packs."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text (problems on stderr) or json (stdout)."),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file of published versions (default: the nearest "
                                     "PUBLISHED.lock above the pack)."),
    no_lock: bool = typer.Option(False, "--no-lock", help="Do not check version discipline."),
) -> None:
    """Check a pack: schema, references, citations, evidence marks, duplicate ids, example cases, and that
    a published version's content has not changed.

    Exit 0 when valid (warnings allowed), 1 with problems, 2 for a wrong path.
    """
    from cdss.testing.validate import validate_pack

    try:
        folders = _folders(path)
        registry = _base_registry()
        reports = [validate_pack(f, registry, lock_path=lock, use_lock=not no_lock) for f in folders]
    except ConfigError as exc:
        fail(exc, 2)
    except CdssError as exc:
        fail(exc, 1)
    ok = all(r.ok for r in reports)
    if fmt is OutputFormat.json:
        _echo_json({"ok": ok, "packs": [r.to_json() for r in reports]})
    else:
        for r in reports:
            _print_problems(r.problems)
            _print_problems(r.warnings, "warning: ")
            verdict = "valid" if r.ok else f"{len(r.problems)} problem(s)"
            typer.echo(f"{r.name}: {verdict}" + (f", {len(r.warnings)} warning(s)" if r.warnings else ""), err=True)
    raise typer.Exit(0 if ok else 1)


# --- publish ---------------------------------------------------------------------------------------------

@pack_app.command("publish")
def publish_command(
    path: Path = typer.Argument(..., help="The pack folder to publish."),
    lock: Path | None = typer.Option(None, "--lock", help="Lock file (default: the nearest PUBLISHED.lock above "
                                     "the pack, else PUBLISHED.lock beside the pack folder)."),
) -> None:
    """Record the pack's id@version and content hash in the lock file, after validating it and running
    its example cases. A draft is refused; so is a published version whose content changed.
    """
    from cdss.testing.cases import run_pack_cases
    from cdss.testing.validate import LOCK_NAME, find_lock, publish_pack, validate_pack

    try:
        if not (path / "pack.yaml").is_file():
            raise ConfigError.one("not a pack folder (no pack.yaml)", "not-a-pack", file=str(path))
        registry = _base_registry()
        lock_file = lock or find_lock(path) or path.resolve().parent / LOCK_NAME
        report = validate_pack(path, registry, lock_path=lock_file)
        if not report.ok or report.pack is None:
            raise PackError(report.problems)
        failed = [r for r in run_pack_cases(report.pack, registry) if not r.passed]
        if failed:
            raise PackError([Problem(f"example case fails: {'; '.join(r.failures)}", "case-failed", file=r.file,
                                     line=r.line, field=f"cases.{r.case.id}", hint="run `cdss pack test`")
                             for r in failed])
        outcome = publish_pack(report, lock_file)
    except ConfigError as exc:
        fail(exc, 2)
    except CdssError as exc:
        fail(exc, 1)
    from cdss.packs.loader import display_path

    what = "published" if outcome.changed else "already published (same content)"
    typer.echo(f"{outcome.pack.key} {what}: {outcome.pack.sha256} in {display_path(outcome.lock)}")


# --- test ------------------------------------------------------------------------------------------------

def _indent(text: str, pad: str) -> list[str]:
    return [pad + line if line else line for line in text.rstrip().splitlines()]


@pack_app.command("test")
def test_command(
    path: Path = typer.Argument(..., help="A pack folder, or a folder of packs."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text (a report) or json (for CI)."),
    examples: int = typer.Option(25, "--examples", min=1, max=10000, help="Generated patients per property."),
    no_properties: bool = typer.Option(False, "--no-properties", help="Run the example cases only."),
    strict_reachability: bool = typer.Option(False, "--strict-reachability", help="A rule that fires for no "
                                             "generated patient is a failure, not a warning."),
) -> None:
    """Run a pack's example cases and property checks; print pass/fail with the trace of each failure.

    Exit 0 when everything passes (warnings allowed), 1 when a case or property fails or the pack is
    invalid, 2 for a wrong path.
    """
    from cdss.packs.registry import load_pack
    from cdss.render.text import render_text
    from cdss.testing.cases import run_pack_cases
    from cdss.testing.properties import check_pack_properties, format_counterexample

    try:
        folders = _folders(path)
        registry = _base_registry()
    except ConfigError as exc:
        fail(exc, 2)
    except CdssError as exc:
        fail(exc, 1)
    reports: list[dict[str, Any]] = []
    lines: list[str] = []
    all_ok = True
    for folder in folders:
        try:
            pack = load_pack(folder, registry.concepts, registry.catalogue)
            cases = run_pack_cases(pack, registry)
        except CdssError as exc:
            all_ok = False
            _print_problems(exc.problems)
            reports.append({"folder": str(folder), "ok": False, "problems": [p.to_dict() for p in exc.problems]})
            continue
        props = [] if no_properties else check_pack_properties(pack, registry, examples=examples,
                                                               strict_reachability=strict_reachability)
        failed_cases = [c for c in cases if not c.passed]
        failed_props = [p for p in props if p.status == "failed"]
        warned = [p for p in props if p.status == "warning"]
        ok = not failed_cases and not failed_props
        all_ok = all_ok and ok
        reports.append({
            "pack": pack.key, "folder": str(folder), "ok": ok,
            "cases": [{"name": c.name, "file": c.file, "line": c.line, "passed": c.passed,
                       "failures": list(c.failures),
                       **({"trace": render_text(c.result)} if not c.passed and c.result else {})} for c in cases],
            "properties": [p.to_json() for p in props],
        })
        lines.append(f"{pack.key} ({folder})")
        lines.append(f"  example cases: {len(cases) - len(failed_cases)} passed, {len(failed_cases)} failed")
        for c in cases:
            lines.append(f"    {'PASS' if c.passed else 'FAIL'} {c.name}")
            if not c.passed:
                lines.append(f"         at {c.file}:{c.line}")
                lines += [f"         - {f}" for f in c.failures]
                if c.result is not None:
                    lines.append("         trace:")
                    lines += _indent(render_text(c.result), "           ")
        if props:
            passed = len(props) - len(failed_props) - len(warned)
            lines.append(f"  properties ({examples} generated patients each): {passed} passed, "
                         f"{len(failed_props)} failed, {len(warned)} warnings")
            for p in props:
                mark = {"passed": "PASS", "failed": "FAIL", "warning": "WARN"}[p.status]
                lines.append(f"    {mark} {p.title}" + ("" if p.status == "passed" else f": {p.message}"))
                if p.counterexample is not None:
                    lines.append(format_counterexample(p.counterexample, "         "))
        lines.append(f"  result: {'PASSED' if ok else 'FAILED'}")
        lines.append("")
    if fmt is OutputFormat.json:
        _echo_json({"ok": all_ok, "packs": reports})
    else:
        typer.echo("\n".join(lines).rstrip())
    raise typer.Exit(0 if all_ok else 1)


# --- diff ------------------------------------------------------------------------------------------------

@pack_app.command("diff")
def diff_command(
    old: Path = typer.Argument(..., help="The old pack folder."),
    new: Path = typer.Argument(..., help="The new pack folder."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text (side by side) or json."),
    generated: int = typer.Option(60, "--patients", min=0, max=10000, help="Generated patients to compare "
                                  "(0: example cases only)."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when the advice of any patient differs."),
) -> None:
    """Show rules added, removed and changed (field by field), and the example cases and generated
    patients whose advice differs between OLD and NEW, side by side.
    """
    from cdss.packs.registry import load_pack
    from cdss.testing.diff import diff_packs, render_diff

    try:
        for p in (old, new):
            if not (p / "pack.yaml").is_file():
                raise ConfigError.one("not a pack folder (no pack.yaml)", "not-a-pack", file=str(p))
        registry = _base_registry()
        a = load_pack(old, registry.concepts, registry.catalogue)
        b = load_pack(new, registry.concepts, registry.catalogue)
        result = diff_packs(a, b, registry, generated=generated)
    except ConfigError as exc:
        fail(exc, 2)
    except CdssError as exc:
        fail(exc, 1)
    if fmt is OutputFormat.json:
        _echo_json(result.to_json())
    else:
        typer.echo(render_diff(result), nl=False)
    raise typer.Exit(1 if exit_code and result.behaviour_changed else 0)


# --- migrate ----------------------------------------------------------------------------------------------

@pack_app.command("migrate")
def migrate_command(
    path: Path = typer.Argument(..., help="A pack folder, or a folder of packs."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 when a pack is not yet in format v2 "
                               "(or would not migrate unchanged)."),
    write: bool = typer.Option(False, "--write", help="Write the migrated files (only when the proof holds)."),
) -> None:
    """Convert a pack from format v1 to v2: mapping leaves become text leaves, a common `within_days` moves
    to `defaults`, the minor version is bumped. Comments and layout elsewhere are kept.

    Nothing is written unless the migrated pack has the same content hash, compiled tests and example-case
    results as before. Without an option, prints the changes as a diff. After --write, run `cdss pack
    publish` on each migrated pack. Exit 0 when done (or, with --check, nothing to migrate), 1 when a pack
    needs migrating (--check) or would not migrate unchanged, 2 for a wrong path or options.
    """
    import difflib

    from cdss.packs.loader import display_path
    from cdss.testing.migrate import migrate
    from cdss.testing.migrate import write as write_migration

    if check and write:
        fail(ConfigError.one("--check and --write exclude each other", "bad-option"), 2)
    try:
        folders = _folders(path)
        registry = _base_registry()
        migrations = [migrate(f, registry) for f in folders]
    except ConfigError as exc:
        fail(exc, 2)
    except CdssError as exc:
        fail(exc, 1)
    status = 0
    for m in migrations:
        shown = display_path(m.folder)
        for d in m.differences:
            typer.echo(f"{shown}: {d} [migration-differs]", err=True)
        if not m.ok:
            status = 1
            typer.echo(f"{shown}: not migrated (the migrated pack would not behave the same)", err=True)
            continue
        if not m.changed:
            typer.echo(f"{shown}: already format v2, nothing to change", err=True)
            continue
        old, new = m.version or ("", "")
        summary = f"{shown}: {old} -> {new}, {len(m.edits)} file(s), {m.cases} example case(s) unchanged"
        if check:
            status = 1
            typer.echo(f"{summary}: needs migrating (run with --write)", err=True)
        elif write:
            write_migration(m)
            typer.echo(f"{summary}: written; now run `cdss pack publish {shown}`", err=True)
        else:
            for edit in m.edits:
                name = display_path(edit.path)
                typer.echo("".join(difflib.unified_diff(edit.before.splitlines(keepends=True),
                                                        edit.after.splitlines(keepends=True), name, name)), nl=False)
            typer.echo(f"{summary} (dry run: --write to apply)", err=True)
    raise typer.Exit(status)


# --- schema ------------------------------------------------------------------------------------------------

GENERATED_NOTE = ("<!-- GENERATED from cdss/packs/schema.py, cdss/testing/cases.py and cdss/packs/format_v2.md by "
                  "`cdss pack schema --format markdown > docs/editor/pack-format.md`; do not edit by hand. "
                  "tests/unit/testing/test_editor_docs.py fails when this file is stale. -->")


def _schema_models() -> list[tuple[str, list[type[BaseModel]]]]:
    from cdss.packs import schema as s
    from cdss.packs import scope
    from cdss.testing import cases as c
    from cdss.testing import factories as f

    return [
        ("Pack: pack.yaml", [s.PackFile, s.Source, s.Text, s.Defaults]),
        ("Rules: rules/*.yaml", [s.RulesFile, s.Rule, s.Then, s.Citation, s.PropertySpec]),
        ("Population scope: `population` in pack.yaml or a rule", [scope.Population, scope.AgeBand]),
        ("Conditions: the `when` language", [s.Leaf, s.AllOf, s.AnyOf, s.NotOf, s.Use]),
        ("Derived facts: scores and grades", [s.Derived, s.Part, s.PointsFrom]),
        ("Decision tables: `tables` in rules/*.yaml", [s.Table, s.TableInput, s.TableOutput, s.TableRow]),
        ("Example cases: cases/*.yaml", [c.CasesFile, c.Case, c.CasePatient, f.CaseFact, c.Matcher]),
        ("Concepts: catalogue/concepts/*.yaml", [s.ConceptsFile, s.ConceptsPart, s.Concept, s.Coding, s.AltUnit]),
    ]


def _type_text(tp: Any, names: set[str]) -> str:
    """A field's type as an editor reads it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "null"
    if origin is typing.Annotated:
        return _type_text(args[0], names)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_text(a, names) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        if {"[AllOf](#allof)", "[Leaf](#leaf)"} <= set(parts):
            return "[condition](#conditions-the-when-language)"
        return text
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_type_text(args[0], names)}"
        return "[" + ", ".join(_type_text(a, names) for a in args) + "]"
    if origin is dict:
        return f"mapping {_type_text(args[0], names)} → {_type_text(args[1], names)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{tp.__name__.lower()})" if tp.__name__ in names else tp.__name__
    return {"str": "text", "int": "integer", "float": "number", "bool": "true/false", "date": "date (YYYY-MM-DD)",
            "datetime": "date-time with offset"}.get(getattr(tp, "__name__", ""), str(tp))


def render_schema_markdown() -> str:
    """docs/editor/pack-format.md: every pack-file model, its keys, types and descriptions."""
    sections = _schema_models()
    names = {m.__name__ for _, models in sections for m in models}
    out = [GENERATED_NOTE, "", "# Pack format reference", "",
           "Every key of every pack file, generated from the pydantic models that validate them. Unknown keys are "
           "errors (a misspelt key is never silently ignored). Reader-facing text is `{zh: ..., en: ...}`, Chinese "
           "first. How to add a rule: [add-a-rule.md](add-a-rule.md).", ""]
    for title, models in sections:
        out += [f"## {title}", ""]
        for model in models:
            doc = " ".join((model.__doc__ or "").split())
            out += [f"### {model.__name__}", ""]
            if doc and not doc.startswith(model.__name__ + "("):
                out += [doc, ""]
            out += ["| key | type | required | description |", "| --- | --- | --- | --- |"]
            for name, info in model.model_fields.items():
                key = info.alias or name
                required = "yes" if info.is_required() else ""
                desc = " ".join((info.description or "").split()).replace("|", "\\|")
                if not info.is_required() and info.default not in (None, (), PydanticUndefined) \
                        and not callable(info.default_factory):
                    desc = (desc + f" Default: `{_default_text(info.default)}`.").strip()
                out.append(f"| `{key}` | {_type_text(info.annotation, names)} | {required} | {desc} |")
            out.append("")
    from cdss.packs.loader import bundled_dir

    out.append((bundled_dir("cdss.packs") / "format_v2.md").read_text(encoding="utf-8"))  # hand-written
    return "\n".join(out).rstrip() + "\n"


def _default_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str | int | float | bool) else str(value)


@pack_app.command("schema")
def schema_command(
    fmt: SchemaFormat = typer.Option(SchemaFormat.markdown, "--format", help="markdown (docs/editor/pack-format.md) "
                                     "or json (JSON Schema of rules files, for editors' YAML plugins)."),
) -> None:
    """Print the pack format reference, generated from the schema."""
    if fmt is SchemaFormat.json:
        from cdss.packs.schema import PackFile, RulesFile

        _echo_json({"pack": PackFile.model_json_schema(by_alias=True),
                    "rules": RulesFile.model_json_schema(by_alias=True)})
    else:
        typer.echo(render_schema_markdown(), nl=False)

