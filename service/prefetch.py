"""Service: the patient's FHIR data for a CDS Hooks call, from prefetch or from the EHR's fhirServer.

CDS Hooks 2.0, "Prefetch Template" and "HTTP Status Codes": a prefetch key whose value is ``null`` means
the client has no such data (not an error); a key that is missing, or holds an OperationOutcome, means the
service must fetch the data itself from ``fhirServer`` with the ``fhirAuthorization`` token; when it
cannot, it answers 412 Precondition Failed. ``next`` pages of a prefetched searchset are followed on the
same server. The result is one collection Bundle for the engine, draft orders included and remembered.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
import orjson

from service.errors import ApiError
from service.outbound import Refused, Resolver, TooLarge, bounded_get, check_url, resolve

TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")
DRAFT_TAG = {"system": "urn:cdss:cds-hooks", "code": "draft-order"}


class Unavailable(Exception):
    """Data the service needs cannot be had (answered 412)."""


@dataclass
class PatientData:
    """What the engine gets, and which of it are the hook's draft orders."""

    patient_id: str
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "MedicationRequest/1" -> resource
    _anonymous: int = 0

    def add(self, resource: Mapping[str, Any]) -> None:
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or rtype == "OperationOutcome":
            return
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            self._anonymous += 1
            key = (rtype, f"#{self._anonymous}")
        else:
            key = (rtype, rid)
        self.resources[key] = dict(resource)

    def bundle(self) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "collection",
                "entry": [{"resource": r} for r in self.resources.values()]}


def patient_id(context: Mapping[str, Any]) -> str:
    """`context.patientId` as a bare id: "123" and "Patient/123" both give "123".

    Raises:
        ApiError: 400 when there is no usable patientId.
    """
    value = context.get("patientId")
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "context.patientId is missing or not a string; every supported hook needs it",
                       code="required", expression="context.patientId")
    value = value.strip()
    if value.startswith("Patient/"):
        value = value[len("Patient/"):]
    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", value):
        raise ApiError(400, f"context.patientId {value!r} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)",
                       code="value", expression="context.patientId")
    return value


def resources_of(value: Any) -> list[dict[str, Any]] | None:
    """Resources in one prefetch value; None when the value is not usable data (fetch instead)."""
    if value is None:
        return []
    if isinstance(value, list):
        out: list[dict[str, Any]] = []
        for item in value:
            got = resources_of(item)
            if got is None:
                return None
            out += got
        return out
    if not isinstance(value, dict):
        return None
    rtype = value.get("resourceType")
    if rtype is None and isinstance(value.get("resource"), dict | type(None)):
        return resources_of(value.get("resource"))  # pre-1.0 {"response": ..., "resource": ...} wrapping
    if rtype == "OperationOutcome":
        return None  # the client failed to prefetch: try ourselves
    if rtype == "Bundle":
        entries = value.get("entry") or []
        if not isinstance(entries, list):
            raise ApiError(422, f"a prefetched Bundle's entry must be a list (got {type(entries).__name__})",
                           code="structure", expression="Bundle.entry")
        return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return [value] if isinstance(rtype, str) else None


def next_link(bundle: Any) -> str | None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def fill(template: str, context: Mapping[str, Any], pid: str) -> str | None:
    """A prefetch template with its `{{context.x}}` tokens replaced; None when a token has no value."""
    missing = False

    def token(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        value = pid if name == "patientId" else context.get(name)
        if not isinstance(value, str):
            missing = True
            return ""
        return quote(value, safe="/")

    out = TOKEN.sub(token, template)
    return None if missing else out


class Fetcher:
    """GETs on the EHR's FHIR server with its token; anything but a 2xx JSON answer is Unavailable."""

    def __init__(self, http: httpx.AsyncClient, server: str | None, token: str | None, timeout_s: float,
                 max_pages: int, max_bytes: int = 20_000_000):
        self.http = http
        self.server = server.rstrip("/") + "/" if server else None
        self.headers = {"Accept": "application/fhir+json, application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout_s
        self.max_pages = max_pages
        self.max_bytes = max_bytes

    def same_server(self, url: str) -> bool:
        if not self.server:
            return False
        a, b = urlsplit(url), urlsplit(self.server)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.path.startswith(b.path.rstrip("/"))

    async def get(self, url: str) -> Any:
        if not self.same_server(url):
            # The token is for fhirServer only; never send it anywhere else.
            raise Unavailable(f"{url} is not on fhirServer")
        try:
            status, content = await bounded_get(self.http, url, headers=self.headers, max_bytes=self.max_bytes,
                                                timeout_s=self.timeout)
        except httpx.HTTPError as exc:
            raise Unavailable(f"GET {url}: {type(exc).__name__}") from exc
        except TooLarge as exc:
            raise Unavailable(f"GET {url}: the answer is larger than the limit ({exc}; "
                              f"CDSS_FHIR_MAX_BYTES)") from exc
        if status == 404:
            return None
        if status // 100 != 2:
            raise Unavailable(f"GET {url}: HTTP {status}")
        try:
            return orjson.loads(content)
        except ValueError as exc:
            raise Unavailable(f"GET {url}: not JSON") from exc

    async def query(self, relative: str) -> list[dict[str, Any]]:
        if not self.server:
            raise Unavailable("no fhirServer")
        body = await self.get(urljoin(self.server, relative.lstrip("/")))
        return await self.pages(body)

    async def pages(self, body: Any) -> list[dict[str, Any]]:
        found = resources_of(body)
        if found is None:
            raise Unavailable("the FHIR server answered with an OperationOutcome or no resource")
        pages = 1
        url = next_link(body)
        while url:
            if pages >= self.max_pages:
                raise Unavailable(f"more than {self.max_pages} pages")
            body = await self.get(url)
            more = resources_of(body)
            if more is None:
                raise Unavailable(f"page {pages + 1} is not a Bundle")
            found += more
            pages += 1
            url = next_link(body)
        return found


async def gather(request: Mapping[str, Any], templates: Mapping[str, str], *, http: httpx.AsyncClient,
                 timeout_s: float, max_pages: int, max_resources: int, max_bytes: int = 20_000_000,
                 allowlist: tuple[str, ...] = (), own: frozenset[str] | set[str] = frozenset(),
                 resolver: Resolver = resolve, optional: frozenset[str] = frozenset()) -> PatientData:
    """All data for one hook call.

    `timeout_s` bounds all fhirServer fetches of the call together; `allowlist` and `own` are the
    service.outbound rules (which fhirServer may be called at all). A key of `optional` that can be had
    neither from prefetch nor from fhirServer gives no data instead of a 412.

    Raises:
        ApiError: 412 when required data can be had neither from prefetch nor from fhirServer (in time);
            413 when there are more resources than allowed; 400 for a fhirServer that may not be called.
    """
    context = request.get("context") or {}
    pid = patient_id(context)
    server = request.get("fhirServer")
    if server is not None:
        try:
            await check_url(server, allowlist=allowlist, own=own, resolver=resolver)
        except Refused as exc:
            raise ApiError(400, f"fhirServer {server!r} {exc}", code="value", expression="fhirServer") from None
    prefetched = sum(_count(v) for v in (request.get("prefetch") or {}).values()) \
        + _count(context.get("draftOrders"))
    if prefetched > 2 * max_resources:
        # A cheap bound, checked before anything is copied or merged (the review saw 10k entries take 11.8 s
        # to refuse); the exact limit, on the resources left once duplicates are merged, is checked below.
        raise ApiError(413, f"{prefetched} resources is more than the limit of {max_resources} "
                            f"(CDSS_MAX_RESOURCES)", code="too-costly", expression="prefetch")
    auth = request.get("fhirAuthorization") or {}
    fetcher = Fetcher(http, server, auth.get("access_token"), timeout_s, max_pages, max_bytes)
    prefetch = request.get("prefetch") or {}
    data = PatientData(pid)

    async def one(key: str, template: str) -> list[dict[str, Any]]:
        if key not in optional:
            return await required(key, template)
        try:
            return await required(key, template)
        except Unavailable:
            return []

    async def required(key: str, template: str) -> list[dict[str, Any]]:
        if key in prefetch:
            found = resources_of(prefetch[key])
            if found is not None:
                # A paginated prefetch: the rest is on fhirServer ("Example of Pagination in Prefetch").
                return await fetcher.pages(prefetch[key]) if next_link(prefetch[key]) else found
        query = fill(template, context, pid)
        if query is None:
            raise Unavailable(f"prefetch {key!r} needs a context value the request does not have")
        if not server:
            raise Unavailable(f"prefetch {key!r} is missing and no fhirServer was given")
        return await fetcher.query(query)

    try:
        async with asyncio.timeout(timeout_s):
            results = await asyncio.gather(*(one(k, t) for k, t in templates.items()))
    except TimeoutError:
        raise ApiError(412, f"cannot obtain the patient's data: fhirServer did not answer within {timeout_s:g} s "
                            f"in total (CDSS_FHIR_TIMEOUT_S). Send the prefetch keys listed in GET /cds-services",
                       code="incomplete") from None
    except Unavailable as exc:
        raise ApiError(412, f"cannot obtain the patient's data: {exc}. Send the prefetch keys listed in "
                            f"GET /cds-services, or a reachable fhirServer with fhirAuthorization",
                       code="incomplete") from exc
    for found in results:
        for resource in found:
            data.add(resource)
    for key in sorted(set(prefetch) - set(templates)):
        # Keys this service did not ask for (an EHR configured with other names): their data still count.
        for resource in resources_of(prefetch[key]) or ():
            data.add(resource)
    if ("Patient", pid) not in data.resources:
        # "null means no data": the engine then reports what it misses (age, sex) as data gaps.
        data.add({"resourceType": "Patient", "id": pid})
    selections = context.get("selections")
    add_drafts(data, context.get("draftOrders"),
               selected=set(selections) if isinstance(selections, list) and request.get("hook") == "order-select"
               else None)
    if len(data.resources) > max_resources:
        raise ApiError(413, f"{len(data.resources)} resources is more than the limit of {max_resources} "
                            f"(CDSS_MAX_RESOURCES)", code="too-costly")
    return data


def _count(value: Any) -> int:
    """Resources a prefetch value holds, counted without copying (a Bundle's entries, a list's items)."""
    if isinstance(value, dict):
        entries = value.get("entry")
        return len(entries) if isinstance(entries, list) else 1
    if isinstance(value, list):
        return len(value)
    return 0


def add_drafts(data: PatientData, draft_orders: Any, selected: set[str] | None = None) -> None:
    """Merge context.draftOrders into the data, tagged, and remember the ones that have an id.

    `selected` (order-select's context.selections): only these drafts are checked; the others are
    orders the clinician selected earlier, already seen by their own order-select call.
    """
    if draft_orders is None:
        return
    found = resources_of(draft_orders)
    if found is None:
        raise ApiError(400, "context.draftOrders is not a FHIR Bundle", code="structure",
                       expression="context.draftOrders")
    for resource in found:
        rid = resource.get("id")
        if selected is not None and f"{resource.get('resourceType')}/{rid}" not in selected:
            continue
        tagged = dict(resource)
        meta = dict(tagged.get("meta") or {}) if isinstance(tagged.get("meta"), dict) else {}
        meta["tag"] = [*(meta.get("tag") or []), DRAFT_TAG] if isinstance(meta.get("tag"), list | None) \
            else [DRAFT_TAG]
        tagged["meta"] = meta
        data.add(tagged)
        rid = resource.get("id")
        if isinstance(rid, str) and rid:
            data.drafts[f"{resource['resourceType']}/{rid}"] = resource
