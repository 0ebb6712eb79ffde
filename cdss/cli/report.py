"""CLI: `cdss report elderly BUNDLE`: the printable yearly assessment report of one resident aged >=65."""

from __future__ import annotations

from pathlib import Path

import typer

from cdss.cli import app, fail
from cdss.cli.evaluate import parse_now
from cdss.errors import CdssError, ConfigError

report_app = typer.Typer(help="Printable reports (HTML).", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("elderly")
def elderly_command(
    file: Path = typer.Argument(..., metavar="BUNDLE", help="FHIR Bundle (JSON) of one resident aged 65 or over."),
    now: str | None = typer.Option(None, "--now", help="Assessment time, ISO-8601 (default: now)."),
    out: Path | None = typer.Option(None, "--out", help="Write the HTML here (default: stdout)."),
    pack: list[str] = typer.Option([], "--pack", metavar="ID[@VERSION]", help="Pin a pack version; repeatable."),
) -> None:
    """The yearly assessment report of one resident aged 65 or over: measurements, self-care score and band,
    TCM constitution, advice. Printable HTML. Exit 2 for an unusable bundle or a resident under 65."""
    from cdss.packs.registry import default_registry
    from cdss.population.elderly import elderly_report

    try:
        when = parse_now(now)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ConfigError.one(f"cannot read the file: {exc.strerror}", "file-unreadable", file=str(file)) from exc
        html = elderly_report(data, now=when, registry=default_registry(), pins=tuple(pack), source_name=str(file))
    except CdssError as exc:
        fail(exc, 2)
    if out is None:
        typer.echo(html, nl=False)
    else:
        out.write_text(html, encoding="utf-8")
