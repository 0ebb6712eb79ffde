"""Regression (issue 16 "a per-client rate limit (429)"; the limiter counted in each worker's memory, so
`cdss serve --workers N` admitted N times CDSS_FEEDBACK_RATE_PER_MINUTE). The count now lives in the audit
database: two apps on one database (two workers) share it, and processes taking at once never admit more
than the limit."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

from service.ratelimit import SharedRateLimiter
from service.storage import Storage
from tests.unit.service.support import load_hook

FEEDBACK = "/cds-services/cdss-patient-view/feedback"
NOW = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


def _item(card: str) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-05-01T08:00:00Z"}


def test_two_workers_on_one_database_share_the_limit(make_client: Any) -> None:
    first = make_client(feedback_rate_per_minute=5)
    second = make_client(feedback_rate_per_minute=5)  # same data folder: the second worker
    card = first.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json")) \
        .json()["cards"][0]["uuid"]
    assert first.post(FEEDBACK, json={"feedback": [_item(card)] * 3}).status_code == 200
    assert second.post(FEEDBACK, json={"feedback": [_item(card)] * 2}).status_code == 200
    limited = second.post(FEEDBACK, json={"feedback": [_item(card)]})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert first.post(FEEDBACK, json={"feedback": [_item(card)]}).status_code == 429


def test_the_window_restarts_after_a_minute(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'db.sqlite3'}", retention_days=1, data_dir=tmp_path)
    storage.create(NOW)
    now = [1000.0]
    limiter = SharedRateLimiter(storage, 2, clock=lambda: now[0])
    assert limiter.take("a") and limiter.take("a") and not limiter.take("a")
    assert limiter.take("b", 2) and not limiter.take("b")  # per client
    assert limiter.retry_after("a") == 61
    now[0] += 59.5
    assert not limiter.take("a")
    now[0] += 1
    assert limiter.take("a", 2)
    assert not limiter.take("c", 3)  # more than the limit at once never fits
    storage.close()


def _worker(url: str, tries: int, out: Any) -> None:
    storage = Storage(url, retention_days=1)
    limiter = SharedRateLimiter(storage, 30, clock=lambda: 5000.0)
    out.put(sum(1 for _ in range(tries) if limiter.take("same-client")))
    storage.close()


def test_processes_taking_at_once_never_admit_more_than_the_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    storage = Storage(url, retention_days=1, data_dir=tmp_path)
    storage.create(NOW)
    storage.close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(url, 25, out)) for _ in range(3)]
    for w in workers:
        w.start()
    admitted = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert sum(admitted) == 30  # 75 tries against a limit of 30, from three processes
