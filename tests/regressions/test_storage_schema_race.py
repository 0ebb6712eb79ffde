"""Regression (issue #16; a benchmark run of `cdss serve --workers 2`): workers starting together on a fresh
SQLite file raced, and the first start failed. The file a sibling has just opened is 0 bytes until its
first write, and was refused as a truncated database; tables could also be created twice. Schema creation
now runs under a start lock and inside one write transaction: every start succeeds, each table exists once."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import threading
from pathlib import Path

from service.storage import Storage, metadata

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _start(path: Path, barrier: threading.Barrier | None = None) -> str:
    storage = Storage(f"sqlite:///{path}", retention_days=30, salt=b"k")
    try:
        if barrier is not None:
            barrier.wait()
        storage.create(NOW)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the test reports what failed
        return f"{type(exc).__name__}: {exc}"
    finally:
        storage.close()


def _start_into(path: Path, barrier: threading.Barrier, results: list[str]) -> None:
    results.append(_start(path, barrier))


def _start_in_process(path: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    results.put(_start(Path(path)))  # type: ignore[attr-defined]


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(r[0] for r in db.execute("select name from sqlite_master where type = 'table'"))


def test_storages_starting_together_on_a_fresh_file_all_start(tmp_path: Path) -> None:
    for round_ in range(8):  # each round a fresh file; before the fix nearly every round failed
        path = tmp_path / f"r{round_}" / "cdss.sqlite3"
        path.parent.mkdir()
        barrier = threading.Barrier(4)
        results: list[str] = []
        threads = [threading.Thread(target=_start_into, args=(path, barrier, results)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["ok"] * 4, results
        assert _tables(path) == sorted(metadata.tables)


def test_two_processes_starting_together_on_a_fresh_file_both_start(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    path = tmp_path / "cdss.sqlite3"
    procs = [ctx.Process(target=_start_in_process, args=(str(path), barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert outcomes == ["ok", "ok"], outcomes
    assert _tables(path) == sorted(metadata.tables)


def test_a_second_start_on_an_existing_database_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cdss.sqlite3"
    assert _start(path) == "ok"
    before = _tables(path)
    assert _start(path) == "ok"
    assert _tables(path) == before


def test_a_truncated_database_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "cdss.sqlite3"
    path.write_bytes(b"")
    assert "0 bytes" in _start(path)
