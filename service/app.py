"""Service: the application factory. ``create_app(settings)`` builds the app; nothing happens at import time.

At start (the lifespan) the app loads the packs once, opens the audit database (creating its tables and
applying the retention period) and an HTTP client for fhirServer and ``jku`` calls; at stop it closes them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from service import compute, concept_maps, errors
from service.auth import TokenVerifier
from service.body import BODY_MODELS
from service.deps import Engine, load_engine, utc_now
from service.packs_check import check_packs
from service.panel_links import link_key
from service.preflight import check_verifier, open_storage
from service.routes import cds_hooks, fhir, fhir_meta, health, packs, panel, panel_link, smart
from service.settings import Settings, load_settings
from service.smart import cookie_key
from service.workers import watch_parent

log = logging.getLogger("cdss.service")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               http_transport: httpx.AsyncBaseTransport | None = None,
               clock: Callable[[], dt.datetime] | None = None) -> FastAPI:
    """Build the service.

    Args:
        settings: defaults to the ``CDSS_*`` environment (checked; unsafe values refused).
        engine: registry and evaluate; default: the bundled packs and ``cdss.evaluate``, loaded at start.
        http_transport: transport of the outgoing HTTP client (tests pass an ``httpx.MockTransport``).
        clock: source of the evaluation time (aware datetimes); default: UTC now.

    Raises:
        ConfigError: a setting is malformed or unsafe.
    """
    if settings is None:
        settings = load_settings()
    else:
        settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.warn_if_open()
        compute.install(app)  # one evaluation at a time per worker (service.compute)
        storage = await run_in_threadpool(open_storage, settings, app.state.clock())
        app.state.link_key = link_key(storage.key)
        app.state.smart_key = cookie_key(storage.key)
        check_verifier(settings, storage)
        http = httpx.AsyncClient(transport=http_transport, follow_redirects=False,
                                 timeout=settings.fhir_timeout_s)
        app.state.storage = storage
        app.state.http = http
        app.state.verifier = TokenVerifier(settings, storage, http)
        if engine is None:
            loaded = await run_in_threadpool(load_engine)
            check_packs(loaded.registry, allow_unpublished=settings.allow_unpublished_packs)
            app.state.engine = loaded
        else:
            app.state.engine = engine
        if settings.workers > 1:
            watch_parent()
        app.state.started = app.state.clock().date().isoformat()
        await run_in_threadpool(concept_maps.start, app, settings.concept_maps_dir)  # site ConceptMaps
        log.info("cdss service ready: packs %s, database %s, auth %s",
                 ", ".join(f"{p.id}@{p.version}" for p in app.state.engine.registry.select(())),
                 storage.engine.url.render_as_string(hide_password=True),
                 "on" if settings.auth_enabled else "OFF")
        try:
            yield
        finally:
            await http.aclose()
            storage.close()

    app = FastAPI(
        title="cdss: community clinical decision support",
        description="CDS Hooks 2.0 services, the FHIR operation $evaluate, rule packs and the disease "
                    "catalogue. Errors are FHIR OperationOutcomes. Integrator guide: docs/integrator/.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or utc_now
    app.state.engine = None
    app.state.outage_page = panel.outage_page  # a /panel request the database cannot serve (service.outage)
    errors.install(app)
    if settings.cors_origins:
        # CDS Hooks 2.0: "browser-based CDS Clients will require CORS support" (e.g. the CDS Hooks sandbox).
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type", "Accept"], max_age=600)
    app.include_router(health.router)
    app.include_router(cds_hooks.router)
    app.include_router(fhir.router)
    app.include_router(fhir_meta.router)
    app.include_router(packs.router)
    app.include_router(concept_maps.router)
    if settings.panel_enabled:
        app.include_router(panel.router)
    elif settings.auth_enabled or settings.smart_enabled:
        app.include_router(panel_link.router)  # card links with a signed token (service.panel_links)
    if settings.panel_enabled or settings.auth_enabled or settings.smart_enabled:
        app.mount(panel.STATIC_PATH, panel.static_files(), name="panel-static")  # CSS, JS, samples
    if settings.smart_enabled:
        app.include_router(smart.router)  # SMART App Launch of the panel (service.smart)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app




def _version() -> str:
    try:
        from importlib.metadata import version

        return version("cdss")
    except Exception:  # noqa: BLE001 - not installed (running from a checkout)
        return "0"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """OpenAPI with the schemas of the bodies that routes read themselves (service.body.json_body)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in BODY_MODELS.items():
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in model_schema.pop("$defs", {}).items():
            components.setdefault(def_name, definition)
        components[name] = model_schema
    app.openapi_schema = schema
    return schema
