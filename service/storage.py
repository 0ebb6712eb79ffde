"""Service: audit storage of evaluations, cards and feedback (SQLAlchemy: SQLite, or PostgreSQL by URL).

What is kept per evaluation: when, which packs (id, version, sha256), a hash of the patient reference
(never the reference itself), the suggestions, and the whole result as trace JSON. Cards handed to an
EHR are indexed by their uuid so that feedback can be tied back to the evaluation and suggestion.
Records older than the retention period are deleted at start and then every few hundred writes.
Replayed JWT ids (``jti``) are detected here too, so that all workers of a server share one view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

metadata = MetaData()

evaluations = Table(
    "evaluations", metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("evaluation_id", String(64), nullable=False, index=True),
    Column("stored_at", DateTime(timezone=True), nullable=False, index=True),
    Column("evaluated_at", String(40), nullable=False),
    Column("channel", String(40), nullable=False),         # cds-hooks service id, or "fhir-evaluate"
    Column("hook_instance", String(200)),
    Column("patient_sha256", String(64), nullable=False, index=True),
    Column("packs", JSON, nullable=False),
    Column("suggestions", JSON, nullable=False),
    Column("trace", JSON, nullable=False),
)

cards = Table(
    "cards", metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("evaluation_row", Integer, nullable=False, index=True),
    Column("evaluation_id", String(64), nullable=False),
    Column("suggestion_id", String(64)),
    Column("suggestion_uuids", JSON, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, index=True),
)

feedback = Table(
    "feedback", metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("service_id", String(100), nullable=False),
    Column("card_uuid", String(200), nullable=False, index=True),
    Column("evaluation_id", String(64)),
    Column("suggestion_id", String(64)),
    Column("outcome", String(20), nullable=False),
    Column("accepted_suggestions", JSON, nullable=False),
    Column("override_reason", JSON),
    Column("outcome_timestamp", String(40), nullable=False),
)

seen_tokens = Table(
    "seen_tokens", metadata,
    Column("issuer", String(300), primary_key=True),
    Column("jti", String(300), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

PURGE_EVERY = 500


@dataclass(frozen=True)
class StoredCard:
    card_uuid: str
    suggestion_id: str | None
    suggestion_uuids: tuple[str, ...] = ()


class Storage:
    """The audit database. Thread-safe: each call takes its own connection from the pool."""

    def __init__(self, url: str, *, retention_days: int, salt: str = "", data_dir: Path | None = None):
        if url.startswith("sqlite") and data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.retention = dt.timedelta(days=retention_days)
        self._salt = salt.encode()
        self._writes = 0

    def create(self, now: dt.datetime) -> None:
        """Create missing tables and apply the retention period.

        Several worker processes start at once on a fresh database: both may see a table missing and one
        then fails with "already exists". That is the outcome wanted, so the creation is simply checked again.
        """
        # Each try skips the tables that exist by then, so one more try per table always suffices.
        for attempt in range(len(metadata.sorted_tables) + 1):
            try:
                metadata.create_all(self.engine)
                break
            except (OperationalError, ProgrammingError):
                if attempt == len(metadata.sorted_tables):
                    raise
        self.purge(now)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except Exception:  # noqa: BLE001 - readiness is a yes/no answer; the reason is logged by the caller
            return False

    def patient_hash(self, reference: str) -> str:
        """SHA-256 (HMAC with the configured salt, if any) of a patient reference such as 'Patient/1'."""
        if self._salt:
            return hmac.new(self._salt, reference.encode(), hashlib.sha256).hexdigest()
        return hashlib.sha256(reference.encode()).hexdigest()

    def record_evaluation(self, evaluation: Any, *, now: dt.datetime, channel: str,
                          hook_instance: str | None = None, cards_out: Sequence[StoredCard] = ()) -> int:
        """Store one evaluation (and the cards that present it); returns its row id."""
        trace = evaluation.to_json()
        with self.engine.begin() as conn:
            row = conn.execute(insert(evaluations).values(
                evaluation_id=evaluation.id, stored_at=now, evaluated_at=evaluation.now.isoformat(),
                channel=channel, hook_instance=hook_instance,
                patient_sha256=self.patient_hash(evaluation.patient),
                packs=trace["packs"], suggestions=trace["suggestions"], trace=trace,
            )).inserted_primary_key[0]
            for card in cards_out:
                # A card uuid derives from hookInstance + evaluation + suggestion: a retried hook call
                # gives the same uuid, which already points at the same advice.
                try:
                    with conn.begin_nested():
                        conn.execute(insert(cards).values(
                            card_uuid=card.card_uuid, evaluation_row=row, evaluation_id=evaluation.id,
                            suggestion_id=card.suggestion_id, suggestion_uuids=list(card.suggestion_uuids),
                            stored_at=now))
                except IntegrityError:
                    pass
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self.purge(now)
        return int(row)

    def record_feedback(self, service_id: str, items: Iterable[Mapping[str, Any]], *,
                        now: dt.datetime) -> int:
        """Store feedback items (CDS Hooks 2.0 "Feedback"); returns how many were stored."""
        count = 0
        with self.engine.begin() as conn:
            for item in items:
                card_row = conn.execute(select(cards.c.evaluation_id, cards.c.suggestion_id)
                                        .where(cards.c.card_uuid == item["card"])).first()
                conn.execute(insert(feedback).values(
                    received_at=now, service_id=service_id, card_uuid=item["card"],
                    evaluation_id=card_row.evaluation_id if card_row else None,
                    suggestion_id=card_row.suggestion_id if card_row else None,
                    outcome=item["outcome"],
                    accepted_suggestions=[s["id"] for s in item.get("acceptedSuggestions") or ()],
                    override_reason=item.get("overrideReason"),
                    outcome_timestamp=item["outcomeTimestamp"],
                ))
                count += 1
        return count

    def is_known_card(self, card_uuid: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(cards.c.card_uuid).where(cards.c.card_uuid == card_uuid)).first() \
                is not None

    def remember_token(self, issuer: str, jti: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record a JWT id; False when it was seen before (a replay)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(seen_tokens).where(seen_tokens.c.expires_at < now))
                conn.execute(insert(seen_tokens).values(issuer=issuer, jti=jti, expires_at=expires_at))
            return True
        except IntegrityError:
            return False

    def evaluations(self, *, evaluation_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Stored evaluations, newest first (for the panel and for tests)."""
        query = select(evaluations).order_by(evaluations.c.row_id.desc()).limit(limit)
        if evaluation_id:
            query = query.where(evaluations.c.evaluation_id == evaluation_id)
        with self.engine.connect() as conn:
            return [_plain(dict(r._mapping)) for r in conn.execute(query)]

    def feedback(self, *, card_uuid: str | None = None) -> list[dict[str, Any]]:
        query = select(feedback).order_by(feedback.c.row_id)
        if card_uuid:
            query = query.where(feedback.c.card_uuid == card_uuid)
        with self.engine.connect() as conn:
            return [_plain(dict(r._mapping)) for r in conn.execute(query)]

    def purge(self, now: dt.datetime) -> int:
        """Delete records older than the retention period; returns how many evaluations went."""
        cutoff = now - self.retention
        with self.engine.begin() as conn:
            conn.execute(delete(cards).where(cards.c.stored_at < cutoff))
            conn.execute(delete(feedback).where(feedback.c.received_at < cutoff))
            conn.execute(delete(seen_tokens).where(seen_tokens.c.expires_at < now))
            return conn.execute(delete(evaluations).where(evaluations.c.stored_at < cutoff)).rowcount or 0


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the workers of one server read while another writes; NORMAL sync is safe with WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            row[key] = value.isoformat()
        elif isinstance(value, str) and key in ("packs", "suggestions", "trace"):
            row[key] = json.loads(value)
    return row
