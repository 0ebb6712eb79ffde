"""Service: CDS Hooks 2.0 endpoints: discovery, one service per hook, and feedback.

Specification: https://cds-hooks.hl7.org/2.0/ (sections named in the comments below). The services run
every active pack (or the pinned ones, ``?pack=ID@VERSION``); order-select and order-sign add the draft
orders of ``context.draftOrders`` to the patient's data so the medication checks see them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from cdss.render.cds_hooks import RenderedCards, render_cards
from cdss.render.conditions import wording_for
from cdss.vocab.times import aware
from service.body import json_body, read_json
from service.compute import run_cpu
from service.deps import CallerDep, ClockDep, EngineDep, HttpDep, PinsQuery, SettingsDep, StorageDep
from service.errors import ApiError, validation_issues
from service.outbound import own_addresses, resolve
from service.panel_links import sign
from service.prefetch import gather
from service.ratelimit import SharedRateLimiter
from service.storage import StoredCard

if TYPE_CHECKING:  # the engine is imported when it is loaded (service.deps)
    from cdss.engine.results import Evaluation

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
    # Questionnaires (the elderly TCM constitution questionnaire, issue #13): read by intake by the
    # Questionnaire's canonical URL; any completed or amended response of the patient may count.
    "questionnaireResponses": "QuestionnaireResponse?patient={{context.patientId}}&status=completed,amended"
                              "&_sort=-authored&_count=100",
}
# Keys whose data the service can do without: missing from the prefetch with no fhirServer, or not
# obtainable from it (a server without QuestionnaireResponse), they count as "no such data", not a 412.
OPTIONAL_PREFETCH = frozenset({"questionnaireResponses"})


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
# Context fields the hooks' specifications (cds-hooks-library, hooks v1.0/1.1) mark REQUIRED.
REQUIRED_CONTEXT = {
    "patient-view": ("userId", "patientId"),
    "encounter-start": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
}
# Kinds of advice each hook is for: data gaps of other rules give no card there (an order-sign of an
# antibiotic is no place to ask for a blood pressure).
GAP_KINDS: dict[str, frozenset[str] | None] = {
    "patient-view": None, "encounter-start": None,
    "order-select": frozenset({"medication"}), "order-sign": frozenset({"medication"}),
}


class DiscoveryResponse(BaseModel):
    services: list[ServiceDefinition]


class FhirAuthorization(BaseModel):
    """"FHIR Resource Access": the token the service may use on fhirServer."""

    model_config = ConfigDict(extra="allow")

    access_token: str = Field(min_length=1)
    token_type: str | None = None
    expires_in: StrictInt | StrictFloat | None = None  # the spec says integer; any JSON number is taken
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


def check_context(hook: str, context: dict[str, Any]) -> None:
    """The hook's REQUIRED context fields are present (400 naming the first one missing); order-select's
    `selections` is a list of references to draft orders.

    Raises:
        ApiError: 400.
    """
    for name in REQUIRED_CONTEXT.get(hook, ()):
        if context.get(name) in (None, "", [], {}):
            raise ApiError(400, f"context.{name} is required for the {hook} hook", code="required",
                           expression=f"context.{name}")
    if not isinstance(context.get("userId"), str):
        raise ApiError(400, "context.userId must be a string such as 'Practitioner/123'", code="value",
                       expression="context.userId")
    if hook == "order-select":
        selections = context["selections"]
        if not isinstance(selections, list) or not all(isinstance(x, str) and x for x in selections):
            raise ApiError(400, "context.selections must be a list of references such as "
                                "'MedicationRequest/123'", code="value", expression="context.selections")


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
    check_context(service.hook, call.context)
    if call.fhirAuthorization is not None and not call.fhirServer:
        raise ApiError(400, "fhirAuthorization is given without fhirServer (CDS Hooks 2.0, cds-r-1)",
                       code="required", expression="fhirServer")
    data = await gather(call.model_dump(), service.prefetch, http=http, timeout_s=settings.fhir_timeout_s,
                        max_pages=settings.fhir_max_pages, max_resources=settings.max_resources,
                        max_bytes=settings.fhir_max_bytes, allowlist=settings.fhir_server_allowlist,
                        own=own_addresses(settings.public_url, settings.host, settings.port),
                        resolver=getattr(request.app.state, "resolver", None) or resolve,
                        optional=OPTIONAL_PREFETCH)
    now = clock()
    pins = tuple(pack or ()) or settings.default_packs
    link_key = request.app.state.link_key if not settings.panel_enabled and settings.auth_enabled else None

    def evaluate_and_render() -> tuple[Evaluation, RenderedCards]:  # one CPU hop (service.compute)
        evaluation = engine.evaluate(data.bundle(), now=now, pins=pins)
        link_query = None
        if link_key is not None:
            link_query = f"t={sign(link_key, evaluation.id, int(time.time()) + settings.panel_link_ttl_s)}"
        return evaluation, render_cards(
            evaluation, hook_instance=call.hookInstance,
            panel_url=f"{settings.public_url}/panel" if settings.panel_enabled or link_query else None,
            link_query=link_query, draft_orders=data.drafts if service.hook in DRAFT_HOOKS else None,
            gap_kinds=GAP_KINDS[service.hook], requester=call.context.get("userId"), hook=service.hook,
            smart_url=f"{settings.public_url}/smart/launch" if settings.smart_enabled else None,
            wording=wording_for(engine.registry))

    evaluation, rendered = await run_cpu(request, evaluate_and_render)
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
    client = f"{caller.issuer}|{caller.subject}" if caller.issuer else \
        (request.client.host if request.client else "unknown")
    limiter = _limiter(request, settings.feedback_rate_per_minute)
    if not await run_in_threadpool(limiter.take, client, len(body.feedback)):
        raise ApiError(429, f"more than {settings.feedback_rate_per_minute} feedback items a minute from this "
                            f"client (CDSS_FEEDBACK_RATE_PER_MINUTE); retry later", code="throttled",
                       headers={"Retry-After": str(await run_in_threadpool(limiter.retry_after, client))})
    now = clock()
    items = []
    for i, item in enumerate(body.feedback):
        at = f"feedback[{i}]"
        if item.outcome == "accepted" and not item.acceptedSuggestions:
            raise ApiError(400, "an accepted outcome needs acceptedSuggestions", code="required",
                           expression=f"{at}.acceptedSuggestions")
        plain = item.model_dump(mode="json", exclude_none=True)
        comment = (item.overrideReason.userComment if item.overrideReason else None) or ""
        if len(comment) > settings.feedback_max_comment_chars:
            raise ApiError(413, f"userComment of {len(comment)} characters is longer than the limit of "
                                f"{settings.feedback_max_comment_chars} (CDSS_FEEDBACK_MAX_COMMENT_CHARS)",
                           code="too-costly", expression=f"{at}.overrideReason.userComment")
        size = len(json.dumps(plain, ensure_ascii=False).encode())
        if size > settings.feedback_max_item_bytes:
            raise ApiError(413, f"a feedback item of {size} bytes is larger than the limit of "
                                f"{settings.feedback_max_item_bytes} (CDSS_FEEDBACK_MAX_ITEM_BYTES)",
                           code="too-costly", expression=at)
        stamp = aware(item.outcomeTimestamp)
        if stamp > now + FEEDBACK_CLOCK_SKEW:
            raise ApiError(400, f"outcomeTimestamp {item.outcomeTimestamp.isoformat()} is in the future",
                           code="value", expression=f"{at}.outcomeTimestamp")
        items.append(plain)
    for i, plain in enumerate(items):
        if not await run_in_threadpool(storage.is_known_card, plain["card"]):
            raise ApiError(400, f"card {plain['card']!r} was not issued by this service (or is older than the "
                                f"retention period); nothing was stored", code="not-found",
                           expression=f"feedback[{i}].card")
    stored = await run_in_threadpool(storage.record_feedback, service.id, items, now=now)
    return {"stored": stored}


# How far in the future an outcomeTimestamp may be (clients' clocks differ).
FEEDBACK_CLOCK_SKEW = dt.timedelta(minutes=10)


def _limiter(request: Request, per_minute: int) -> SharedRateLimiter:
    """The feedback limit, counted in the audit database so that all workers share it."""
    limiter = getattr(request.app.state, "feedback_limiter", None)
    if limiter is None:
        limiter = request.app.state.feedback_limiter = SharedRateLimiter(request.app.state.storage, per_minute)
    return limiter
