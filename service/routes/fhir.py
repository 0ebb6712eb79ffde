"""Service: the FHIR operation ``POST /fhir/$evaluate`` (a Bundle, or Parameters holding one).

Answers a Bundle with a GuidanceResponse, a RequestGroup (R4) or RequestOrchestration (R5), and the
proposed ServiceRequests, Conditions and DetectedIssues (cdss.render.fhir). R5 output is chosen by the
FHIR media-type parameter, ``Accept: application/fhir+json; fhirVersion=5.0``. Errors are
OperationOutcomes: 400 malformed JSON, 413 too large, 415 unsupported media type, 422 not a Bundle or
not a usable one (IntakeError: diagnostics = the problem sentence, expression = its FHIR path).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from cdss.render.fhir import FhirVersion, guidance_bundle
from service.body import json_body, media_type, parse, read_body
from service.compute import run_cpu
from service.deps import CallerDep, ClockDep, Engine, EngineDep, PinsQuery, SettingsDep, StorageDep
from service.errors import FHIR_JSON, ApiError
from service.settings import Settings
from service.storage import Storage

router = APIRouter(prefix="/fhir", tags=["FHIR"])


class FhirResource(BaseModel):
    """A FHIR resource in JSON: a Bundle, or a Parameters with a `bundle` parameter."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}]}})

    resourceType: str


def bundle_of(resource: Any) -> tuple[dict[str, Any], list[str]]:
    """The Bundle to evaluate and any `pack` pins given as Parameters.

    Raises:
        ApiError: 422 when the body is neither a Bundle nor a Parameters holding one.
    """
    if not isinstance(resource, dict):
        raise ApiError(422, f"expected a FHIR resource (a JSON object), got a JSON {type(resource).__name__}",
                       code="structure")
    rtype = resource.get("resourceType")
    if rtype == "Bundle":
        return resource, []
    if rtype == "Parameters":
        bundles, pins = [], []
        params = resource.get("parameter")
        if not isinstance(params, list | None):
            raise ApiError(422, f"Parameters.parameter must be a list (got a JSON {type(params).__name__})",
                           code="structure", expression="Parameters.parameter")
        for i, param in enumerate(params or ()):
            if not isinstance(param, dict):
                continue
            inner = param.get("resource")
            if isinstance(inner, dict) and inner.get("resourceType") == "Bundle":
                bundles.append((i, inner))
            elif param.get("name") == "pack" and isinstance(param.get("valueString"), str):
                pins.append(param["valueString"])
        if len(bundles) == 1:
            return bundles[0][1], pins
        raise ApiError(422, f"Parameters must hold exactly one Bundle in parameter[].resource (found "
                            f"{len(bundles)}); name it 'bundle'", code="invalid",
                       expression="Parameters.parameter")
    raise ApiError(422, f"wrong resource type {rtype!r}; $evaluate takes a Bundle or Parameters holding one",
                   code="invalid", expression="resourceType")


def fhir_version(request: Request) -> FhirVersion:
    """R5 when the caller asks for it by the fhirVersion media-type parameter; R4 otherwise."""
    for header in ("accept", "content-type"):
        for part in (request.headers.get(header) or "").split(","):
            _, params = media_type(part)
            if params.get("fhirversion", "").startswith("5."):
                return "R5"
    return "R4"


@router.post("/$evaluate", summary="Evaluate a patient Bundle",
             openapi_extra=json_body(FhirResource, media_types=("application/fhir+json", "application/json")),
             responses={200: {"description": "A Bundle: GuidanceResponse, RequestGroup/RequestOrchestration "
                                             "and the proposed resources.",
                              "content": {FHIR_JSON: {}}},
                        400: {"description": "Malformed JSON or unknown pack (OperationOutcome)."},
                        413: {"description": "Body or resource count over the limit (OperationOutcome)."},
                        415: {"description": "Not application/fhir+json (OperationOutcome)."},
                        422: {"description": "Not a Bundle, or not a usable one (OperationOutcome)."}})
async def evaluate(request: Request, caller: CallerDep, settings: SettingsDep, engine: EngineDep,
                   storage: StorageDep, clock: ClockDep,
                   pack: PinsQuery = None
                   ) -> JSONResponse:
    """Run the packs on a Bundle of one patient's data."""
    raw = await read_body(request, settings.max_body_bytes)
    version = fhir_version(request)
    # Parse, evaluate, audit and render: one hop to the worker thread (service.compute).
    return await run_cpu(request, _answer, raw, version, tuple(pack or ()), settings, engine, storage, clock)


def _answer(raw: bytes, version: FhirVersion, query_pins: tuple[str, ...], settings: Settings, engine: Engine,
            storage: Storage, clock: Callable[[], dt.datetime]) -> JSONResponse:
    """The answer to `$evaluate` for a raw body (runs in the worker thread).

    Raises:
        ApiError: 400 not JSON, 413 too many resources, 422 not a Bundle (and the engine's errors).
    """
    bundle, param_pins = bundle_of(parse(raw))
    entries = bundle.get("entry")
    if isinstance(entries, list) and len(entries) > settings.max_resources:
        raise ApiError(413, f"{len(entries)} resources is more than the limit of {settings.max_resources} "
                            f"(CDSS_MAX_RESOURCES)", code="too-costly", expression="Bundle.entry")
    pins = query_pins + tuple(param_pins) or settings.default_packs
    now = clock()
    evaluation = engine.evaluate(bundle, now=now, pins=pins)
    storage.record_evaluation(evaluation, now=now, channel="fhir-evaluate")
    return JSONResponse(guidance_bundle(evaluation, version=version, inputs=bundle), media_type=FHIR_JSON)
