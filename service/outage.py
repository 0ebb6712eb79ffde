"""Service: the audit database failing during a request is a 503 the caller may retry, not a 500.

An SQLite file locked by a long writer ("database is locked"), a disk I/O error, a PostgreSQL server down
or refusing connections: the request itself was fine, the service cannot record it just now. The API
answers ``503`` with a FHIR OperationOutcome (issue code ``transient``, Chinese first, English beside) and
``Retry-After``; the panel answers a Chinese-first page with the same status (service.routes.panel).
Each outage is logged once, in one line: the route and the database's own reason, never the statement,
its values or a patient identifier (SQLAlchemy keeps the values out with ``hide_parameters``; only the
first line of the driver's message is kept, and it is cut short).

What is not an outage stays a 500 with an incident id (service.errors): an integrity or programming error
of a statement is a defect, and retrying would not help.
"""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import exc as sa_exc

from service.storage import StorageFault

log = logging.getLogger("cdss.service")

RETRY_AFTER_S = 5
HEADERS = {"Retry-After": str(RETRY_AFTER_S)}
MESSAGE_ZH = "审计数据库暂时不可用，本次请求未处理；请稍后重试。"
MESSAGE_EN = ("The audit database is temporarily unavailable, so this request was not processed; "
              f"retry in {RETRY_AFTER_S} seconds.")
MESSAGE = f"{MESSAGE_ZH} {MESSAGE_EN}"
HEADING = "暂时无法服务 Temporarily unavailable"
REASON_CHARS = 120

# Errors of a statement (retrying the same request gives the same error): not an outage.
_DEFECTS = (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.DataError, sa_exc.NotSupportedError)


def database_outage(error: BaseException | None) -> BaseException | None:
    """The database error behind `error` (itself, or what it was raised from) when it is an outage."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, sa_exc.DBAPIError) and not isinstance(error, _DEFECTS):
            return error
        if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError | StorageFault
                      | sqlite3.OperationalError):
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def reason(error: BaseException) -> str:
    """One short line: the driver's error type and the first line of its message (no statement, no values)."""
    orig = getattr(error, "orig", None) or error
    first = (str(orig).splitlines() or [""])[0].strip()
    if len(first) > REASON_CHARS:
        first = first[:REASON_CHARS] + "..."
    return f"{type(orig).__name__}: {first}" if first else type(orig).__name__


def log_outage(method: str, route: str, error: BaseException) -> None:
    """The one log line of an outage (`route` is the route's template, e.g. /cds-services/{id}, when known)."""
    log.error("database unavailable: %s %s answered 503: %s", method, route, reason(error))
