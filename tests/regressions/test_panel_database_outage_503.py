"""Regression (issue #16, never a 500): the panel's evaluate answered "internal error, quote incident ..."
(500) when the audit database was locked or down. Now: a 503 page, Chinese first then English, with
Retry-After; the evaluate form comes back as typed, and any other panel page the database cannot serve is
a 503 page too (not a JSON OperationOutcome, not a trace)."""

from __future__ import annotations

import sqlite3
from html import unescape
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from service import outage
from service.storage import Storage
from tests.e2e.test_panel import EMERGENCY, client, csrf, engine, errors_of, registry_two_versions  # noqa: F401


def _lock_database(client: Any, tmp_path: Path) -> None:  # noqa: F811
    def creator() -> sqlite3.Connection:
        raise sqlite3.OperationalError("database is locked")

    storage = Storage(f"sqlite:///{tmp_path / 'other.sqlite3'}", retention_days=30, salt=b"k")
    storage.engine = create_engine("sqlite://", creator=creator)
    client.app.state.storage = storage


def _assert_page(response: Any) -> str:
    assert response.status_code == 503, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == str(outage.RETRY_AFTER_S)
    text = unescape(response.text)
    assert "Traceback" not in text and "OperationalError" not in text
    assert text.index(outage.MESSAGE_ZH) < text.index(outage.MESSAGE_EN)
    return text


def test_panel_evaluate_is_a_503_page_when_the_database_is_locked(client: Any, tmp_path: Path) -> None:  # noqa: F811
    token = csrf(client)
    _lock_database(client, tmp_path)
    response = client.post("/panel/evaluate", data={"csrf": token, "sample": EMERGENCY, "at": "2026-11-22T09:00"},
                           follow_redirects=False)
    _assert_page(response)
    assert outage.MESSAGE_ZH in errors_of(response.text)
    assert 'value="2026-11-22T09:00"' in response.text  # the form as typed, to send again


def test_a_panel_page_reading_the_database_is_a_503_page(client: Any, tmp_path: Path) -> None:  # noqa: F811
    _lock_database(client, tmp_path)
    response = client.get("/panel/evaluations/0123456789abcdef")
    text = _assert_page(response)
    assert outage.HEADING in text


def test_english_panel_keeps_chinese_first(client: Any, tmp_path: Path) -> None:  # noqa: F811
    _lock_database(client, tmp_path)
    _assert_page(client.get("/panel/evaluations/0123456789abcdef?lang=en"))
