"""Regression (issue #16, never a 500): the audit database failing during a request (SQLite "database is
locked", a disk I/O error, PostgreSQL down) answered a plain 500 with an incident id, as if the service had
a defect. Now: 503, an OperationOutcome with code `transient`, Chinese first then English, `Retry-After`,
and one log line without patient identifiers."""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from service import outage
from service.storage import Storage
from tests.unit.service.support import load_hook

HOOK = "/cds-services/cdss-patient-view"
PATIENT_ID = "htn-1"  # the Patient of patient-view-emergency.json


def _sqlite_failing(message: str) -> Callable[[Path, bytes], Storage]:
    """A Storage whose every connection raises sqlite3.OperationalError(message)."""

    def make(tmp_path: Path, key: bytes) -> Storage:
        def creator() -> sqlite3.Connection:
            raise sqlite3.OperationalError(message)

        storage = Storage(f"sqlite:///{tmp_path / 'other.sqlite3'}", retention_days=30, salt=key)
        storage.engine = create_engine("sqlite://", creator=creator, hide_parameters=True)
        return storage

    return make


def _postgres_closed_port(tmp_path: Path, key: bytes) -> Storage:
    """A Storage on a PostgreSQL URL whose port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return Storage(f"postgresql+psycopg://cdss:secret@127.0.0.1:{port}/cdss", retention_days=30, salt=key)


FAILURES = {"sqlite-locked": _sqlite_failing("database is locked"),
            "sqlite-disk-io": _sqlite_failing("disk I/O error"),
            "postgresql-down": _postgres_closed_port}


@pytest.fixture(params=sorted(FAILURES))
def break_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Any], None]:
    if request.param == "postgresql-down":
        pytest.importorskip("psycopg")

    def apply(client: Any) -> None:
        state = client.app.state
        state.storage = FAILURES[request.param](tmp_path, state.storage.key)

    return apply


def _assert_transient_503(response: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(outage.RETRY_AFTER_S)
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["code"] == "transient"
    text = issue["diagnostics"]
    assert "\u4e00" <= text[0] <= "\u9fff", text  # Chinese first
    assert "temporarily unavailable" in text and "retry" in text
    assert "incident" not in text and "Traceback" not in response.text
    lines = [r.getMessage() for r in caplog.records if r.name == "cdss.service" and r.levelno >= logging.ERROR]
    assert len(lines) == 1, lines  # logged once
    assert lines[0].startswith("database unavailable:")
    assert PATIENT_ID not in lines[0] and "Patient/" not in lines[0]
    assert all(r.exc_info is None for r in caplog.records)  # no stack trace


def test_evaluate_answers_503_when_the_database_fails(client: Any, break_storage: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    prefetch = load_hook("patient-view-emergency.json")["prefetch"]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": prefetch["patient"]}, prefetch["observations"]["entry"][0]]}
    break_storage(client)
    caplog.set_level(logging.INFO, "cdss.service")
    response = client.post("/fhir/$evaluate", json=bundle, headers={"content-type": "application/fhir+json"})
    _assert_transient_503(response, caplog)


def test_cds_hooks_call_answers_503_when_the_database_fails(client: Any, break_storage: Any,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    break_storage(client)
    caplog.set_level(logging.INFO, "cdss.service")
    response = client.post(HOOK, json=load_hook("patient-view-emergency.json"))
    _assert_transient_503(response, caplog)


def test_feedback_answers_503_when_the_database_fails(client: Any, break_storage: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    card = client.post(HOOK, json=load_hook("patient-view-emergency.json")).json()["cards"][0]["uuid"]
    break_storage(client)
    caplog.set_level(logging.INFO, "cdss.service")
    response = client.post(f"{HOOK}/feedback", json={"feedback": [
        {"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-05-01T08:00:00Z"}]})
    _assert_transient_503(response, caplog)


def test_a_statement_defect_is_still_a_500_incident(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only an outage is 503: an integrity error of a statement is a defect (retrying would not help)."""
    from sqlalchemy.exc import IntegrityError

    def broken(*_: Any, **__: Any) -> None:
        raise IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    monkeypatch.setattr(client.app.state.storage, "record_evaluation", broken)
    response = client.post(HOOK, json=load_hook("patient-view-emergency.json"))
    assert response.status_code == 500
    assert response.json()["issue"][0]["code"] == "exception"
    assert "retry-after" not in response.headers
