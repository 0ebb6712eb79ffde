"""Regression (reviews/reliability.md D6, D12): `/healthz` ran only `SELECT 1`, so a corrupt page, a
deleted database file or a failing write still said "database: ok"; a 0-byte database at start was taken
as a new empty one, and a corrupt one stopped the start with a long traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cdss.errors import ConfigError
from service.deps import Engine
from service.preflight import open_storage
from service.settings import Settings
from tests.unit.service.support import StubRegistry, fake_evaluate, open_client

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _client(tmp_path: Path) -> Any:
    return open_client(tmp_path, engine=Engine(StubRegistry(), fake_evaluate))


def test_healthz_writes_and_reads(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_deleted_database_file_is_503(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"cdss.sqlite3{suffix}").unlink(missing_ok=True)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_a_database_that_cannot_be_written_is_503(tmp_path: Path) -> None:
    import sqlite3

    with _client(tmp_path) as client:
        with sqlite3.connect(tmp_path / "cdss.sqlite3") as db:
            db.execute("drop table heartbeat")
        response = client.get("/healthz")
    assert response.status_code == 503


def test_a_zero_byte_database_at_start_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cdss.sqlite3").write_bytes(b"")
    with pytest.raises(ConfigError) as info:
        open_storage(Settings(data_dir=tmp_path, auth="off"), NOW)
    assert info.value.code == "database-unusable"
    assert "0 bytes" in str(info.value) and "\n" not in str(info.value)


def test_a_corrupt_database_at_start_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cdss.sqlite3").write_bytes(b"garbage" * 200)
    with pytest.raises(ConfigError) as info:
        open_storage(Settings(data_dir=tmp_path, auth="off"), NOW)
    assert "not a database" in str(info.value) and "\n" not in str(info.value)


def test_cdss_serve_on_a_corrupt_database_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cdss.cli import _register, app

    (tmp_path / "cdss.sqlite3").write_bytes(b"garbage" * 200)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    for name in ("CDSS_HOST", "CDSS_PORT", "CDSS_WORKERS", "CDSS_DATA_DIR"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    _register()
    result = CliRunner().invoke(app, ["serve", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "[database-unusable]" in result.output and "Traceback" not in result.output
