"""Intake: read many FHIR inputs (bundles, folders, NDJSON) and measure what the concepts recognise.

Used by `cdss terminology scan` (which codings a site's data send that nothing maps) and its `--summary`
(the share of conditions, observations and medications that map to a concept: the recognition figures
of docs/reference/terminology-recognition.md). Unlike an evaluation, a scan counts every resource
whatever its status (a resolved condition or a stopped drug today is an active one tomorrow); the
`active conditions` line counts only those an evaluation reads.
"""

from __future__ import annotations

import gzip
import json
import lzma
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cdss.errors import IntakeError, Problem
from cdss.intake.unrecognised import Tally, UnrecognisedCoding
from cdss.vocab.concepts import ConceptSet

# File names a folder scan picks up; `.xz` / `.gz` compressed variants are read as well.
SUFFIXES = (".json", ".ndjson", ".jsonl")
INACTIVE_CONDITION = {"inactive", "resolved", "remission"}
MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement")
# Recognition figures are given for these groups, in this order.
GROUPS = ("Condition", "Condition (active)", "Observation", "Medication", "AllergyIntolerance")


def input_files(paths: Iterable[Path]) -> list[Path]:
    """The files to read: each file given, and every JSON / NDJSON file below each folder, sorted.

    Raises:
        IntakeError: a path does not exist [file-unreadable].
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and _stem_suffix(p) in SUFFIXES)
        elif path.is_file():
            out.append(path)
        else:
            raise IntakeError(Problem("no such file or folder", "file-unreadable", file=str(path)))
    return out


def _stem_suffix(path: Path) -> str:
    name = path.name.lower()
    for packed in (".xz", ".gz"):
        name = name.removesuffix(packed)
    return Path(name).suffix


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".xz"):
            return lzma.decompress(path.read_bytes())
        if path.name.endswith(".gz"):
            return gzip.decompress(path.read_bytes())
        return path.read_bytes()
    except (OSError, lzma.LZMAError, EOFError) as exc:
        raise IntakeError(Problem(f"cannot read the file: {getattr(exc, 'strerror', None) or exc}",
                                  "file-unreadable", file=str(path))) from exc


def resources(path: Path) -> Iterator[Mapping[str, Any]]:
    """Every resource of one file: a Bundle's entries, a single resource, or one per NDJSON line.

    Raises:
        IntakeError: a line or the file is not JSON [not-json].
    """
    data = _read_bytes(path)
    if _stem_suffix(path) in (".ndjson", ".jsonl"):
        for n, line in enumerate(data.splitlines(), 1):
            if line.strip():
                yield from _unpack(_loads(line, str(path), n))
        return
    yield from _unpack(_loads(data, str(path), None))


def _loads(data: bytes, name: str, line: int | None) -> Any:
    try:
        return orjson.loads(data)
    except json.JSONDecodeError as exc:
        raise IntakeError(Problem(f"not valid JSON ({exc.msg})", "not-json", file=name,
                                  line=line if line is not None else exc.lineno,
                                  col=exc.colno if line is None else None)) from exc


def _unpack(doc: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        return
    if doc.get("resourceType") == "Bundle":
        for entry in doc.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(res, Mapping):
                yield from _unpack(res)
    else:
        yield doc


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if isinstance(concept, Mapping) and isinstance(concept.get("coding"), list):
        return [c for c in concept["coding"] if isinstance(c, Mapping)]
    return []


def _first_code(concept: Any) -> str | None:
    for coding in _codings(concept):
        if isinstance(coding.get("code"), str):
            return coding["code"]
    return None


@dataclass
class GroupCount:
    """Resources of one group, and how many a concept recognised; distinct codes likewise."""

    resources: int = 0
    recognised: int = 0
    codes: set[tuple[str, str]] = field(default_factory=set)
    recognised_codes: set[tuple[str, str]] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        def share(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {"resources": self.resources, "recognised": self.recognised,
                "share": share(self.recognised, self.resources), "codes": len(self.codes),
                "recognised_codes": len(self.recognised_codes),
                "code_share": share(len(self.recognised_codes), len(self.codes))}


@dataclass
class Scan:
    """What a scan found: unrecognised codings and recognition counts per group."""

    files: int = 0
    tally: Tally = field(default_factory=Tally)
    groups: dict[str, GroupCount] = field(default_factory=lambda: {g: GroupCount() for g in GROUPS})

    @property
    def unrecognised(self) -> tuple[UnrecognisedCoding, ...]:
        return self.tally.result()

    def summary_json(self) -> dict[str, Any]:
        return {"files": self.files, "recognition": {g: c.to_json() for g, c in self.groups.items()}}


class Scanner:
    """Classifies resources with a ConceptSet (a site's ConceptMaps already applied to it)."""

    def __init__(self, concepts: ConceptSet):
        self.concepts = concepts
        self.scan = Scan()

    def _count(self, group: str, codings: list[Mapping[str, Any]], recognised: bool) -> None:
        g = self.scan.groups[group]
        g.resources += 1
        g.recognised += recognised
        keys = {(self.concepts.system(c.get("system") if isinstance(c.get("system"), str) else None),
                 str(c.get("code")).strip()) for c in codings if isinstance(c.get("code"), str)}
        g.codes |= keys
        if recognised:
            g.recognised_codes |= keys

    def resource(self, res: Mapping[str, Any]) -> None:
        rtype = res.get("resourceType")
        match = self.concepts.match
        if rtype == "Condition" or rtype == "AllergyIntolerance":
            codings = _codings(res.get("code"))
            hit = bool(match(codings))
            self._count(rtype, codings, hit)
            if rtype == "Condition" and _first_code(res.get("clinicalStatus")) not in INACTIVE_CONDITION:
                self._count("Condition (active)", codings, hit)
            if not hit:
                self.scan.tally.add(rtype, codings)
        elif rtype == "Observation":
            codings = _codings(res.get("code"))
            understood = bool(match(codings))
            value = _codings(res.get("valueCodeableConcept"))
            if value and (self.concepts.match_value(value) or match(value)):
                understood = True
            for comp in res.get("component") or []:
                if not isinstance(comp, Mapping):
                    continue
                comp_codings = _codings(comp.get("code"))
                if match(comp_codings):
                    understood = True
                else:
                    self.scan.tally.add("Observation.component", comp_codings)
            self._count("Observation", codings, understood)
            if not understood:
                self.scan.tally.add("Observation", codings)
        elif rtype in MEDICATION_TYPES:
            med = res.get("medicationCodeableConcept")
            if med is None and isinstance(res.get("medication"), Mapping):
                med = res["medication"].get("concept")
            codings = _codings(med)
            hit = bool(match(codings))
            self._count("Medication", codings, hit)
            if not hit:
                self.scan.tally.add(rtype, codings)


def scan_files(files: Iterable[Path], concepts: ConceptSet,
               progress: Callable[[Path], None] | None = None) -> Scan:
    """Scan the files (see `input_files`); `progress` is called after each file."""
    scanner = Scanner(concepts)
    for path in files:
        for res in resources(path):
            scanner.resource(res)
        scanner.scan.files += 1
        if progress:
            progress(path)
    return scanner.scan
