"""A CdssError that escapes a command is printed as its problems and exit code 2, never as a traceback.

Regression: `cdss.cli.main` called `fail`, which raises typer.Exit; outside the typer app nothing catches it,
so Python printed a traceback (seen when a property test of `cdss pack test` raised a PackError)."""

from __future__ import annotations

import sys

import pytest

import cdss.cli
from cdss.errors import PackError, Problem


def test_an_escaped_error_prints_its_problem_and_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> None:
        raise PackError(Problem("concept 'x' has no code", "no-code", file="facts"))

    monkeypatch.setattr(cdss.cli, "_register", lambda command=None: None)
    monkeypatch.setattr(cdss.cli, "app", broken)
    monkeypatch.setattr(sys, "argv", ["cdss", "evaluate"])
    monkeypatch.setitem(cdss.cli._state, "debug", False)
    with pytest.raises(SystemExit) as exit_:
        cdss.cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "cdss: facts: concept 'x' has no code [no-code]" in err
    assert "Traceback" not in err
