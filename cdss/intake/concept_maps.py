"""Intake: site ConceptMaps (FHIR R4 / R5 JSON) that map a site's local codes to the concepts.

A site whose EHR sends its own lab or diagnosis codes maps them with a ConceptMap: `group.source` (the
local code system) + `element.code` -> `group.target` + `target.code`. The target is either a concept id
under the system `urn:cdss:concept`, or a standard code that the concepts already recognise (a LOINC,
SNOMED CT, ICD-10 or ATC code of a value set). Maps are data, versioned (`url` + `version`) and hashed like
packs; every evaluation names the maps it used (`concept_maps` in the JSON contract).

Only mappings that say the local code means the concept (or a narrower thing) are applied:
R4 `equivalence` equivalent / equal / wider / subsumes ("the target is wider than the source"); R5
`relationship` equivalent / source-is-narrower-than-target. `relatedto` / `related-to`, `inexact`,
`narrower`, `specializes`, `source-is-broader-than-target`, `unmatched`, `disjoint`, `not-related-to` are
kept out: a broader local code must not trigger a specific rule. Drafts from `cdss terminology suggest`
are written with `relatedto`, so they do nothing until a person confirms them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdss.errors import IntakeError, Problem, ProblemList
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.record import Record, omit_empty

CONCEPT_SYSTEM = "urn:cdss:concept"  # target system whose codes are concept ids
APPLIED_R4 = {"equivalent", "equal", "wider", "subsumes"}
IGNORED_R4 = {"relatedto", "inexact", "narrower", "specializes", "unmatched", "disjoint"}
APPLIED_R5 = {"equivalent", "source-is-narrower-than-target"}
IGNORED_R5 = {"related-to", "source-is-broader-than-target", "not-related-to"}


class MapStamp(Record):
    """Which map an answer used: the map's canonical url, version and content hash."""

    url: str
    version: str
    sha256: str
    name: str | None = omit_empty()


@dataclass(frozen=True)
class MapEntry:
    """One applied mapping: a source coding -> concept ids."""

    system: str
    code: str
    concepts: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class ConceptMap:
    """A checked site ConceptMap."""

    stamp: MapStamp
    entries: tuple[MapEntry, ...]
    ignored: int  # targets present but not applied (relatedto, broader ...)
    file: str | None = None


def digest(doc: Mapping[str, Any]) -> str:
    """Content hash of a map: SHA-256 of its canonical JSON (keys sorted), whatever the file's layout."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode()).hexdigest()


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_map(doc: Any, concepts: ConceptSet, *, file: str | None = None) -> ConceptMap:
    """Check one ConceptMap and resolve its targets to concepts.

    Raises:
        IntakeError: every problem at once, each with the file and the FHIR path: not a ConceptMap, no
            url/version [bad-concept-map]; a target that is no concept [unknown-target-concept]; the same
            source code mapped twice [duplicate-map-source].
    """
    problems = ProblemList()

    def bad(path: str, message: str, code: str = "bad-concept-map", **extra: Any) -> None:
        problems.add(message, code, file=file, field=path, **extra)

    if not isinstance(doc, Mapping) or doc.get("resourceType") != "ConceptMap":
        got = doc.get("resourceType") if isinstance(doc, Mapping) else type(doc).__name__
        raise IntakeError(Problem("not a FHIR ConceptMap", "bad-concept-map", file=file, field="resourceType",
                                  got=got, expected="'ConceptMap'"))
    url, version = _str(doc.get("url")), _str(doc.get("version"))
    if not url:
        bad("ConceptMap.url", "a site map needs its canonical url (it names the map in every answer)")
    if not version:
        bad("ConceptMap.version", "a site map needs a version (answers name the version they used)",
            hint="e.g. 1.0.0; give a changed map a new version")
    groups = doc.get("group")
    if not isinstance(groups, list) or not groups:
        bad("ConceptMap.group", "no group: nothing is mapped")
        groups = []
    entries: list[MapEntry] = []
    seen: dict[tuple[str, str], str] = {}
    ignored = 0
    for gi, group in enumerate(groups):
        gpath = f"ConceptMap.group[{gi}]"
        if not isinstance(group, Mapping):
            bad(gpath, "not an object")
            continue
        source = _str(group.get("source"))
        target_system = _str(group.get("target"))
        if not source:
            bad(f"{gpath}.source", "the group has no source code system (the site's local system URI)")
        if not target_system:
            bad(f"{gpath}.target", f"the group has no target code system (use {CONCEPT_SYSTEM} for concept ids, "
                                   "or a standard system such as http://loinc.org)")
        elements = group.get("element")
        if not isinstance(elements, list):
            bad(f"{gpath}.element", "no elements")
            continue
        for ei, element in enumerate(elements):
            epath = f"{gpath}.element[{ei}]"
            if not isinstance(element, Mapping):
                bad(epath, "not an object")
                continue
            code = _str(element.get("code"))
            if not code:
                bad(f"{epath}.code", "the element has no source code")
                continue
            found: list[str] = []
            for ti, target in enumerate(element.get("target") or []):
                tpath = f"{epath}.target[{ti}]"
                if not isinstance(target, Mapping):
                    bad(tpath, "not an object")
                    continue
                applied = _applied(target, tpath, bad)
                if applied is None:
                    continue
                tcode = _str(target.get("code"))
                if not tcode:
                    bad(f"{tpath}.code", "the target has no code")
                    continue
                ids = _resolve(concepts, target_system, tcode)
                if not ids:
                    hint = (f"concept ids are listed in catalogue/concepts/ ({_near(concepts, tcode)})"
                            if target_system == CONCEPT_SYSTEM else
                            "no concept's value set holds this code; map to a concept id under "
                            f"{CONCEPT_SYSTEM} instead")
                    problems.add("the target is no known concept", "unknown-target-concept", file=file,
                                 field=f"{tpath}.code", got=f"{target_system}|{tcode}", hint=hint)
                    continue
                if applied:
                    found.extend(ids)
                else:
                    ignored += 1
            if source and code and found:
                key = (concepts.system(source), code.upper())
                if key in seen:
                    problems.add("this source code is mapped twice", "duplicate-map-source", file=file,
                                 field=f"{epath}.code", got=f"{source}|{code}", hint=f"first at {seen[key]}")
                    continue
                seen[key] = epath
                entries.append(MapEntry(key[0], key[1], tuple(dict.fromkeys(found)), epath))
    problems.raise_if_any(IntakeError)
    stamp = MapStamp(url=url or "", version=version or "", sha256=digest(doc), name=_str(doc.get("name")))
    return ConceptMap(stamp=stamp, entries=tuple(entries), ignored=ignored, file=file)


def _applied(target: Mapping[str, Any], path: str, bad: Any) -> bool | None:
    """True: the mapping is applied; False: kept out on purpose; None: unreadable (reported)."""
    for key, applied, ignored, what in (("relationship", APPLIED_R5, IGNORED_R5, "R5 relationship"),
                                         ("equivalence", APPLIED_R4, IGNORED_R4, "R4 equivalence")):
        if key in target:
            value = target.get(key)
            if value in applied:
                return True
            if value in ignored:
                return False
            bad(f"{path}.{key}", f"unknown {what}", got=value, expected=" | ".join(sorted(applied | ignored)))
            return None
    bad(path, "the target says neither `equivalence` (R4) nor `relationship` (R5)",
        hint="equivalent, or wider (R4) / source-is-narrower-than-target (R5) when the local code is narrower")
    return None


def _resolve(concepts: ConceptSet, system: str | None, code: str) -> tuple[str, ...]:
    if system == CONCEPT_SYSTEM:
        return (code,) if code in concepts.by_id else ()
    return concepts.match([{"system": system, "code": code}])


def _near(concepts: ConceptSet, code: str) -> str:
    from cdss.errors import did_you_mean

    return did_you_mean(code, concepts.by_id) or "see catalogue/concepts/*.yaml"


def load_map_file(path: Path, concepts: ConceptSet) -> ConceptMap:
    """Read and check one ConceptMap JSON file (see `parse_map`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError(Problem(f"cannot read the file: {exc.strerror}", "file-unreadable", file=str(path))) from exc
    return parse_map(parse_map_json(data, str(path)), concepts, file=str(path))


def parse_map_json(data: bytes | str, name: str | None) -> Any:
    """JSON text -> object, or IntakeError naming line and column [not-json]."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise IntakeError(Problem(f"not valid JSON ({getattr(exc, 'msg', exc)})", "not-json", file=name,
                                  line=line, col=getattr(exc, "colno", None))) from exc


def load_map_files(paths: Iterable[Path], concepts: ConceptSet) -> tuple[ConceptMap, ...]:
    """Load several maps (all problems of all files at once)."""
    maps, problems = [], []
    for path in paths:
        try:
            maps.append(load_map_file(Path(path), concepts))
        except IntakeError as exc:
            problems.extend(exc.problems)
    if problems:
        raise IntakeError(problems)
    return tuple(maps)


def map_folder(folder: Path) -> list[Path]:
    """The map files of a folder (`*.json`, sorted by name)."""
    return sorted(p for p in Path(folder).glob("*.json") if p.is_file())


def apply_maps(concepts: ConceptSet, maps: Sequence[ConceptMap]) -> ConceptSet:
    """A ConceptSet that also recognises the maps' source codes and names the maps (`.maps`).

    Raises:
        IntakeError: two maps map the same source code [duplicate-map-source].
    """
    if not maps:
        return concepts
    exact = {k: tuple(v) for k, v in concepts.exact_table().items()}
    origin: dict[tuple[str, str], str] = {}
    problems: list[Problem] = []
    for cmap in sorted(maps, key=lambda m: (m.stamp.url, m.stamp.version)):
        for entry in cmap.entries:
            key = (entry.system, entry.code)
            if key in origin:
                problems.append(Problem("this source code is mapped by two maps", "duplicate-map-source",
                                        file=cmap.file, field=entry.path, got=f"{entry.system}|{entry.code}",
                                        hint=f"also in {origin[key]}"))
                continue
            origin[key] = f"{cmap.stamp.url}|{cmap.stamp.version}"
            exact[key] = tuple(dict.fromkeys((*exact.get(key, ()), *entry.concepts)))
    if problems:
        raise IntakeError(problems)
    stamps = tuple(sorted((*concepts.maps, *(m.stamp for m in maps)), key=lambda s: (s.url, s.version)))
    return dataclasses.replace(concepts, _exact=exact, maps=stamps)


def with_maps(registry: Any, paths: Sequence[Path]) -> Any:
    """A copy of a packs Registry whose concepts also apply the map files (the registry is not changed)."""
    concepts = apply_maps(registry.concepts, load_map_files(paths, registry.concepts))
    return dataclasses.replace(registry, concepts=concepts)
