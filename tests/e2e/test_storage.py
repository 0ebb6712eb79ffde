"""Audit storage end to end: evaluations, cards and feedback survive a restart, on SQLite (default) and on
PostgreSQL when CDSS_TEST_POSTGRES_URL is set (.ci/postgres.sh starts a throwaway cluster and sets it)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from service.deps import Engine
from service.storage import Storage, metadata
from tests.unit.service.support import NOW, StubRegistry, fake_evaluate, load_hook, open_client

POSTGRES_URL = os.environ.get("CDSS_TEST_POSTGRES_URL")
BACKENDS = [
    pytest.param(None, id="sqlite"),
    pytest.param(POSTGRES_URL, id="postgresql", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="CDSS_TEST_POSTGRES_URL is not set (run .ci/postgres.sh to start PostgreSQL)")),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: Any) -> Any:
    url = request.param
    if url:
        storage = Storage(url, retention_days=1)
        metadata.drop_all(storage.engine)  # a clean slate in the throwaway database
        storage.close()
    return url


def test_nothing_is_lost_across_a_restart(tmp_path: Path, database_url: Any) -> None:
    engine = Engine(StubRegistry(), fake_evaluate)
    with open_client(tmp_path, engine=engine, database_url=database_url) as client:
        response = client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json"))
        assert response.status_code == 200, response.text
        card = response.json()["cards"][0]
        feedback = {"feedback": [{"card": card["uuid"], "outcome": "accepted",
                                  "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                                  "outcomeTimestamp": "2026-05-01T08:05:00Z"}]}
        assert client.post("/cds-services/cdss-patient-view/feedback", json=feedback).status_code == 200
        before = client.app.state.storage.evaluations()

    # a new app instance on the same data (a restart)
    with open_client(tmp_path, engine=engine, database_url=database_url) as client:
        storage = client.app.state.storage
        assert storage.evaluations() == before
        (row,) = storage.feedback(card_uuid=card["uuid"])
        assert row["evaluation_id"] == before[0]["evaluation_id"]
        assert storage.is_known_card(card["uuid"])


def test_retention_deletes_old_records_at_start(tmp_path: Path, database_url: Any) -> None:
    engine = Engine(StubRegistry(), fake_evaluate)
    with open_client(tmp_path, engine=engine, database_url=database_url, retention_days=30) as client:
        client.post("/fhir/$evaluate", json={"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1"}}]})
        assert len(client.app.state.storage.evaluations()) == 1
    later = NOW + dt.timedelta(days=31)
    with open_client(tmp_path, engine=engine, database_url=database_url, retention_days=30,
                     clock=lambda: later) as client:
        assert client.app.state.storage.evaluations() == []


def test_jti_replay_is_seen_across_instances(tmp_path: Path, database_url: Any) -> None:
    url = database_url or f"sqlite:///{tmp_path}/t.sqlite3"
    expires = NOW + dt.timedelta(minutes=5)
    first, second = Storage(url, retention_days=1), Storage(url, retention_days=1)
    first.create(NOW)
    assert first.remember_token("iss", "jti-1", expires, NOW)
    assert not second.remember_token("iss", "jti-1", expires, NOW)
    assert second.remember_token("iss", "jti-1", expires, NOW + dt.timedelta(minutes=10))  # expired: purged
    first.close()
    second.close()


def test_patient_reference_is_stored_only_as_a_hash(tmp_path: Path, database_url: Any) -> None:
    with open_client(tmp_path, engine=Engine(StubRegistry(), fake_evaluate), database_url=database_url,
                     audit_salt="s3cret") as client:
        client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json"))
        (row,) = client.app.state.storage.evaluations()
        import hashlib
        import hmac

        assert row["patient_sha256"] == hmac.new(b"s3cret", b"Patient/htn-1", hashlib.sha256).hexdigest()


def test_storage_create_when_another_worker_created_the_tables_first(tmp_path: Path, database_url: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers start together on a fresh database: the one that loses the race to create the tables must
    start normally, not fail with 'table ... already exists' (which stopped `cdss serve --workers 2`)."""
    from sqlalchemy.exc import OperationalError

    url = database_url or f"sqlite:///{tmp_path / 'race.sqlite3'}"
    Storage(url, retention_days=30).create(NOW)  # the other worker, first
    late = Storage(url, retention_days=30)

    real_create_all, calls = metadata.create_all, []

    def create_all_as_the_loser(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # saw the table missing, then the other worker created it first
            raise OperationalError("CREATE TABLE evaluations", {}, Exception("table evaluations already exists"))
        real_create_all(*args, **kwargs)

    monkeypatch.setattr(metadata, "create_all", create_all_as_the_loser)
    late.create(NOW)  # must not raise
    assert len(calls) == 2
    late.close()
