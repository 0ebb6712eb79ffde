"""Service: every error answer, in one shape: a FHIR OperationOutcome with the right HTTP status.

    ApiError                     raised by routes for a 4xx answer (status, FHIR issue code, sentence,
                                 FHIRPath expression)
    cdss.errors.IntakeError  ->  422, one issue per problem (diagnostics = the problem sentence,
                                 expression = its FHIR path)
    cdss.errors.EngineError  ->  400 (an unknown pack or version was pinned)
    the audit database down  ->  503, code transient, Retry-After (service.outage; the panel: a page)
    anything else            ->  500 with an incident id that is also written to the log with the trace;
                                 the trace itself never leaves the server

The same sentence a person reads in the CLI is the ``diagnostics`` here (STYLE.md, section 3).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cdss.errors import CdssError, EngineError, IntakeError, Problem
from service import outage

log = logging.getLogger("cdss.service")

FHIR_JSON = "application/fhir+json"

# HTTP status -> FHIR issue type (http://hl7.org/fhir/issue-type), for errors raised without one.
_ISSUE_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 412: "incomplete", 413: "too-costly", 415: "not-supported",
               422: "invalid", 429: "throttled"}


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue."""

    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: str | None = None
    details: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if self.details:
            out["details"] = {"text": self.details}
        out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = [self.expression]
        return out


class ApiError(Exception):
    """A client error answered as an OperationOutcome.

    Example: ``raise ApiError(415, "unsupported media type 'text/plain'; send application/fhir+json")``
    """

    def __init__(self, status: int, diagnostics: str | None = None, *, code: str | None = None,
                 expression: str | None = None, issues: Iterable[Issue] = (),
                 headers: dict[str, str] | None = None):
        self.status = status
        self.issues = tuple(issues) or (
            Issue(diagnostics or "", code=code or _ISSUE_CODE.get(status, "processing"),
                  expression=expression),
        )
        self.headers = headers
        super().__init__(diagnostics or "; ".join(i.diagnostics for i in self.issues))


def outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


def outcome_response(status: int, issues: Iterable[Issue],
                     headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(outcome(issues), status_code=status, media_type=FHIR_JSON, headers=headers)


def problem_issue(problem: Problem) -> Issue:
    return Issue(str(problem), code=problem.code if problem.code in _FHIR_CODES else "invalid",
                 expression=problem.field, details=problem.code)


# Issue types a Problem code may already be (otherwise the problem code goes to details.text).
_FHIR_CODES = {"invalid", "structure", "required", "value", "invariant", "not-supported", "not-found",
               "too-costly", "incomplete", "processing"}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into an OperationOutcome."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return outcome_response(exc.status, exc.issues, exc.headers)

    @app.exception_handler(IntakeError)
    async def _intake(_: Request, exc: IntakeError) -> JSONResponse:
        return outcome_response(422, [problem_issue(p) for p in exc.problems])

    @app.exception_handler(EngineError)
    async def _engine(_: Request, exc: EngineError) -> JSONResponse:
        return outcome_response(400, [problem_issue(p) for p in exc.problems])

    @app.exception_handler(CdssError)
    async def _cdss(request: Request, exc: CdssError) -> Response:
        return _incident(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return outcome_response(422, validation_issues(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = exc.detail if isinstance(exc.detail, str) else "request refused"
        return outcome_response(exc.status_code,
                                [Issue(text, code=_ISSUE_CODE.get(exc.status_code, "processing"))],
                                getattr(exc, "headers", None))

    app.add_middleware(IncidentMiddleware)


class IncidentMiddleware:
    """Answer any exception no handler took with a 500 OperationOutcome, and stop it there.

    (An ``Exception`` handler would run in Starlette's ServerErrorMiddleware, which re-raises after
    answering: the server then logs the error twice and resets the client's keep-alive connection.)
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: logged with its trace
            if started:
                raise
            await _incident(Request(scope), exc)(scope, receive, send)


def _incident(request: Request, exc: BaseException) -> Response:
    down = outage.database_outage(exc)
    if down is not None:
        route = getattr(request.scope.get("route"), "path", None) or request.url.path
        outage.log_outage(request.method, route, down)
        page = getattr(request.app.state, "outage_page", None) if "app" in request.scope else None
        if page is not None and request.url.path.startswith("/panel"):
            return page(request)
        return outcome_response(503, [Issue(outage.MESSAGE, code="transient")], dict(outage.HEADERS))
    incident = uuid.uuid4().hex
    # The exception text may quote request data (a failed INSERT lists its parameters): the log gets the
    # exception type and the stack, never its message (no patient data in the log).
    log.error("incident %s: %s %s failed: %s", incident, request.method, request.url.path,
              type(exc).__name__, exc_info=(type(exc), _Redacted(type(exc).__name__), exc.__traceback__))
    return outcome_response(500, [Issue(f"internal error; quote incident {incident} to the operator, who "
                                        f"finds the details in the service log", code="exception")])


class _Redacted(Exception):
    """Stands in for an exception in the log: its type and stack, not its text."""


def validation_issues(errors: Iterable[dict[str, Any]], root: str = "") -> list[Issue]:
    """Pydantic / FastAPI validation errors as issues, each with the JSON path of the field."""
    issues = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        path = ".".join(([root] if root else []) + loc)
        where = f"{path}: " if path else ""
        got = err.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float | bool) and len(repr(got)) < 80 else ""
        issues.append(Issue(f"{where}{err.get('msg', 'invalid value')}{shown}",
                            code="required" if err.get("type") == "missing" else "invalid",
                            expression=path or None))
    return issues
