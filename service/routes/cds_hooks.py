"""Service: CDS Hooks 2.0 endpoints: discovery, one service per hook, and feedback.

Specification: https://cds-hooks.hl7.org/2.0/ (sections named in the comments below). The services run
every active pack (or the pinned ones, ``?pack=ID@VERSION``); order-select and order-sign add the draft
orders of ``context.draftOrders`` to the patient's data so the medication checks see them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdss.render.cds_hooks import render_cards
from service.body import json_body, read_json
from service.deps import CallerDep, ClockDep, EngineDep, HttpDep, PinsQuery, SettingsDep, StorageDep
from service.errors import ApiError, validation_issues
from service.prefetch import gather
from service.storage import StoredCard

router = APIRouter(tags=["CDS Hooks"])

# "Prefetch Template": what the packs' rules read (Patient, Observations, Conditions, Medications,
# Allergies). FHIR queries, not clinical content: the value sets that pick codes live in the packs.
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=500",
    "conditions": "Condition?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
}


class ServiceDefinition(BaseModel):
    """One entry of the discovery response ("Discovery", CDS Service attributes)."""

    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None


SERVICES: dict[str, ServiceDefinition] = {s.id: s for s in (
    ServiceDefinition(
        hook="patient-view", id="cdss-patient-view",
        title="社区临床决策支持：患者概览 / Community CDS: patient view",
        description="打开患者档案时，按已发布规则包给出诊断、治疗、随访与转诊建议及理由。 / Diagnosis, "
                    "treatment, follow-up and referral advice with its rationale when a chart is opened.",
        prefetch=PREFETCH),
    ServiceDefinition(
        hook="encounter-start", id="cdss-encounter-start",
        title="社区临床决策支持：接诊开始 / Community CDS: encounter start",
        description="接诊开始时给出同样的建议（含紧急转诊）。 / The same advice, including emergency "
                    "referral, when an encounter starts.",
        prefetch=PREFETCH),
    ServiceDefinition(
        hook="order-select", id="cdss-order-select",
        title="社区临床决策支持：选择医嘱 / Community CDS: order select",
        description="选择医嘱时核查草稿用药（context.draftOrders）与患者数据。 / Medication checks of the "
                    "draft orders against the patient's data while orders are selected.",
        prefetch=PREFETCH),
    ServiceDefinition(
        hook="order-sign", id="cdss-order-sign",
        title="社区临床决策支持：签署医嘱 / Community CDS: order sign",
        description="签署医嘱前核查草稿用药；有问题时建议撤销该草稿医嘱。 / Medication checks before "
                    "signing; a problem proposes removing the draft order.",
        prefetch=PREFETCH),
)}
DRAFT_HOOKS = {"order-select", "order-sign"}


class DiscoveryResponse(BaseModel):
    services: list[ServiceDefinition]


class FhirAuthorization(BaseModel):
    """"FHIR Resource Access": the token the service may use on fhirServer."""

    model_config = ConfigDict(extra="allow")

    access_token: str = Field(min_length=1)
    token_type: str | None = None
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class CdsServiceRequest(BaseModel):
    """"Calling a CDS Service": the POST body."""

    model_config = ConfigDict(extra="allow")

    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1, max_length=200)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class Coding(BaseModel):
    model_config = ConfigDict(extra="allow")

    system: str | None = None
    code: str = Field(min_length=1)
    display: str | None = None


class OverrideReason(BaseModel):
    reason: Coding | None = None
    userComment: str | None = None


class AcceptedSuggestion(BaseModel):
    id: str = Field(min_length=1)


class FeedbackItem(BaseModel):
    """"Feedback": one outcome of one card."""

    model_config = ConfigDict(extra="allow")

    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: dt.datetime


class FeedbackRequest(BaseModel):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=1000)


class FeedbackResponse(BaseModel):
    stored: int


def _service(service_id: str) -> ServiceDefinition:
    service = SERVICES.get(service_id)
    if service is None:
        raise ApiError(404, f"no CDS service {service_id!r}; GET /cds-services lists "
                            f"{', '.join(sorted(SERVICES))}", code="not-found")
    return service


def _parse(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, issues=validation_issues(exc.errors())) from exc


@router.get("/cds-services", response_model=DiscoveryResponse, response_model_exclude_none=True,
            summary="CDS Hooks discovery")
def discovery(_: CallerDep) -> dict[str, Any]:
    """The services of this CDS server with their prefetch templates ("Discovery")."""
    return {"services": [s.model_dump(exclude_none=True) for s in SERVICES.values()]}


@router.post("/cds-services/{service_id}", summary="Call a CDS service",
             openapi_extra=json_body(CdsServiceRequest),
             responses={200: {"description": "Cards (`{\"cards\": []}` when there is no advice)."},
                        412: {"description": "The patient's data can be had neither from prefetch nor from "
                                             "fhirServer (OperationOutcome)."}})
async def call_service(service_id: str, request: Request, caller: CallerDep, settings: SettingsDep,
                       engine: EngineDep, storage: StorageDep, http: HttpDep, clock: ClockDep,
                       pack: PinsQuery = None
                       ) -> JSONResponse:
    """Evaluate the patient of the hook call and answer with cards."""
    service = _service(service_id)
    call: CdsServiceRequest = _parse(CdsServiceRequest, await read_json(request, settings.max_body_bytes))
    if call.hook != service.hook:
        raise ApiError(400, f"hook {call.hook!r} sent to the {service.hook!r} service {service.id!r}",
                       code="value", expression="hook")
    data = await gather(call.model_dump(), service.prefetch, http=http, timeout_s=settings.fhir_timeout_s,
                        max_pages=settings.fhir_max_pages, max_resources=settings.max_resources)
    now = clock()
    pins = tuple(pack or ()) or settings.default_packs
    evaluation = await run_in_threadpool(engine.evaluate, data.bundle(), now=now, pins=pins)
    rendered = render_cards(evaluation, hook_instance=call.hookInstance,
                            panel_url=f"{settings.public_url}/panel" if settings.panel_enabled else None,
                            draft_orders=data.drafts if service.hook in DRAFT_HOOKS else None, hook=service.hook)
    await run_in_threadpool(
        storage.record_evaluation, evaluation, now=now, channel=service.id, hook_instance=call.hookInstance,
        cards_out=[StoredCard(c.card_uuid, c.suggestion_id, c.suggestion_uuids) for c in rendered.index])
    return JSONResponse(rendered.body)


@router.post("/cds-services/{service_id}/feedback", summary="Feedback on cards",
             openapi_extra=json_body(FeedbackRequest), response_model=FeedbackResponse)
async def feedback(service_id: str, request: Request, caller: CallerDep, settings: SettingsDep,
                   storage: StorageDep, clock: ClockDep) -> dict[str, int]:
    """Store accepted / overridden outcomes, with override reasons ("Feedback")."""
    service = _service(service_id)
    body: FeedbackRequest = _parse(FeedbackRequest, await read_json(request, settings.max_body_bytes))
    items = []
    for item in body.feedback:
        if item.outcome == "accepted" and not item.acceptedSuggestions:
            raise ApiError(400, "an accepted outcome needs acceptedSuggestions", code="required",
                           expression="feedback.acceptedSuggestions")
        plain = item.model_dump(mode="json", exclude_none=True)
        items.append(plain)
    stored = await run_in_threadpool(storage.record_feedback, service.id, items, now=clock())
    return {"stored": stored}
