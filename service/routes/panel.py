"""Service: the clinician web panel: evaluate a bundle, read the advice and exactly why, browse the catalogue
and the rule packs.

Pages (HTML, Chinese first; ``?lang=en`` for English):

    GET  /panel/                                   evaluate form: paste, upload or pick a sample; pack versions
    POST /panel/evaluate                           evaluate (the only state-changing request; CSRF-checked),
                                                   then 303 to the evaluation
    GET  /panel/evaluations/{evaluation_id}        advice by urgency, rationale per suggestion
                                                   (``#{suggestion_id}`` is the permalink CDS Hooks cards use),
                                                   data gaps, trends (SVG)
    GET  /panel/evaluations/{evaluation_id}/elderly-report
                                                   the printable yearly assessment report of a resident aged 65
                                                   or over (cdss.population.elderly), for a bundle evaluated here
    GET  /panel/catalogue?q=&kind=&department=     the disease catalogue with codes, provenance, rule coverage
    GET  /panel/packs, /panel/packs/{id}?version=  pack versions and their rules
    GET  /panel/packs/{id}/diff?from=&to=          rule-level difference of two versions
    /panel/static/                                 CSS, JS and the sample bundles shipped in the package
                                                   (StaticFiles, mounted by the app)

Forms are protected against cross-site posts by a double-submit token (a SameSite=Strict cookie that the
form echoes) and an Origin check. Bad input is answered on the page, never with a trace. The panel has no
login of its own: it is meant for a centre's local network, like the service's other endpoints with auth off.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import logging
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message, Scope

from cdss.errors import CdssError, ConfigError, EngineError, IntakeError
from cdss.population.elderly import elderly_age, elderly_view
from cdss.render import html as H
from cdss.render.conditions import wording_for
from cdss.render.patient import patient_header
from cdss.render.trends import Readings, readings_of, trends_view
from cdss.vocab.times import CLINIC_ZONE, parse_time
from service import outage
from service.compute import run_cpu
from service.deps import ClockDep, EngineDep, SettingsDep

if TYPE_CHECKING:  # the engine is imported when it is loaded (service.deps)
    from cdss.engine.results import Evaluation

log = logging.getLogger("cdss.service")

router = APIRouter(prefix="/panel", tags=["Clinician panel"], include_in_schema=False)

CSRF_COOKIE = "cdss_panel_csrf"
EVALUATION_ID = re.compile(r"^[0-9a-f]{8,64}$")
# Beijing time: the offset assumed for an evaluation time typed without one (the panel's locale).
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".json": "application/json; charset=utf-8", ".svg": "image/svg+xml",
                ".woff2": "font/woff2", ".png": "image/png", ".ico": "image/x-icon"}
STATIC_PATH = "/panel/static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the form post.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MEMORY_SIZE = 64


def _package_dir(name: str) -> Path:
    """A folder shipped inside the service package (templates/, static/)."""
    return Path(__file__).resolve().parent.parent / name


@functools.lru_cache(maxsize=1)
def _templates() -> Jinja2Templates:
    """The panel's templates (starlette's Jinja2Templates), strict about undefined names."""
    templates = Jinja2Templates(directory=_package_dir("templates"), context_processors=[_page_context])
    env = templates.env
    env.undefined = jinja2.StrictUndefined
    env.trim_blocks = env.lstrip_blocks = True
    env.globals.update(L=H.ui_tables(), format_time=H.format_time, format_value=H.format_value,
                       citations=H.citations)
    return templates


class PanelStatic(StaticFiles):
    """CSS, JS and the sample bundles shipped in the package (nothing is fetched from elsewhere): only the
    listed file types, with their media type, cached for an hour."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if Path(path).suffix not in STATIC_TYPES:
            return Response("not found", status_code=404, media_type="text/plain")
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["content-type"] = STATIC_TYPES[Path(path).suffix]
            response.headers["Cache-Control"] = "public, max-age=3600"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> PanelStatic:
    """The app mounts this at STATIC_PATH (a router cannot carry a mount)."""
    return PanelStatic(directory=_package_dir("static"))


@functools.lru_cache(maxsize=1)
def _samples() -> tuple[dict[str, Any], ...]:
    """The bundled sample patients (service/static/samples/index.json), each with its bundle time."""
    folder = _package_dir("static") / "samples"
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    out = []
    for entry in index["samples"]:
        bundle = json.loads((folder / entry["file"]).read_text(encoding="utf-8"))
        out.append({**entry, "id": entry["file"].removesuffix(".json"), "timestamp": bundle.get("timestamp")})
    return tuple(out)


class _Memory:
    """The last evaluations made in this process, with the readings their trends need (bounded, LRU).

    Storage keeps every evaluation's JSON (shared by all workers); the patient's readings are not stored, so
    full trends are shown for evaluations made here; others chart the values their rationale cites.
    """

    def __init__(self, size: int = MEMORY_SIZE):
        self._items: OrderedDict[str, tuple[dict[str, Any], Readings]] \
            = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._bundles: dict[str, bytes] = {}  # the evaluated bundle, for the printable reports (same eviction)

    def put(self, evaluation_id: str, trace: dict[str, Any],
            readings: Readings, bundle: bytes | None = None) -> None:
        with self._lock:
            self._items[evaluation_id] = (trace, readings)
            self._items.move_to_end(evaluation_id)
            if bundle is not None:
                self._bundles[evaluation_id] = bundle
            while len(self._items) > self._size:
                gone, _ = self._items.popitem(last=False)
                self._bundles.pop(gone, None)

    def bundle(self, evaluation_id: str) -> bytes | None:
        with self._lock:
            return self._bundles.get(evaluation_id)

    def get(self, evaluation_id: str) -> tuple[dict[str, Any], Readings] \
            | None:
        with self._lock:
            return self._items.get(evaluation_id)


def _memory(request: Request) -> _Memory:
    memory = getattr(request.app.state, "panel_memory", None)
    if memory is None:
        memory = request.app.state.panel_memory = _Memory()
    return memory


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "zh")
    return lang if lang in H.LANGS else "zh"


def _page_context(request: Request) -> dict[str, Any]:
    """What every page template gets: the language, its toggle and the label helpers."""
    lang = getattr(request.state, "panel_lang", None) or _lang(request)
    other = H.other_lang(lang)
    toggled = request.url.include_query_params(lang=other)
    return {"lang": lang, "other_lang": other, "lang_url": f"{toggled.path}?{toggled.query}",
            "q": (lambda **kw: _query(lang, **kw)),
            "u": (lambda key: H.text(H.UI, key, lang)),
            "lab": (lambda table, key: H.text(H.ui_tables()[table], key, lang)),
            "tr": (lambda mapping: (mapping or {}).get(lang) or (mapping or {}).get("zh", ""))}


def _page(request: Request, template: str, context: Mapping[str, Any], *, status: int = 200,
          lang: str | None = None) -> HTMLResponse:
    if lang:
        request.state.panel_lang = lang
    return _templates().TemplateResponse(request, template, dict(context), status_code=status,
                                         headers=SECURITY_HEADERS)


def _query(lang: str, **params: Any) -> str:
    """`?lang=en&x=1` for links that keep the language (zh is the default and is left out)."""
    items = [(k, v) for k, v in params.items() if v not in (None, "")]
    if lang != "zh":
        items.append(("lang", lang))
    return ("?" + urlencode(items)) if items else ""


# --- evaluate ------------------------------------------------------------------------------------------------
def _pack_choices(engine: Any) -> list[dict[str, Any]]:
    registry = engine.registry
    defaults = {p.id: p for p in registry.select(())}
    return [{"id": pid, "title": registry.versions(pid)[0].meta.title.model_dump(),
             "default": defaults.get(pid), "versions": registry.versions(pid)} for pid in sorted(registry.packs)]


def _evaluate_form(request: Request, engine: Any, *, errors: Sequence[str] = (), form: Mapping[str, Any] | None = None,
                   status: int = 200, token: str | None = None, lang: str | None = None) -> HTMLResponse:
    token = token or request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = _page(request, "evaluate.html", {
        "samples": _samples(), "packs": _pack_choices(engine), "errors": list(errors), "form": form or {},
        "csrf": token}, status=status, lang=lang)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/panel",
                            secure=request.url.scheme == "https")
    return response


@router.get("/", response_class=HTMLResponse)
def evaluate_page(request: Request, engine: EngineDep) -> HTMLResponse:
    """The evaluate form."""
    return _evaluate_form(request, engine)


@router.get("", include_in_schema=False)
def panel_root(request: Request) -> RedirectResponse:
    return RedirectResponse(str(request.url.replace(path="/panel/")), status_code=307)


class _FormError(Exception):
    def __init__(self, status: int, messages: Sequence[str]):
        self.status = status
        self.messages = list(messages)


def _too_large(max_bytes: int, declared: int | None = None) -> _FormError:
    size = f"{declared} 字节，" if declared is not None else ""
    got = f"{declared} bytes; " if declared is not None else ""
    return _FormError(413, [f"数据太大（{size}上限 {max_bytes} 字节）。The data are too large ({got}the limit is "
                            f"{max_bytes} bytes, CDSS_MAX_BODY_BYTES)."])


def _bounded(request: Request, max_bytes: int) -> Request:
    """The request with its body cut off at `max_bytes` (whatever Content-Length said)."""
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise _too_large(max_bytes)
        return message

    return Request(request.scope, receive)


async def _read_form(request: Request, max_bytes: int) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    """Fields and uploaded files of a urlencoded or multipart form, parsed by starlette (python-multipart)
    within the body limit; a malformed form is a 400 on the page."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes, int(declared))
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise _FormError(415, [f"不支持的提交类型 {kind or '(无)'}。Unsupported form type {kind or '(none)'!r}; "
                               f"submit the form on /panel/."])
    try:
        form = await _bounded(request, max_bytes).form(max_files=4, max_fields=1000, max_part_size=max_bytes)
    except (MultiPartException, HTTPException) as exc:  # starlette turns the parser's error into a 400
        detail = exc.message if isinstance(exc, MultiPartException) else exc.detail
        raise _FormError(400, [f"表单格式不正确。The form is malformed ({detail})."]) from exc
    fields: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            files[name] = await value.read()
        else:
            fields.setdefault(name, []).append(value)
    await form.close()
    return fields, files


def _same_origin(request: Request, public_url: str) -> bool:
    """A browser's Origin header, when sent, must be this server (as called, or its public URL)."""
    origin = request.headers.get("origin")
    if origin is None:  # not sent by every client; the double-submit token still has to match
        return True
    return origin in {f"{request.url.scheme}://{request.headers.get('host', '')}", _origin_of(public_url)}


def _parse_time(value: str) -> dt.datetime:
    return parse_time(value, CLINIC_ZONE)


@router.post("/evaluate")
async def evaluate_submit(request: Request, engine: EngineDep, settings: SettingsDep, clock: ClockDep) -> Response:
    """Evaluate the pasted, uploaded or sample bundle; answer on the form when the input is unusable."""
    lang = _lang(request)
    form: dict[str, Any] = {}
    try:
        fields, files = await _read_form(request, settings.max_body_bytes)
        first = {k: v[0] for k, v in fields.items() if v}
        lang = first.get("lang", lang) if first.get("lang") in H.LANGS else lang
        form = {"bundle": first.get("bundle", ""), "sample": first.get("sample", ""), "at": first.get("at", ""),
                "pins": [p for p in fields.get("pin", []) if p]}
        token = first.get("csrf", "")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (cookie and token and hmac.compare_digest(cookie, token)) or \
                not _same_origin(request, settings.public_url):
            raise _FormError(403, [H.text(H.UI, "csrf", "zh") + " " + H.text(H.UI, "csrf", "en")])
        bundle, default_time = _chosen_bundle(files.get("file", b""), form)
        now = clock()
        if form["at"].strip():
            try:
                now = _parse_time(form["at"])
            except ValueError as exc:
                raise _FormError(400, [f"评估时间格式不正确：{form['at']!r}。The evaluation time {form['at']!r} is "
                                       f"not an ISO date-time; use e.g. 2026-11-22T09:00 or "
                                       f"2026-11-22T09:00+08:00."]) from exc
        elif default_time:
            now = _parse_time(default_time)

        def evaluate_and_view() -> tuple[Evaluation, dict[str, Any], Readings]:  # one CPU hop (service.compute)
            result = engine.evaluate(bundle, now=now, pins=form["pins"])
            # Name, sex and age for the page header: kept with the trace in this process's memory only, never
            # stored (the audit store holds no patient identifier).
            trace = {**result.model_dump(mode="json"), "patient_display": patient_header(bundle, now)}
            return result, trace, readings_of(bundle, engine.registry)

        try:
            result, trace, readings = await run_cpu(request, evaluate_and_view)
        except IntakeError as exc:
            raise _FormError(422, [_problem_text(p) for p in exc.problems]) from exc
        except (EngineError, ConfigError) as exc:
            raise _FormError(400, [_problem_text(p) for p in exc.problems]) from exc
        storage = getattr(request.app.state, "storage", None)
        if storage is not None:
            await run_in_threadpool(storage.record_evaluation, result, now=clock(), channel="panel")
        _memory(request).put(result.id, trace, readings, bundle)
        return RedirectResponse(f"/panel/evaluations/{result.id}{_query(lang)}", status_code=303)
    except _FormError as exc:
        return _evaluate_form(request, engine, errors=exc.messages, form=form, status=exc.status, lang=lang)
    except Exception as exc:  # noqa: BLE001 - the page says what happened; the trace goes to the log only
        down = outage.database_outage(exc)
        if down is not None:  # the form comes back as typed, to be sent again in a moment
            outage.log_outage(request.method, "/panel/evaluate", down)
            response = _evaluate_form(request, engine, status=503, lang=lang, form=form, errors=[outage.MESSAGE])
            response.headers.update(outage.HEADERS)
            return response
        incident = uuid.uuid4().hex
        log.error("incident %s: panel evaluation failed", incident, exc_info=exc)
        return _evaluate_form(request, engine, status=500, lang=lang, form=form, errors=[
            f"{H.text(H.UI, 'incident', 'zh')} {incident}. {H.text(H.UI, 'incident', 'en')} {incident}."])


def outage_page(request: Request) -> HTMLResponse:
    """The page of any panel request the audit database could not serve (service.errors, service.outage):
    503, Chinese first and English beside whatever the language, with Retry-After."""
    response = _page(request, "not_found.html", {"heading": outage.HEADING, "message": outage.MESSAGE,
                                                 "what": ""}, status=503)
    response.headers.update(outage.HEADERS)
    return response


def _problem_text(problem: Any) -> str:
    """A problem for the form: the Chinese sentence first, then the located message (FHIR path)."""
    return f"{H.error_zh(problem.code)} {problem}"


def _chosen_bundle(upload: bytes, form: Mapping[str, Any]) -> tuple[bytes, str | None]:
    """The bundle to evaluate (upload, then pasted text, then sample) and the sample's bundle time."""
    if upload.strip():
        return upload, None
    if form["bundle"].strip():
        return form["bundle"].encode("utf-8"), None
    if form["sample"]:
        sample = next((s for s in _samples() if s["id"] == form["sample"]), None)
        if sample is None:
            raise _FormError(400, [f"没有样例 {form['sample']!r}。There is no sample {form['sample']!r}; "
                                   f"choose one from the list."])
        path = _package_dir("static") / "samples" / sample["file"]
        return path.read_bytes(), sample["timestamp"]
    raise _FormError(400, ["请粘贴或上传 FHIR Bundle，或选择样例患者。Paste or upload a FHIR Bundle, or pick a "
                           "sample patient."])


# --- an evaluation ------------------------------------------------------------------------------------------
async def _find_evaluation(request: Request, evaluation_id: str) -> tuple[dict[str, Any] | None, Any]:
    remembered = _memory(request).get(evaluation_id)
    if remembered is not None:
        return remembered
    storage = getattr(request.app.state, "storage", None)
    if storage is None:
        return None, None
    rows = await run_in_threadpool(storage.evaluations, evaluation_id=evaluation_id, limit=1)
    return (rows[0]["trace"], None) if rows else (None, None)


@router.get("/evaluations/{evaluation_id}", response_class=HTMLResponse)
async def evaluation_page(evaluation_id: str, request: Request, engine: EngineDep) -> HTMLResponse:
    """Advice by urgency, each suggestion's rationale (anchor = suggestion id), data gaps and trends."""
    lang = _lang(request)
    trace, readings = (None, None)
    if EVALUATION_ID.match(evaluation_id):
        trace, readings = await _find_evaluation(request, evaluation_id)
    if trace is None:
        return _page(request, "not_found.html", {"message": H.text(H.UI, "not_found_evaluation", lang),
                                                 "what": evaluation_id}, status=404)
    registry = engine.registry
    concepts = {cid: c.title.model_dump() for cid, c in registry.concepts.by_id.items()}
    trends = trends_view(trace, readings, registry, lang)
    return _page(request, "evaluation.html", {
        "ev": trace, "evaluation_id": evaluation_id, "groups": H.group_by_urgency(trace["suggestions"]),
        "concepts": concepts, "charts": trends.key, "other_charts": trends.other, "trends_partial": trends.partial,
        "permalink": f"/panel/evaluations/{evaluation_id}",
        "elderly_age": elderly_age(registry.stamped(trace.get("packs", ()))), "words": wording_for(registry).words})


@router.get("/evaluations/{evaluation_id}/elderly-report", response_class=HTMLResponse)
async def elderly_report_page(evaluation_id: str, request: Request, engine: EngineDep) -> HTMLResponse:
    """The printable yearly assessment report of the evaluated resident (aged 65 or over), re-evaluated at the
    evaluation's time with its pack versions; only for a bundle this process still holds."""
    lang = _lang(request)
    trace = bundle = None
    if EVALUATION_ID.match(evaluation_id):
        trace, _ = await _find_evaluation(request, evaluation_id)
        bundle = _memory(request).bundle(evaluation_id)
    if trace is None:
        return _page(request, "not_found.html", {"message": H.text(H.UI, "not_found_evaluation", lang),
                                                 "what": evaluation_id}, status=404)
    if bundle is None:
        return _page(request, "not_found.html", {"message": H.text(H.UI, "elderly_report_unavailable", lang),
                                                 "what": evaluation_id}, status=404)
    pins = tuple(f"{p['id']}@{p['version']}" for p in trace["packs"])
    try:
        view = await run_in_threadpool(elderly_view, bundle, now=dt.datetime.fromisoformat(trace["now"]),
                                       registry=engine.registry, pins=pins)
    except CdssError as exc:  # e.g. [not-elderly]: said on the page, never a trace
        applies = isinstance(exc, ConfigError)  # the report does not apply to this resident (400), or bad data
        return _page(request, "not_found.html", {
            "message": "; ".join(_problem_text(p) for p in exc.problems), "what": evaluation_id,
            "heading": H.text(H.UI, "not_applicable" if applies else "report_failed", lang)},
            status=400 if applies else 422)
    return _page(request, "elderly_report.html", {"r": view, "evaluation_id": evaluation_id,
                                                  "who": trace.get("patient_display") or {}})


# --- catalogue ----------------------------------------------------------------------------------------------
@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(request: Request, engine: EngineDep, q: str = "", kind: str = "",
                   department: str = "") -> HTMLResponse:
    """Search and filter the disease catalogue; codes, provenance and the rules that cover each entry."""
    registry = engine.registry
    catalogue = registry.catalogue
    if catalogue is None:
        return _page(request, "not_found.html", {"message": "no disease catalogue is loaded", "what": ""},
                     status=404)
    q = q[:200]
    kind = kind if kind in H.DISEASE_KIND else ""
    departments = list(catalogue.meta.departments) or sorted({d.department for d in catalogue.diseases})
    department = department if department in departments else ""
    found = catalogue.search(q, kind=kind or None, department=department or None)
    rules: dict[str, list[Any]] = {}
    for pack in registry.select(()):
        for r in pack.rules:
            if r.disease:
                rules.setdefault(r.disease, []).append(r)
    return _page(request, "catalogue.html", {
        "catalogue": catalogue, "found": found, "rules": rules, "departments": departments,
        "filters": {"q": q, "kind": kind, "department": department}})


# --- packs --------------------------------------------------------------------------------------------------
@router.get("/packs", response_class=HTMLResponse)
def packs_page(request: Request, engine: EngineDep) -> HTMLResponse:
    """Every loaded pack with its versions."""
    return _page(request, "packs.html", {"packs": _pack_choices(engine)})


def _pack_version(engine: Any, pack_id: str, version: str | None) -> Any:
    """The pack at `version` (default: the version that runs by default, else the newest), or None."""
    versions = engine.registry.versions(pack_id)
    if not versions:
        return None
    if not version:
        defaults = {p.id: p for p in engine.registry.select(())}
        return defaults.get(pack_id, versions[0])
    return next((p for p in versions if p.version == version), None)


def _rule_words(engine: Any, rules: Sequence[Any]) -> dict[str, Any]:
    """Each rule's condition in words (Chinese and English), by full id."""
    wording = wording_for(engine.registry)
    return {r.full_id: wording.tree(r.rule.when) for r in rules}


@router.get("/packs/{pack_id}", response_class=HTMLResponse)
def pack_page(pack_id: str, request: Request, engine: EngineDep, version: str = "") -> HTMLResponse:
    """One version of a pack (default: the one that runs by default) with its rules and sources."""
    pack = _pack_version(engine, pack_id, version)
    if pack is None:
        lang = _lang(request)
        return _page(request, "not_found.html", {"message": H.text(H.UI, "not_found", lang),
                                                 "what": f"{pack_id}@{version}" if version else pack_id},
                     status=404)
    rules = sorted(pack.rules, key=H.rule_sort_key)
    return _page(request, "pack.html", {
        "pack": pack, "rules": rules, "conditions": _rule_words(engine, rules),
        "versions": engine.registry.versions(pack_id),
        "default": {p.id: p for p in engine.registry.select(())}.get(pack_id)})


@router.get("/packs/{pack_id}/diff", response_class=HTMLResponse)
def pack_diff_page(pack_id: str, request: Request, engine: EngineDep) -> HTMLResponse:
    """Rules added, removed and changed between two versions (`from`, `to`; default: the two newest)."""
    versions = engine.registry.versions(pack_id)
    lang = _lang(request)
    if not versions:
        return _page(request, "not_found.html", {"message": H.text(H.UI, "not_found", lang), "what": pack_id},
                     status=404)
    old_v = request.query_params.get("from") or (versions[1] if len(versions) > 1 else versions[0]).version
    new_v = request.query_params.get("to") or versions[0].version
    by_version = {p.version: p for p in versions}
    missing = [v for v in (old_v, new_v) if v not in by_version]
    if missing:
        return _page(request, "not_found.html", {"message": H.text(H.UI, "not_found", lang),
                                                 "what": ", ".join(f"{pack_id}@{v}" for v in missing)},
                     status=404)
    diff = H.diff_packs(by_version[old_v], by_version[new_v])
    return _page(request, "diff.html", {
        "pack_id": pack_id, "versions": versions, "diff": diff, "old_v": old_v, "new_v": new_v,
        "conditions": _rule_words(engine, (*diff.added, *diff.removed))})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
