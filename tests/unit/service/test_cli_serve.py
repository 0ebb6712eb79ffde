"""`cdss serve`: options become settings for every worker; unsafe settings stop it with exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cdss.cli import _register, app


@pytest.fixture()
def runner(monkeypatch: Any) -> CliRunner:
    for name in ("CDSS_HOST", "CDSS_PORT", "CDSS_WORKERS", "CDSS_DATA_DIR", "CDSS_AUTH", "CDSS_AUTH_ISSUERS"):
        monkeypatch.setenv(name, "")  # recorded, so that what serve sets is undone after the test
        monkeypatch.delenv(name)
    _register()
    return CliRunner()


def test_serve_starts_uvicorn_with_the_factory(runner: CliRunner, monkeypatch: Any, tmp_path: Path) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: calls.append((a, k)))
    result = runner.invoke(app, ["serve", "--port", "8123", "--data", str(tmp_path), "--workers", "2"])
    assert result.exit_code == 0, result.output
    ((args, kwargs),) = calls
    assert args == ("service.app:create_app",)
    assert kwargs["factory"] is True and kwargs["port"] == 8123 and kwargs["workers"] == 2
    import os

    assert os.environ["CDSS_DATA_DIR"] == str(tmp_path)
    assert "authentication is OFF" in result.output


def test_serve_refuses_unsafe_settings(runner: CliRunner, monkeypatch: Any) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2, result.output
    assert "CDSS_AUTH" in result.output and "[unsafe-setting]" in result.output
