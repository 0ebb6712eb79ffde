"""Service: the SMART App Launch (v2) EHR launch of the panel, mounted when ``CDSS_SMART_CLIENT_ID`` is set:

    GET /smart/launch?iss=FHIR-BASE&launch=OPAQUE   discover iss, redirect to its authorization endpoint
    GET /smart/callback?code=...&state=...           exchange the code, fetch the patient, evaluate, and
                                                     redirect to that evaluation's page (signed panel link)

The patient's data come from ``iss`` with the access token, by the same searches as the CDS Hooks
prefetch templates and under the same outbound rules (service.prefetch). Every failure (an issuer not
allowed, a state that does not match, a token error, data that cannot be had) is a Chinese-first error
page with its HTTP status, never a 500. The steps themselves: service.smart.
"""

from __future__ import annotations

import html
import logging
import secrets
import time
from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cdss.errors import CdssError
from service.compute import run_cpu
from service.deps import ClockDep, EngineDep, HttpDep, SettingsDep, StorageDep
from service.errors import ApiError
from service.outbound import own_addresses, resolve
from service.panel_links import sign
from service.prefetch import gather, patient_id
from service.routes.cds_hooks import OPTIONAL_PREFETCH, PREFETCH
from service.smart import (
    COOKIE,
    LAUNCH_TTL_S,
    MESSAGES,
    LaunchError,
    authorize_url,
    discover,
    exchange_code,
    pkce_pair,
    same_issuer,
    seal,
    unseal,
)

router = APIRouter(prefix="/smart", tags=["SMART App Launch"], include_in_schema=False)
log = logging.getLogger("cdss.service")

PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def error_page(error: LaunchError) -> HTMLResponse:
    """The error page: the message in Chinese, then English, then the technical detail."""
    zh, en = MESSAGES[error.key]
    detail = f"<p><code>{html.escape(error.detail)}</code></p>" if error.detail else ""
    body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>SMART 启动失败 / SMART '
            f'launch failed</title></head><body><main role="alert"><h1>SMART 启动失败 / SMART launch failed</h1>'
            f'<p lang="zh-CN">{html.escape(zh)}</p><p lang="en">{html.escape(en)}</p>{detail}'
            f'<p lang="zh-CN">错误代码 / error code: <code>{html.escape(error.key)}</code></p></main></body></html>')
    return HTMLResponse(body, status_code=error.status, headers=PAGE_HEADERS)


def _redirect_uri(request: Request) -> str:
    settings = request.app.state.settings
    return settings.smart_redirect_url or f"{settings.public_url}/smart/callback"


def _outbound(request: Request) -> dict[str, object]:
    s = request.app.state.settings
    return {"allowlist": s.fhir_server_allowlist, "own": own_addresses(s.public_url, s.host, s.port),
            "resolver": getattr(request.app.state, "resolver", None) or resolve,
            "max_bytes": s.fhir_max_bytes, "timeout_s": s.fhir_timeout_s}


@router.get("/launch")
async def launch(request: Request, settings: SettingsDep, http: HttpDep) -> Response:
    """EHR launch: check the issuer, discover its endpoints, redirect with PKCE and state."""
    try:
        iss, launch_id = request.query_params.get("iss"), request.query_params.get("launch")
        if not iss or not launch_id or len(iss) > 2000 or len(launch_id) > 2000:
            raise LaunchError("bad-request", "iss and launch are required")
        issuer = same_issuer(iss, settings.smart_issuers)
        if issuer is None:
            raise LaunchError("wrong-issuer", iss[:200], status=403)
        endpoints = await discover(http, issuer, **_outbound(request))  # type: ignore[arg-type]
    except LaunchError as exc:
        log.warning("SMART launch refused: %s", exc)
        return error_page(exc)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    target = authorize_url(endpoints, client_id=settings.smart_client_id, redirect_uri=_redirect_uri(request),
                           scope=settings.smart_scope, launch=launch_id, state=state, challenge=challenge,
                           aud=issuer)
    response = RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, seal(request.app.state.smart_key, {
        "state": state, "verifier": verifier, "iss": issuer, "token": endpoints.token}, time.time()),
        max_age=LAUNCH_TTL_S, path="/smart", httponly=True, samesite="lax",
        secure=settings.public_url.startswith("https://"))
    return response


@router.get("/callback")
async def callback(request: Request, settings: SettingsDep, engine: EngineDep, storage: StorageDep,
                   http: HttpDep, clock: ClockDep) -> Response:
    """Authorization answer: check state, exchange the code, fetch and evaluate the patient, open the page."""
    try:
        target = await _finish(request, settings, engine, storage, http, clock)
    except LaunchError as exc:
        log.warning("SMART launch failed: %s", exc)
        response: Response = error_page(exc)
    else:
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE, path="/smart")  # one launch, one use
    return response


async def _finish(request: Request, settings: SettingsDep, engine: EngineDep, storage: StorageDep,
                  http: HttpDep, clock: ClockDep) -> str:
    q = request.query_params
    if q.get("error"):
        raise LaunchError("authorization-denied",
                          f"{q['error'][:100]}: {(q.get('error_description') or '')[:200]}", status=403)
    session = unseal(request.app.state.smart_key, request.cookies.get(COOKIE), time.time())
    state = q.get("state")
    if not state or not isinstance(session.get("state"), str) or state != session["state"]:
        raise LaunchError("state-mismatch", "the state of the callback is not the state of this launch", status=403)
    if same_issuer(str(session.get("iss")), settings.smart_issuers) is None:
        raise LaunchError("wrong-issuer", str(session.get("iss"))[:200], status=403)
    code = q.get("code")
    if not code or len(code) > 4000:
        raise LaunchError("token-error", "the callback carries no authorization code")
    token = await exchange_code(http, str(session["token"]), code=code, verifier=str(session["verifier"]),
                                client_id=settings.smart_client_id, redirect_uri=_redirect_uri(request),
                                **_outbound(request))  # type: ignore[arg-type]
    try:
        pid = patient_id({"patientId": token["patient"]})
        data = await gather({"context": {"patientId": pid}, "fhirServer": session["iss"],
                             "fhirAuthorization": {"access_token": token["access_token"]}},
                            PREFETCH, http=http, timeout_s=settings.fhir_timeout_s,
                            max_pages=settings.fhir_max_pages, max_resources=settings.max_resources,
                            max_bytes=settings.fhir_max_bytes, allowlist=settings.fhir_server_allowlist,
                            own=own_addresses(settings.public_url, settings.host, settings.port),
                            resolver=getattr(request.app.state, "resolver", None) or resolve,
                            optional=OPTIONAL_PREFETCH)
    except ApiError as exc:
        raise LaunchError("data-unavailable", str(exc)[:300], status=502 if exc.status == 412 else exc.status) \
            from None
    now = clock()
    try:
        evaluation = await run_cpu(request, partial(engine.evaluate, data.bundle(), now=now,
                                                    pins=settings.default_packs))
    except CdssError as exc:
        raise LaunchError("evaluation-failed", str(exc).splitlines()[0][:300], status=422) from None
    await run_in_threadpool(storage.record_evaluation, evaluation, now=now, channel="smart-launch")
    expires = int(time.time()) + settings.panel_link_ttl_s
    return (f"{settings.public_url}/panel/evaluations/{evaluation.id}"
            f"?t={sign(request.app.state.link_key, evaluation.id, expires)}")
