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
    GET  /panel/static/{path}                      CSS, JS and the sample bundles shipped in the package

Forms are protected against cross-site posts by a double-submit token (a SameSite=Strict cookie that the
form echoes) and an Origin check. Bad input is answered on the page, never with a trace. The panel has no
login of its own: it is meant for a centre's local network, like the service's other endpoints with auth off.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
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
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from cdss.errors import CdssError, ConfigError, EngineError, IntakeError
from cdss.population.elderly import ELDERLY_AGE, elderly_view
from cdss.render import html as H
from cdss.render.svg import Point, Series, Threshold, collect_thresholds, render_trend
from cdss.vocab.times import CLINIC_ZONE, parse_time
from service.deps import ClockDep, EngineDep, SettingsDep

log = logging.getLogger("cdss.service")

router = APIRouter(prefix="/panel", tags=["Clinician panel"], include_in_schema=False)

CSRF_COOKIE = "cdss_panel_csrf"
EVALUATION_ID = re.compile(r"^[0-9a-f]{8,64}$")
# Beijing time: the offset assumed for an evaluation time typed without one (the panel's locale).
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".json": "application/json; charset=utf-8", ".svg": "image/svg+xml",
                ".woff2": "font/woff2", ".png": "image/png", ".ico": "image/x-icon"}
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
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_package_dir("templates")),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(L=H.ui_tables(), format_time=H.format_time, format_value=H.format_value,
                       citations=H.citations)
    return env


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
        self._items: OrderedDict[str, tuple[dict[str, Any], dict[str, list[tuple[str, float, str | None, str]]]]] \
            = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._bundles: dict[str, bytes] = {}  # the evaluated bundle, for the printable reports (same eviction)

    def put(self, evaluation_id: str, trace: dict[str, Any],
            readings: dict[str, list[tuple[str, float, str | None, str]]], bundle: bytes | None = None) -> None:
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

    def get(self, evaluation_id: str) -> tuple[dict[str, Any], dict[str, list[tuple[str, float, str | None, str]]]] \
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


def _page(request: Request, template: str, context: Mapping[str, Any], *, status: int = 200,
          lang: str | None = None) -> HTMLResponse:
    lang = lang or _lang(request)
    other = H.other_lang(lang)
    toggled = request.url.include_query_params(lang=other)
    ctx = {"request": request, "lang": lang, "other_lang": other, "lang_url": f"{toggled.path}?{toggled.query}",
           "q": (lambda **kw: _query(lang, **kw)),
           "u": (lambda key: H.text(H.UI, key, lang)),
           "lab": (lambda table, key: H.text(H.ui_tables()[table], key, lang)),
           "tr": (lambda mapping: (mapping or {}).get(lang) or (mapping or {}).get("zh", "")), **context}
    body = _templates().get_template(template).render(ctx)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


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


async def _read_form(request: Request, max_bytes: int) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    """Fields and uploaded files of a urlencoded or multipart form (read within the size limit)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _FormError(413, [f"数据太大（{int(declared)} 字节，上限 {max_bytes}）。"
                               f"The data are too large ({int(declared)} bytes; the limit is {max_bytes}, "
                               f"CDSS_MAX_BODY_BYTES)."])
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _FormError(413, [f"数据太大（上限 {max_bytes} 字节）。The data are larger than the limit of "
                                   f"{max_bytes} bytes (CDSS_MAX_BODY_BYTES)."])
        chunks.append(chunk)
    raw = b"".join(chunks)
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    fields: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise _FormError(400, ["表单不是 UTF-8 文本。The form is not UTF-8 text."]) from exc
    elif kind == "multipart/form-data":
        header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode("latin-1")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
        if not message.is_multipart():
            raise _FormError(400, ["表单格式不正确。The form is malformed (multipart without parts)."])
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if not isinstance(name, str):
                continue
            if part.get_filename() is not None:
                files[name] = payload
            else:
                fields.setdefault(name, []).append(payload.decode("utf-8", errors="replace"))
    else:
        raise _FormError(415, [f"不支持的提交类型 {kind or '(无)'}。Unsupported form type {kind or '(none)'!r}; "
                               f"submit the form on /panel/."])
    return fields, files


def _same_origin(request: Request, public_url: str) -> bool:
    """A browser's Origin header, when sent, must be this server (as called, or its public URL)."""
    origin = request.headers.get("origin")
    if origin is None:  # not sent by every client; the double-submit token still has to match
        return True
    return origin in {f"{request.url.scheme}://{request.headers.get('host', '')}", _origin_of(public_url)}


def _parse_time(value: str) -> dt.datetime:
    return parse_time(value, CLINIC_ZONE)


def _readings(engine: Any, bundle: bytes) -> dict[str, list[tuple[str, float, str | None, str]]]:
    """The patient's numeric readings by concept, for the trend charts (empty when the bundle is unreadable)."""
    from cdss.intake.bundle import read_bundle

    try:
        facts = read_bundle(bundle, engine.registry.concepts)
    except CdssError:
        return {}
    out: dict[str, list[tuple[str, float, str | None, str]]] = {}
    for concept, readings in facts.readings.items():
        for r in readings:
            if r.time is not None and isinstance(r.value, int | float) and not isinstance(r.value, bool):
                out.setdefault(concept, []).append((r.time.isoformat(), float(r.value), r.unit, r.source))
    return out


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
        try:
            result = await run_in_threadpool(engine.evaluate, bundle, now=now, pins=form["pins"])
        except IntakeError as exc:
            raise _FormError(422, [_problem_text(p) for p in exc.problems]) from exc
        except (EngineError, ConfigError) as exc:
            raise _FormError(400, [_problem_text(p) for p in exc.problems]) from exc
        readings = await run_in_threadpool(_readings, engine, bundle)
        trace = result.model_dump(mode="json")
        storage = getattr(request.app.state, "storage", None)
        if storage is not None:
            await run_in_threadpool(storage.record_evaluation, result, now=clock(), channel="panel")
        # Name, sex and age for the page header: kept with the trace in this process's memory only, never
        # stored (the audit store holds no patient identifier).
        trace = {**trace, "patient_display": _patient_display(bundle, now)}
        _memory(request).put(result.id, trace, readings, bundle)
        return RedirectResponse(f"/panel/evaluations/{result.id}{_query(lang)}", status_code=303)
    except _FormError as exc:
        return _evaluate_form(request, engine, errors=exc.messages, form=form, status=exc.status, lang=lang)
    except Exception as exc:  # noqa: BLE001 - the page says what happened; the trace goes to the log only
        incident = uuid.uuid4().hex
        log.error("incident %s: panel evaluation failed", incident, exc_info=exc)
        return _evaluate_form(request, engine, status=500, lang=lang, form=form, errors=[
            f"{H.text(H.UI, 'incident', 'zh')} {incident}. {H.text(H.UI, 'incident', 'en')} {incident}."])


def _problem_text(problem: Any) -> str:
    """A problem for the form: the Chinese sentence first, then the located message (FHIR path)."""
    return f"{H.error_zh(problem.code)} {problem}"


def _patient_display(bundle: bytes, now: dt.datetime) -> dict[str, Any]:
    """The Patient's name, sex and age in whole years at `now` (what the bundle gives; {} if unreadable)."""
    try:
        doc = json.loads(bundle)
        patient = next(e["resource"] for e in doc.get("entry") or () if isinstance(e, dict)
                       and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Patient")
    except (ValueError, StopIteration, AttributeError, TypeError):
        return {}
    out: dict[str, Any] = {}
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    for name in names:
        if isinstance(name, dict):
            text = name.get("text")
            if not isinstance(text, str):
                given = [g for g in name.get("given") or () if isinstance(g, str)]
                family = name.get("family") if isinstance(name.get("family"), str) else ""
                # Chinese names: family name first, no space; others: given names then family.
                text = family + "".join(given) if re.search(r"[\u4e00-\u9fff]", family + "".join(given)) \
                    else " ".join([*given, family]).strip()
            if text:
                out["name"] = text
                break
    if patient.get("gender") in ("male", "female", "other", "unknown"):
        out["sex"] = patient["gender"]
    birth = patient.get("birthDate")
    if isinstance(birth, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth):
        try:
            born = dt.date.fromisoformat(birth)
            today = now.date()
            out["age"] = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        except ValueError:
            pass
    return out


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
    charts, other_charts, partial = _trends(trace, readings, registry, lang)
    return _page(request, "evaluation.html", {
        "ev": trace, "evaluation_id": evaluation_id, "groups": H.group_by_urgency(trace["suggestions"]),
        "concepts": concepts, "charts": charts, "other_charts": other_charts, "trends_partial": partial,
        "permalink": f"/panel/evaluations/{evaluation_id}", "elderly_age": ELDERLY_AGE})


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
        return _page(request, "not_found.html", {"message": "; ".join(_problem_text(p) for p in exc.problems),
                                                 "what": evaluation_id}, status=400 if isinstance(exc, ConfigError)
                     else 422)
    return _page(request, "elderly_report.html", {"r": view, "evaluation_id": evaluation_id,
                                                  "who": trace.get("patient_display") or {}})


def _walk(conditions: Sequence[Mapping[str, Any]]):  # noqa: ANN202
    for c in conditions:
        yield from c.get("facts", ())
        yield from _walk(c.get("parts", ()))


def _trends(trace: Mapping[str, Any], readings: Mapping[str, list[tuple[str, float, str | None, str]]] | None,
            registry: Any, lang: str) -> tuple[list[dict[str, str]], list[dict[str, str]], bool]:
    """SVG charts of the patient's measures: those the evaluated rules test first, with their thresholds."""
    partial = readings is None
    if readings is None:  # only what the rationale cites
        cited: dict[str, dict[tuple[str, float, str], tuple[str, float, str | None, str]]] = {}
        for s in trace["suggestions"]:
            for f in _walk(s["rationale"]):
                value = f.get("value")
                if f.get("time") and isinstance(value, int | float) and not isinstance(value, bool) \
                        and f.get("stat") in ("latest", "day-mean"):
                    source = ", ".join(f.get("source", ()))
                    cited.setdefault(f["concept"], {})[(f["time"], float(value), source)] = (
                        f["time"], float(value), f.get("unit"), source)
        readings = {c: sorted(v.values()) for c, v in cited.items()}
    packs = [p for stamp in trace["packs"]
             if (p := registry.packs.get(stamp["id"], {}).get(stamp["version"])) is not None]
    fired = [s["rule"].split("#", 1)[-1] for s in trace["suggestions"]]
    thresholds = collect_thresholds(packs, fired)
    order = {c.id: i for i, c in enumerate(registry.concepts.source.concepts)}
    shown = sorted((c for c, rs in readings.items() if rs and c in registry.concepts.by_id),
                   key=lambda c: (order.get(c, 1 << 30), c))
    # Concepts read from the same records (e.g. the components of a blood-pressure panel) share a chart.
    groups: list[list[str]] = []
    sources: list[set[str]] = []
    for concept in shown:
        mine = {r[3] for r in readings[concept]}
        joined = [i for i, s in enumerate(sources) if s & mine]
        if joined:
            first = joined[0]
            for i in reversed(joined[1:]):
                groups[first].extend(groups.pop(i))
                sources[first] |= sources.pop(i)
            groups[first].append(concept)
            sources[first] |= mine
        else:
            groups.append([concept])
            sources.append(mine)
    now = dt.datetime.fromisoformat(trace["now"])
    key, other = [], []
    for n, group in enumerate(groups):
        series = [Series(c, H.text({c: registry.concepts.by_id[c].title.model_dump()}, c, lang),
                         next((r[2] for r in readings[c] if r[2]), None),
                         tuple(Point(dt.datetime.fromisoformat(t), v, src) for t, v, _, src in readings[c]))
                  for c in group]
        lines: list[Threshold] = [t for c in group for t in thresholds.get(c, ())]
        title = " / ".join(s.label for s in series)
        svg = render_trend(series, lines, title=title, now=now, chart_id=f"trend-{n}",
                           labels=(H.text(H.UI, "threshold", "zh"), H.text(H.UI, "threshold", "en")),
                           off_label=H.text(H.UI, "off_chart", lang))
        (key if lines else other).append({"title": title, "svg": svg, "concepts": ", ".join(group)})
    return key, other, partial


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
        "pack": pack, "rules": rules, "conditions": {r.full_id: H.condition_view(r.rule.when) for r in rules},
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
        "conditions": {r.full_id: H.condition_view(r.rule.when) for r in (*diff.added, *diff.removed)}})


# --- static files -------------------------------------------------------------------------------------------
@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """CSS, JS and sample bundles shipped in the package (nothing is fetched from elsewhere)."""
    root = _package_dir("static").resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file() or target.suffix not in STATIC_TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(target, media_type=STATIC_TYPES[target.suffix],
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
