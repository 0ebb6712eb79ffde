"""Service: audit storage of evaluations, cards and feedback (SQLAlchemy: SQLite, or PostgreSQL by URL).

What is kept per evaluation: when, which packs (id, version, sha256), a keyed hash of the patient
reference (HMAC-SHA256 with the audit key, service/audit_key.py; never the reference itself), the
suggestions, and the whole result as trace JSON, in which the patient reference is replaced by that hash.
Database errors never carry the values of a statement (``hide_parameters``), so a failed write logs no
patient data. Cards handed to an
EHR are indexed by their uuid so that feedback can be tied back to the evaluation and suggestion.
Records older than the retention period are deleted at start and then every few hundred writes.
Replayed JWT ids (``jti``) are detected here too, so that all workers of a server share one view.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, ProgrammingError

if TYPE_CHECKING:
    from cdss.engine.results import Evaluation

log = logging.getLogger("cdss.service")
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

heartbeat = Table(
    "heartbeat", metadata,
    Column("id", Integer, primary_key=True),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

seen_tokens = Table(
    "seen_tokens", metadata,
    Column("issuer", String(300), primary_key=True),
    Column("jti", String(300), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

# Per-client rate-limit windows shared by every worker (service.ratelimit.SharedRateLimiter): the client is
# a SHA-256 of the limit's name and the caller's identity; the window starts at its first item (Unix s).
rate_windows = Table(
    "rate_windows", metadata,
    Column("client", String(64), primary_key=True),
    Column("window_start", Float, nullable=False, index=True),
    Column("used", Integer, nullable=False),
)

PURGE_EVERY = 500
# PostgreSQL advisory lock held while the schema is created (any fixed 64-bit number; "cdss" in ASCII).
SCHEMA_LOCK_KEY = 0x63647373
BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class StoredCard:
    card_uuid: str
    suggestion_id: str | None
    suggestion_uuids: tuple[str, ...] = ()


class Storage:
    """The audit database. Thread-safe: each call takes its own connection from the pool."""

    def __init__(self, url: str, *, retention_days: int, salt: str | bytes = "", data_dir: Path | None = None):
        if url.startswith("sqlite") and data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"),
                                            hide_parameters=True, json_serializer=_json_text)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.retention = dt.timedelta(days=retention_days)
        self._file = Path(self.engine.url.database) if url.startswith("sqlite") and self.engine.url.database \
            and self.engine.url.database != ":memory:" else None
        self._inode: int | None = None
        self._salt = salt.encode() if isinstance(salt, str) else salt
        self._writes = 0

    def create(self, now: dt.datetime) -> None:
        """Create missing tables, check the database reads and writes, and apply the retention period.

        Several worker processes start at once on a fresh database (``--workers N``): each creates the
        schema inside one transaction that first takes the database's write lock (SQLite ``BEGIN
        IMMEDIATE``, waiting up to the busy timeout; a PostgreSQL transaction-level advisory lock), and
        only then looks which tables are missing. The second process therefore waits for the first and
        finds every table made; creating twice is a no-op, never an "already exists" failure. For SQLite
        the emptiness check and the creation also run under an exclusive lock of a file beside the
        database (`_start_lock`): the file a sibling has just opened is 0 bytes until its first write,
        and must not be taken for a truncated database.

        Raises:
            StorageFault: an empty (truncated) or corrupt database file, or one that cannot be written.
        """
        try:
            with _start_lock(self._file):
                check_database_file(self._file)
                # A process that takes neither lock (an older version) may still create a table between
                # our look and our CREATE: each try skips the tables that exist by then.
                for attempt in range(len(metadata.sorted_tables) + 1):
                    try:
                        self._create_schema()
                        break
                    except (OperationalError, ProgrammingError):
                        if attempt == len(metadata.sorted_tables):
                            raise
        except DatabaseError as exc:
            raise StorageFault(f"cannot open the database {self._file or self.engine.url.render_as_string()}: "
                               f"{_reason(exc)}") from None
        if self._file is not None:
            self._inode = self._file.stat().st_ino
        self.probe(now)
        self.purge(now)

    def _create_schema(self) -> None:
        """Create the missing tables and indexes under the database's write lock (see `create`)."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                # The driver must not open the transaction itself: BEGIN IMMEDIATE takes the write lock
                # now (waiting per busy_timeout), so the look for missing tables and the creation are one step.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    metadata.create_all(conn)
                    conn.exec_driver_sql("COMMIT")
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
            return
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            metadata.create_all(conn)

    def close(self) -> None:
        self.engine.dispose()

    def probe(self, now: dt.datetime) -> None:
        """A real read and a real write: the newest row of every table (each table's root page and the
        path to its last leaf) and an update of the heartbeat row, in one transaction; for SQLite also
        that the file is still the one opened at start (not deleted or replaced under the service).

        Raises:
            StorageFault: the database cannot be read or written, or its file is gone.
        """
        if self._file is not None and self._inode is not None:
            try:
                inode = self._file.stat().st_ino
            except OSError:
                inode = None
            if inode != self._inode:
                raise StorageFault(f"the database file {self._file} was deleted or replaced while running")
        try:
            with self.engine.begin() as conn:
                for table in (evaluations, cards, feedback, seen_tokens):
                    key = next(iter(table.primary_key.columns))
                    conn.execute(select(key).order_by(key.desc()).limit(1)).first()
                if conn.execute(heartbeat.update().where(heartbeat.c.id == 1)
                                .values(checked_at=now)).rowcount == 0:
                    conn.execute(insert(heartbeat).values(id=1, checked_at=now))
        except (OperationalError, DatabaseError) as exc:
            raise StorageFault(f"the database cannot be read or written: {_reason(exc)}") from None

    def ping(self, now: dt.datetime | None = None) -> bool:
        """Readiness: `probe` as a yes/no answer (the reason is logged)."""
        try:
            self.probe(now or dt.datetime.now(dt.UTC))
            return True
        except StorageFault as exc:
            log.error("health check: %s", exc)
            return False
        except Exception as exc:  # noqa: BLE001 - readiness is a yes/no answer
            log.error("health check: %s", type(exc).__name__)
            return False

    @property
    def key(self) -> bytes:
        """The audit key (service.audit_key)."""
        return self._salt

    def patient_hash(self, reference: str) -> str:
        """HMAC-SHA256 with the audit key of a patient reference such as 'Patient/1' (plain SHA-256 only
        when no key is given, as in tests of this class alone)."""
        if self._salt:
            return hmac.new(self._salt, reference.encode(), hashlib.sha256).hexdigest()
        return hashlib.sha256(reference.encode()).hexdigest()

    def record_evaluation(self, evaluation: Evaluation, *, now: dt.datetime, channel: str,
                          hook_instance: str | None = None, cards_out: Sequence[StoredCard] = ()) -> int:
        """Store one evaluation (and the cards that present it); returns its row id."""
        digest = self.patient_hash(evaluation.patient)
        trace = pseudonymise(evaluation.model_dump(mode="json"), evaluation.patient, f"Patient/hmac-{digest[:16]}")
        with self.engine.begin() as conn:
            row = conn.execute(insert(evaluations).values(
                evaluation_id=evaluation.id, stored_at=now, evaluated_at=evaluation.now.isoformat(),
                channel=channel, hook_instance=hook_instance,
                patient_sha256=digest,
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

    def take_rate(self, client: str, n: int, *, limit: int, window_s: float, now: float) -> bool:
        """Count `n` items against `client`'s current window; False (nothing counted) when they do not fit.

        Each step is one atomic statement, so workers sharing the database count together: a window older
        than `window_s` restarts at `now`, then the items are added only while the sum stays within `limit`;
        the first item of a client inserts its row (a worker that loses that race adds to the winner's).
        """
        if n > limit:
            return False
        for _ in range(2):
            with self.engine.begin() as conn:
                conn.execute(rate_windows.update().where(rate_windows.c.client == client,
                                                         rate_windows.c.window_start <= now - window_s)
                             .values(window_start=now, used=0))
                added = conn.execute(rate_windows.update().where(rate_windows.c.client == client,
                                                                 rate_windows.c.used + n <= limit)
                                     .values(used=rate_windows.c.used + n)).rowcount
                if added:
                    return True
                if conn.execute(select(rate_windows.c.client).where(rate_windows.c.client == client)).first():
                    return False
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(rate_windows).values(client=client, window_start=now, used=n))
                return True
            except IntegrityError:
                continue  # another worker inserted it first: count against its row
        return False

    def rate_window_start(self, client: str) -> float | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(rate_windows.c.window_start).where(rate_windows.c.client == client)).first()
        return row[0] if row else None

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
            conn.execute(delete(rate_windows).where(rate_windows.c.window_start < now.timestamp() - 3600))
            return conn.execute(delete(evaluations).where(evaluations.c.stored_at < cutoff)).rowcount or 0


class StorageFault(Exception):
    """The audit database is unusable (the message is one line without data)."""


def check_database_file(path: Path | None) -> None:
    """Refuse an SQLite file that is empty (0 bytes, no write-ahead log to recover from): it was
    truncated, and opening it would silently start a new, empty history.

    Raises:
        StorageFault: the file exists and is empty.
    """
    if path is None or not path.exists() or path.stat().st_size > 0:
        return
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return  # SQLite recovers the content from the write-ahead log
    raise StorageFault(f"the database file {path} is empty (0 bytes): its audit history was lost; restore "
                       f"it from a backup, or move it away to start a new database")


@contextlib.contextmanager
def _start_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive lock (``flock``) of ``PATH.start-lock`` while a process checks and creates the
    SQLite database at `path`: processes starting together take turns. No lock without a file (PostgreSQL,
    ``:memory:``) or without ``fcntl`` (not POSIX: then one process per database is assumed)."""
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".start-lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # blocks until the sibling has made the schema
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _reason(exc: Exception) -> str:
    """The DB-API message of an SQLAlchemy error (one line, without the statement or its values)."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else type(exc).__name__).splitlines()[0]


def pseudonymise(doc: Any, reference: str, token: str) -> Any:
    """`doc` with every occurrence of the patient reference (whole strings and inside strings) replaced."""
    if isinstance(doc, str):
        return doc.replace(reference, token) if reference in doc else doc
    if isinstance(doc, dict):
        return {k: pseudonymise(v, reference, token) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [pseudonymise(v, reference, token) for v in doc]
    return doc


def _json_text(value: Any) -> str:
    """The text of a JSON column: orjson (a trace of 500 resources: about 0.1 ms instead of 0.9 ms with
    `json.dumps`); what orjson refuses (an integer over 64 bits, a key that is not a string) by `json.dumps`.
    Both read back to the same value; orjson writes non-ASCII text as UTF-8 rather than as escapes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    # The busy timeout first: switching a fresh file to WAL needs its lock, which another worker starting
    # at the same moment may hold (without the timeout that start failed at once with "database is locked").
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL lets the workers of one server read while another writes; NORMAL sync is safe with WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            row[key] = value.isoformat()
        elif isinstance(value, str) and key in ("packs", "suggestions", "trace"):
            row[key] = json.loads(value)
    return row
