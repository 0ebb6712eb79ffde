"""Regression (reviews/reliability.md D3): the audit store kept `Patient/<id>` in the trace, the patient
hash was plain SHA-256 unless a salt was set, and a failed database write logged the whole trace. Now the
hash is keyed by a secret generated on first start in the data folder, the trace holds the pseudonym, and
database errors carry no statement values."""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import cdss
from cdss.errors import ConfigError
from service.audit_key import KEY_FILE, audit_key
from service.deps import Engine
from tests.conftest import load_bundle
from tests.unit.service.support import load_hook, open_client

RAW = ("wang-jianguo", "htn-1")


def _dump_db(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return "\n".join(repr(row) for table in ("evaluations", "cards", "feedback")
                         for row in db.execute(f"select * from {table}"))  # noqa: S608 - fixed names


def test_no_raw_patient_id_in_the_database(tmp_path: Path, registry: Any) -> None:
    with open_client(tmp_path, engine=Engine(registry, cdss.evaluate)) as client:
        assert client.post("/fhir/$evaluate", json=load_bundle("htn-emergency.json"),
                           headers={"content-type": "application/fhir+json"}).status_code == 200
        assert client.post("/cds-services/cdss-patient-view",
                           json=load_hook("patient-view-emergency.json")).status_code == 200
        rows = client.app.state.storage.evaluations()
    dump = _dump_db(tmp_path / "cdss.sqlite3")
    assert len(rows) == 2
    for raw in RAW:
        assert raw not in dump
    key = (tmp_path / KEY_FILE).read_text().strip().encode()
    expected = hmac.new(key, b"Patient/wang-jianguo", hashlib.sha256).hexdigest()
    assert expected in {r["patient_sha256"] for r in rows}
    assert rows[-1]["trace"]["patient"] == f"Patient/hmac-{expected[:16]}"
    assert hashlib.sha256(b"Patient/wang-jianguo").hexdigest() not in dump


def test_the_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = audit_key(tmp_path)
    assert audit_key(tmp_path) == first
    assert len(first) == 64
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    assert audit_key(tmp_path, "configured-secret") == b"configured-secret"


def test_an_empty_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("")
    with pytest.raises(ConfigError) as info:
        audit_key(tmp_path)
    assert info.value.code == "audit-key"
    assert KEY_FILE in str(info.value)


def test_a_failed_write_logs_no_patient_data(tmp_path: Path, registry: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with open_client(tmp_path, engine=Engine(registry, cdss.evaluate)) as client:
        with sqlite3.connect(tmp_path / "cdss.sqlite3") as db:
            db.execute("drop table evaluations")
        response = client.post("/fhir/$evaluate", json=load_bundle("htn-emergency.json"),
                               headers={"content-type": "application/fhir+json"})
    # A table gone under the running service is a database fault, answered like /healthz answers it:
    # 503 (service.outage), logged in one line with the database's reason.
    assert response.status_code == 503
    assert "database unavailable" in caplog.text
    for raw in RAW:
        assert raw not in caplog.text
