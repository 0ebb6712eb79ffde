"""CLI: the `cdss` command. One module per command group; this one assembles them and owns exit codes.

Exit codes: 0 ok, 1 problems found in data (a pack or case fails), 2 usage or unreadable input.
Messages go to stderr; a traceback only with --debug.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from cdss.errors import CdssError

app = typer.Typer(
    name="cdss",
    help="Community clinical decision support: evaluate FHIR bundles against versioned rule packs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


class OutputFormat(StrEnum):
    """`--format` of every command that prints data: text for a person, json for a program."""

    text = "text"
    json = "json"


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors.")) -> None:
    _state["debug"] = debug


def fail(error: CdssError, exit_code: int = 2) -> None:
    """Print an error's problems to stderr, one per line, and exit (inside a command)."""
    _print_problems(error)
    raise typer.Exit(exit_code)


def _print_problems(error: CdssError) -> None:
    for problem in error.problems:
        typer.echo(f"cdss: {problem}", err=True)


GROUPS = ("catalogue", "pack", "serve", "bench", "reference", "terminology", "batch", "report")


def _register(command: str | None = None) -> None:
    """Import the command groups (each registers its commands on `app` when imported).

    Args:
        command: the command the user typed: `evaluate` needs no group and a group name only itself, which
            saves a quarter of a second of start-up; None (help, docs) or anything else: every group.
    """
    from cdss.cli import evaluate  # noqa: F401

    chosen = () if command == "evaluate" else (command,) if command in GROUPS else GROUPS
    for optional in chosen:
        try:
            __import__(f"cdss.cli.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cdss.cli.{optional}":
                raise


def main() -> None:
    """Console entry point."""
    _register(next((a for a in sys.argv[1:] if not a.startswith("-")), None))
    try:
        app()
    except CdssError as exc:  # anything not already turned into an exit by a command
        if _state["debug"]:
            raise
        _print_problems(exc)  # (not `fail`: typer.Exit outside the app is an uncaught exception, a traceback)
        raise SystemExit(2) from None
    except Exception:
        if _state["debug"] or "--debug" in sys.argv:
            raise
        typer.echo("cdss: internal error; run again with --debug for the traceback", err=True)
        raise SystemExit(70) from None
