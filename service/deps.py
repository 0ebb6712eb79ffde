"""Service: dependencies the routes declare (settings, engine, storage, HTTP client, clock, caller).

Everything lives on ``app.state``, set up by the lifespan in app.py; tests replace any of them with
``app.dependency_overrides`` or by passing them to ``create_app``. The getters are ``async def`` although
they only read ``app.state``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
(and, under load, a wait for the GIL) for each of them on every request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import httpx
from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from cdss.vocab.collector import settle_long_lived
from service.auth import Caller, TokenVerifier
from service.errors import ApiError
from service.settings import Settings
from service.storage import Storage

if TYPE_CHECKING:  # the engine is imported when it is loaded, not at import time
    from cdss.engine.results import Evaluation
    from cdss.packs.registry import Registry

Bundle = bytes | str | Mapping[str, Any]  # a FHIR Bundle as JSON text or parsed


class EvaluateFn(Protocol):
    """The shape of `cdss.evaluate` (tests pass stand-ins)."""

    def __call__(self, bundle: Bundle, *, now: dt.datetime, registry: Registry,
                 pins: Sequence[str] = ()) -> Evaluation: ...


@dataclass(frozen=True)
class Engine:
    """The loaded packs and the evaluate function of cdss, as one object the routes call."""

    registry: Registry
    evaluate_fn: EvaluateFn

    def evaluate(self, bundle: Bundle, *, now: dt.datetime, pins: Sequence[str] = ()) -> Evaluation:
        return self.evaluate_fn(bundle, now=now, registry=self.registry, pins=tuple(pins))


def load_engine() -> Engine:
    """The bundled registry and the real evaluate (imported here: no engine work at import time).

    The registry lives as long as the process: it is kept out of the cyclic collector's passes
    (`cdss.vocab.collector`). The registry comes ready from the pack cache (`cdss.engine.plan_cache`: packs
    compiled and indexed once, not in every worker) while no pack, concept or engine module changed."""
    import cdss
    from cdss.engine.plan_cache import ready_registry

    engine = Engine(registry=ready_registry(), evaluate_fn=cdss.evaluate)
    settle_long_lived()
    return engine


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    site = getattr(request.app.state, "site_maps", None)  # service.concept_maps.SiteMaps
    if site is not None and site.stale():
        await run_in_threadpool(site.sync)  # another worker put a site ConceptMap in force
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise ApiError(503, "the rule packs are not loaded yet; retry shortly", code="transient")
    return engine


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.app.state.http


async def get_clock(request: Request) -> Callable[[], dt.datetime]:
    return request.app.state.clock


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def get_caller(request: Request) -> Caller:
    """The authenticated CDS client; `aud` must be the public URL of the endpoint called."""
    settings: Settings = request.app.state.settings
    if not settings.auth_enabled:
        return Caller(issuer=None, subject=None)
    verifier: TokenVerifier = request.app.state.verifier
    audience = settings.public_url + request.url.path
    return await verifier.verify(request.headers.get("authorization"), audience)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
StorageDep = Annotated[Storage, Depends(get_storage)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
ClockDep = Annotated[Callable[[], dt.datetime], Depends(get_clock)]
CallerDep = Annotated[Caller, Depends(get_caller)]
PinsQuery = Annotated[list[str] | None, Query(description="Pin packs: `ID` or `ID@VERSION`, repeatable.")]
