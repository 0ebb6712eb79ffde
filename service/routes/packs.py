"""Service: what is loaded: rule packs with their versions, and the disease catalogue.

``GET /packs``, ``GET /packs/{id}``, ``GET /catalogue?q=&kind=&department=``, ``GET /catalogue/{id}``, and
when the catalogue's FHIR export exists (cdss.render.catalogue_fhir), ``GET /fhir/CodeSystem/{id}`` and
``GET /fhir/ValueSet/{id}``. Metadata only, no patient data: these need no token.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from service.deps import Engine, EngineDep
from service.errors import FHIR_JSON, ApiError

if TYPE_CHECKING:
    from cdss.packs.catalogue import Catalogue, Disease
    from cdss.packs.registry import Pack

router = APIRouter(tags=["Packs and catalogue"])


def _pack_version(pack: Pack, default: Pack | None, *, rules: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": pack.version, "status": pack.status, "effective": pack.meta.effective.isoformat(),
        "sha256": pack.sha256, "default": default is not None and default.version == pack.version,
        "title": pack.meta.title.model_dump(),
    }
    if rules:
        out["sources"] = [s.model_dump(exclude_none=True) for s in pack.meta.sources]
        out["rules"] = [{"id": r.full_id, "kind": r.kind, "urgency": r.urgency, "disease": r.disease,
                         "title": r.rule.then.title.model_dump()} for r in pack.rules]
    return out


def _defaults(engine: Engine) -> dict[str, Pack]:
    return {p.id: p for p in engine.registry.select(())}


@router.get("/packs", summary="Loaded rule packs")
def list_packs(engine: EngineDep) -> dict[str, Any]:
    """Every loaded pack with its versions; `default` marks the version that runs when none is pinned."""
    registry = engine.registry
    defaults = _defaults(engine)
    out = []
    for pack_id in sorted(registry.packs):
        versions = registry.versions(pack_id)
        out.append({"id": pack_id, "title": versions[0].meta.title.model_dump(),
                    "versions": [_pack_version(p, defaults.get(pack_id), rules=False) for p in versions]})
    return {"packs": out}


@router.get("/packs/{pack_id}", summary="One rule pack, every version, with its rules")
def get_pack(pack_id: str, engine: EngineDep) -> dict[str, Any]:
    registry = engine.registry
    versions = registry.versions(pack_id)
    if not versions:
        raise ApiError(404, f"no pack {pack_id!r}; loaded: {', '.join(sorted(registry.packs)) or 'none'}",
                       code="not-found")
    default = _defaults(engine).get(pack_id)
    return {"id": pack_id, "title": versions[0].meta.title.model_dump(),
            "versions": [_pack_version(p, default, rules=True) for p in versions]}


def _catalogue(engine: Engine) -> Catalogue:
    catalogue = getattr(engine.registry, "catalogue", None)
    if catalogue is None:
        raise ApiError(404, "no disease catalogue is loaded", code="not-found")
    return catalogue


def _disease(d: Disease) -> dict[str, Any]:
    out = d.model_dump(mode="json", exclude_none=True)
    out["code"] = d.code
    out["code_system"] = d.code_system
    return out


@router.get("/catalogue", summary="Search the disease catalogue")
def search_catalogue(
    engine: EngineDep,
    q: Annotated[str, Query(max_length=200, description="Text in a name, alias, id or code.")] = "",
    kind: Annotated[Literal["western", "tcm"] | None, Query()] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    catalogue = _catalogue(engine)
    found = catalogue.search(q, kind=kind, department=department or None)
    return {"catalogue": {"id": catalogue.id, "version": catalogue.version, "sha256": catalogue.sha256},
            "total": len(found), "entries": [_disease(d) for d in found]}


@router.get("/catalogue/{disease_id}", summary="One catalogue entry")
def get_disease(disease_id: str, engine: EngineDep) -> dict[str, Any]:
    disease = _catalogue(engine).get(disease_id)
    if disease is None:
        raise ApiError(404, f"no catalogue entry {disease_id!r}; search with GET /catalogue?q=",
                       code="not-found")
    return _disease(disease)


def _exporter() -> Any:
    try:
        return importlib.import_module("cdss.render.catalogue_fhir")
    except ModuleNotFoundError as exc:
        if exc.name != "cdss.render.catalogue_fhir":
            raise
        return None


def _terminology(engine: Engine) -> list[dict[str, Any]]:
    """The catalogue's CodeSystems (whole, and per kind) and ValueSets (per kind)."""
    module = _exporter()
    if module is None:
        raise ApiError(404, "the catalogue's FHIR export is not available in this version", code="not-supported")
    catalogue = _catalogue(engine)
    return [module.catalogue_code_system(catalogue),
            *(module.catalogue_code_system(catalogue, kind) for kind in module.KINDS),
            *(module.catalogue_value_set(catalogue, kind) for kind in module.KINDS)]


@router.get("/fhir/CodeSystem/{resource_id}", summary="The catalogue as a FHIR CodeSystem",
            responses={200: {"content": {FHIR_JSON: {}}}})
def code_system(resource_id: str, engine: EngineDep) -> JSONResponse:
    """`{catalogue-id}` (every entry) or `{catalogue-id}-western` / `-tcm`; codes are the entry ids."""
    return _export(engine, "CodeSystem", resource_id)


@router.get("/fhir/ValueSet/{resource_id}", summary="The catalogue's codes as a FHIR ValueSet",
            responses={200: {"content": {FHIR_JSON: {}}}})
def value_set(resource_id: str, engine: EngineDep) -> JSONResponse:
    """`{catalogue-id}-western` (ICD-10) or `{catalogue-id}-tcm` (GB/T 15657-2021)."""
    return _export(engine, "ValueSet", resource_id)


def _export(engine: Engine, resource_type: str, resource_id: str) -> JSONResponse:
    found = [r for r in _terminology(engine) if r["resourceType"] == resource_type]
    for resource in found:
        if resource["id"] == resource_id:
            return JSONResponse(resource, media_type=FHIR_JSON)
    raise ApiError(404, f"no {resource_type} {resource_id!r}; available: "
                        f"{', '.join(r['id'] for r in found)}", code="not-found")
