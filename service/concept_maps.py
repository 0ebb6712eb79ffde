"""Service: site ConceptMaps, loaded from ``CDSS_CONCEPT_MAPS_DIR`` at start and replaced by upload.

``GET /concept-maps`` lists the maps in force (url, version, sha256: the same stamps every evaluation
names in ``concept_maps``). ``PUT /concept-maps`` (authenticated: a JWT of a trusted issuer; refused while
auth is off) uploads a new version of a map (FHIR R4 or R5 JSON). The map is checked against the concepts
and against the other maps in force first; a broken map is refused with an OperationOutcome (422) and the
maps in force keep serving. A map with the url of one in force replaces it; the same url and version with
other content is refused (409: give the changed map a new version). Accepted maps are written to the
folder (``<sha256 of url>.json``), so a restart serves them again.

The folder is what every worker process serves: a worker compares the folder's files (name, inode, size,
time) with those it loaded before each request that uses the engine, and loads the folder again when another
worker has written to it, so with ``CDSS_WORKERS`` > 1 an upload is in force in every worker from the next
request on. Uploads take turns across processes (an ``flock`` of ``.upload-lock`` in the folder) and each is
checked against the folder as it is, so two workers never accept maps that conflict. Without a folder an
upload lives in one process only: with more than one worker it is refused (403), not served by one worker
and unknown to the others. A folder that no longer loads (edited by hand), or is missing or unreadable, puts
no site map in force in any worker until it loads again (logged; every answer lists the codes it did not
understand), and uploads are refused (409) meanwhile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per folder is assumed
    fcntl = None  # type: ignore[assignment]

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from cdss.errors import IntakeError
from cdss.intake.concept_maps import ConceptMap, apply_maps, load_map_files, map_folder, parse_map
from service.body import read_json
from service.deps import CallerDep, SettingsDep
from service.errors import ApiError

log = logging.getLogger("cdss.service")
router = APIRouter(tags=["Site concept maps"])
MAP_TYPES = ("application/fhir+json", "application/json")
UPLOAD_LOCK = ".upload-lock"

Signature = tuple[tuple[str, int, int, int], ...]  # per map file: name, inode, size, modification time (ns)


class SiteMaps:
    """The maps in force on top of the engine loaded at start; swaps `app.state.engine` on upload."""

    def __init__(self, app: FastAPI, folder: Path | None):
        self.app = app
        self.base = app.state.engine  # the engine without site maps
        self.folder = folder
        self.maps: dict[str, ConceptMap] = {}  # url -> map
        self.lock = threading.Lock()
        self.seen: Signature | None = ()  # the folder's files as last loaded or tried (None: folder unreadable)

    def load_folder(self) -> None:
        """Load every map of the folder (a broken one stops the start: ConfigError-like IntakeError)."""
        if self.folder is None or not self.folder.is_dir():
            return
        with self.lock:
            self._load()

    def _load(self) -> None:
        """Put in force the maps the folder holds now (IntakeError: it does not load; nothing changes)."""
        seen = self._signature()  # (taken first: a change while reading is seen at the next look)
        self._install(self._read_folder())
        self.seen = seen

    def stale(self) -> bool:
        """Whether the folder's files differ from those this process last loaded (another worker wrote).
        Called on the event loop before each request that uses the engine: one directory listing and a stat
        per map file of a local folder, cheaper than the thread hop that running it elsewhere would cost."""
        return self.folder is not None and self._signature() != self.seen

    def sync(self) -> None:
        """Load the folder again when another worker has changed it. A folder that no longer loads, or is
        missing or unreadable, puts no site map in force (logged): every worker then serves the same, which
        keeping each worker's last maps would not (a worker started later, or one that had not looked since
        the last upload, would hold others), and every answer lists the local codes it did not understand.
        It is tried again once the folder changes."""
        with self.lock:
            seen = self._signature()
            if seen == self.seen:
                return  # (another thread of this process has just loaded it)
            self.seen = seen
            if seen is None:
                if self.maps:
                    log.error("the site concept maps folder %s is missing or unreadable: no site concept map is "
                              "in force until it is back", self.folder)
                self._install({})
                return
            try:
                self._install(self._read_folder())
            except IntakeError as exc:
                log.error("site concept maps in %s no longer load: no site concept map is in force until they "
                          "do: %s", self.folder, "; ".join(str(p) for p in exc.problems))
                self._install({})

    def _signature(self) -> Signature | None:
        """The folder's map files as (name, inode, size, modification time), sorted; None when the folder is
        missing or cannot be read."""
        if self.folder is None:
            return ()
        out = []
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    if not entry.name.endswith(".json"):
                        continue  # (the lock file, a map being written: *.json.tmp)
                    try:
                        if entry.is_file():
                            st = entry.stat()
                            out.append((entry.name, st.st_ino, st.st_size, st.st_mtime_ns))
                    except OSError:
                        continue  # (replaced or removed by another worker meanwhile: the next look sees it)
        except OSError:
            return None
        return tuple(sorted(out))

    def _read_folder(self) -> dict[str, ConceptMap]:
        return {m.stamp.url: m for m in load_map_files(map_folder(self.folder), self.base.registry.concepts)} \
            if self.folder is not None and self.folder.is_dir() else {}

    def _folder_in_force(self) -> None:
        """Before an upload (its turn taken): put in force the maps the folder holds now, which every worker
        serves, so the upload is checked against them. A folder that does not load is a conflict: no upload
        is accepted until it is fixed, or this worker would serve maps that the others cannot load."""
        try:
            self._load()  # (apply_maps refuses two files mapping one code)
        except IntakeError as exc:
            raise ApiError(409, "the site concept maps folder does not load, so no upload can be checked "
                                "against it; fix or remove the broken file: "
                                + "; ".join(str(p) for p in exc.problems), code="conflict") from exc

    def _install(self, maps: dict[str, ConceptMap]) -> None:
        concepts = apply_maps(self.base.registry.concepts, [maps[u] for u in sorted(maps)])
        registry = dataclasses.replace(self.base.registry, concepts=concepts)
        self.app.state.engine = dataclasses.replace(self.base, registry=registry)
        self.maps = maps

    def upload(self, doc: Any) -> tuple[ConceptMap, bool]:
        """Check and install a map; True when it changed what is in force. Raises IntakeError / ApiError."""
        with self._turn(), self.lock:
            if self.folder is not None:
                self._folder_in_force()
            cmap = parse_map(doc, self.base.registry.concepts, file="(upload)")
            current = self.maps.get(cmap.stamp.url)
            if current is not None and current.stamp.version == cmap.stamp.version:
                if current.stamp.sha256 == cmap.stamp.sha256:
                    return current, False
                raise ApiError(409, f"{cmap.stamp.url}|{cmap.stamp.version} is already in force with other "
                                    "content; give the changed map a new version", code="conflict",
                               expression="ConceptMap.version")
            candidate = {**self.maps, cmap.stamp.url: cmap}
            apply_maps(self.base.registry.concepts, list(candidate.values()))  # duplicates across maps
            if self.folder is not None:
                try:
                    self._write(cmap.stamp.url, doc)
                except OSError as exc:  # (a full disk: nothing installed, the maps in force keep serving)
                    raise ApiError(503, f"the site concept map could not be written ({exc.strerror}); the maps "
                                        "in force keep serving", code="exception") from exc
                self.seen = self._signature()
            self._install(candidate)
            return cmap, True

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Uploads of all the workers take turns (an exclusive `flock` of the folder's upload lock)."""
        if self.folder is None or fcntl is None:
            yield
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / UPLOAD_LOCK, "a+b")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ApiError(503, f"the site concept maps folder cannot be written ({exc.strerror}); the maps in "
                                "force keep serving", code="exception") from exc
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _write(self, url: str, doc: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        path = self.folder / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"  # type: ignore[operator]
        older = [other for other in map_folder(self.folder)  # type: ignore[arg-type]
                 if other != path and _url_of(other) == url]  # an older version under another file name
        tmp = path.with_suffix(".json.tmp")  # (not *.json: never read half-written)
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        for other in older:
            other.unlink()


def _url_of(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("url")
    except (OSError, ValueError, AttributeError):
        return None


def start(app: FastAPI, folder: Path | None) -> None:
    """Called by the lifespan once the engine is loaded."""
    site = SiteMaps(app, folder)
    site.load_folder()
    app.state.site_maps = site
    if site.maps:
        log.info("site concept maps: %s", ", ".join(f"{m.stamp.url}|{m.stamp.version}" for m in site.maps.values()))


def _site(request: Request) -> SiteMaps:
    site = getattr(request.app.state, "site_maps", None)
    if site is None:
        raise ApiError(503, "the service is starting; retry shortly", code="transient")
    return site


def _stamps(site: SiteMaps) -> dict[str, Any]:
    return {"concept_maps": [{**m.stamp.model_dump(mode="json"), "mapped": len(m.entries), "not_applied": m.ignored}
                             for _, m in sorted(site.maps.items())]}


@router.get("/concept-maps", summary="Site concept maps in force")
def list_maps(request: Request) -> dict[str, Any]:
    """The site ConceptMaps every evaluation applies now (url, version, sha256)."""
    site = _site(request)
    if site.stale():
        site.sync()  # (another worker's upload)
    return _stamps(site)


@router.put("/concept-maps", summary="Upload a new version of a site concept map",
            responses={200: {"description": "Accepted and in force: the maps now in force."},
                       403: {"description": "Uploads need JWT authentication, and a maps folder with more "
                                            "than one worker (OperationOutcome)."},
                       409: {"description": "Same url and version with other content, or a maps folder that "
                                            "does not load (OperationOutcome)."},
                       422: {"description": "A broken map, refused; the old maps keep serving "
                                            "(OperationOutcome, one issue per problem with its FHIR path)."},
                       503: {"description": "The maps folder cannot be written; nothing changes "
                                            "(OperationOutcome)."}})
async def upload_map(request: Request, caller: CallerDep, settings: SettingsDep) -> dict[str, Any]:
    """Check a ConceptMap (R4 or R5 JSON) and put it in force; a broken one is refused and nothing changes."""
    if not settings.auth_enabled:
        raise ApiError(403, "uploading a concept map needs JWT authentication; configure CDSS_AUTH_ISSUERS",
                       code="forbidden")
    if settings.workers > 1 and settings.concept_maps_dir is None:
        raise ApiError(403, f"with {settings.workers} workers an uploaded concept map must be written where every "
                            "worker reads it; configure CDSS_CONCEPT_MAPS_DIR", code="forbidden")
    site = _site(request)
    doc = await read_json(request, settings.max_body_bytes, MAP_TYPES)
    cmap, changed = await run_in_threadpool(site.upload, doc)
    if changed:
        log.info("concept map %s|%s (sha256 %s) put in force by %s", cmap.stamp.url, cmap.stamp.version,
                 cmap.stamp.sha256, caller.issuer)
    return {"accepted": cmap.stamp.model_dump(mode="json"), "changed": changed, **_stamps(site)}
