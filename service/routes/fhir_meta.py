"""Service: the FHIR conformance resources: ``GET /fhir/metadata`` (CapabilityStatement),
``GET /fhir/OperationDefinition/evaluate``, and ``GET /packs/{id}/PlanDefinition`` (a rule pack as a
FHIR PlanDefinition; ``?version=`` picks a version, default: the one that runs). No patient data: open.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cdss.render.fhir_conformance import capability_statement, operation_definition, plan_definition
from service.deps import EngineDep, SettingsDep
from service.errors import FHIR_JSON, ApiError

router = APIRouter(tags=["FHIR"])


@router.get("/fhir/metadata", summary="FHIR CapabilityStatement")
def metadata(request: Request, settings: SettingsDep) -> JSONResponse:
    started = getattr(request.app.state, "started", None)
    return JSONResponse(capability_statement(settings.public_url, software_version=request.app.version,
                                             date=started or "2026-01-01"), media_type=FHIR_JSON)


@router.get("/fhir/OperationDefinition/evaluate", summary="OperationDefinition of $evaluate")
def evaluate_definition(settings: SettingsDep) -> JSONResponse:
    return JSONResponse(operation_definition(settings.public_url), media_type=FHIR_JSON)


@router.get("/packs/{pack_id}/PlanDefinition", summary="A rule pack as a FHIR PlanDefinition")
def pack_plan_definition(pack_id: str, engine: EngineDep,
                         version: Annotated[str | None, Query(description="Pack version; default: the "
                                                                           "one that runs.")] = None
                         ) -> JSONResponse:
    registry = engine.registry
    versions: dict[str, Any] = getattr(registry, "packs", {}).get(pack_id, {})
    if not versions:
        raise ApiError(404, f"no pack {pack_id!r}; loaded: {', '.join(sorted(registry.packs)) or 'none'}",
                       code="not-found")
    if version is None:
        pack = next((p for p in registry.select(()) if p.id == pack_id), registry.versions(pack_id)[0])
    elif version in versions:
        pack = versions[version]
    else:
        raise ApiError(404, f"pack {pack_id!r} has no version {version!r}; loaded: "
                            f"{', '.join(sorted(versions))}", code="not-found")
    return JSONResponse(plan_definition(pack), media_type=FHIR_JSON)
