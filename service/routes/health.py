"""Service: readiness, ``GET /healthz``: packs loaded and the database really read and written (200),
otherwise 503 (Storage.probe: the newest row of each table, a heartbeat write, the file still there)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

router = APIRouter(tags=["Health"])


@router.get("/healthz", summary="Readiness")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    engine = getattr(state, "engine", None)
    storage = getattr(state, "storage", None)
    database = storage is not None and await run_in_threadpool(storage.ping, state.clock())
    packs = [f"{p.id}@{p.version}" for p in engine.registry.select(())] if engine is not None else []
    ready = engine is not None and database
    body = {"status": "ok" if ready else "unavailable", "packs": packs,
            "database": "ok" if database else "unavailable",
            "auth": "on" if state.settings.auth_enabled else "off"}
    return JSONResponse(body, status_code=200 if ready else 503)
