"""Regression (reviews/conformance.md §4.2, reliability.md D12): `cdss serve` on a busy port loaded the
packs and then died with uvicorn's `[Errno 98]` (exit 3); it is now one cdss line, exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner


def test_busy_port_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cdss.cli import _register, app

    monkeypatch.setattr("service.preflight.preflight", lambda settings, **_: None)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    for name in ("CDSS_HOST", "CDSS_PORT", "CDSS_WORKERS", "CDSS_DATA_DIR"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    _register()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "[port-unavailable]" in result.output and "in use" in result.output
