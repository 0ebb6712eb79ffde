"""Engine: the result of an evaluation: Suggestions with their rationale, and DataGaps.

Everything here is frozen and ordered deterministically; ids derive from content, so the same input and
packs give the same bytes. ``Evaluation.to_json()`` is the public contract of ``cdss evaluate --format json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cdss.packs.schema import KIND_ORDER, URGENCY_ORDER
from cdss.vocab.hashing import content_id as content_id  # ids of suggestions; its home is vocab.hashing


@dataclass(frozen=True)
class Evidence:
    """A fact that met a condition: the value a clinician can check against the record."""

    concept: str
    value: float | str | bool | None
    unit: str | None
    time: str | None
    source: tuple[str, ...]
    stat: str = "latest"
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"concept": self.concept, "stat": self.stat, "value": self.value}
        if self.unit:
            out["unit"] = self.unit
        if self.time:
            out["time"] = self.time
        out["source"] = list(self.source)
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ConditionTrace:
    """One condition of a rule, as evaluated: its text, its outcome and the facts behind it."""

    text: str
    outcome: str  # "true", "false", "unknown"
    facts: tuple[Evidence, ...] = ()
    parts: tuple[ConditionTrace, ...] = ()  # derived facts: their parts; all/any/not: their items

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.text, "outcome": self.outcome,
                               "facts": [f.to_json() for f in self.facts]}
        if self.parts:
            out["parts"] = [p.to_json() for p in self.parts]
        return out


def walk_facts(trace: ConditionTrace) -> Iterator[Evidence]:
    """Every fact of a trace, depth first: the one walk of a rationale."""
    yield from trace.facts
    for part in trace.parts:
        yield from walk_facts(part)


@dataclass(frozen=True)
class Citation:
    source: str
    title: str
    year: int
    section: str
    publisher: str | None = None
    url: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class DiseaseRef:
    id: str
    system: str
    code: str | None
    display: str
    display_en: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "system": self.system, "code": self.code, "display": self.display,
                "display_en": self.display_en}


@dataclass(frozen=True)
class Suggestion:
    """One piece of advice: what, how urgent, about which disease, why, and from which source."""

    id: str
    kind: str
    urgency: str
    disease: DiseaseRef | None
    title: dict[str, str]
    detail: dict[str, str]
    rule_id: str
    pack_id: str
    pack_version: str
    rationale: tuple[ConditionTrace, ...]
    citations: tuple[Citation, ...]
    evidence: str
    cautions: tuple[dict[str, str], ...] = ()  # {zh, en}: what to check before acting on the advice
    superseded_by: tuple[str, ...] = ()  # rule ids (pack@version#id) whose advice replaces this one
    issue: str | None = None  # medication rules: v3 ActCode detected-issue kind (cdss.packs.issue_kinds)

    @property
    def rule(self) -> str:
        return f"{self.pack_id}@{self.pack_version}#{self.rule_id}"

    def sort_key(self) -> tuple[int, int, str]:
        return (URGENCY_ORDER.index(self.urgency), KIND_ORDER.index(self.kind), self.id)

    def facts(self) -> list[Evidence]:
        """Every fact the rationale used, depth first."""
        return [e for t in self.rationale for e in walk_facts(t)]

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id, "kind": self.kind, "urgency": self.urgency,
            "disease": self.disease.to_json() if self.disease else None,
            "title": dict(self.title), "detail": dict(self.detail), "rule": self.rule,
            "rationale": [t.to_json() for t in self.rationale],
            "citations": [c.to_json() for c in self.citations], "evidence": self.evidence,
        }
        if self.cautions:
            out["cautions"] = [dict(c) for c in self.cautions]
        if self.superseded_by:
            out["superseded_by"] = list(self.superseded_by)
        if self.issue:
            out["issue"] = self.issue
        return out


@dataclass(frozen=True)
class DataGap:
    """Data a rule needed but did not have (absent, stale, implausible or in an unknown unit)."""

    concept: str
    title: dict[str, str]
    reason: str  # absent | stale | implausible | unknown-unit
    rules: tuple[str, ...]
    urgency: str  # the most urgent rule that waits for it
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"concept": self.concept, "title": dict(self.title), "reason": self.reason,
                               "urgency": self.urgency, "rules": list(self.rules)}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class PackStamp:
    id: str
    version: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True)
class Evaluation:
    """The whole answer for one patient at one time with one set of packs."""

    patient: str
    now: dt.datetime
    packs: tuple[PackStamp, ...]
    suggestions: tuple[Suggestion, ...]
    data_gaps: tuple[DataGap, ...]
    notes: tuple[str, ...] = field(default=())
    superseded: tuple[Suggestion, ...] = field(default=())  # fired, but replaced by another rule's advice
    # Codings intake could not map (cdss/intake/unrecognised.py) and the site ConceptMaps in force.
    unrecognised: tuple[Any, ...] = field(default=())
    concept_maps: tuple[Any, ...] = field(default=())
    differential: tuple[Any, ...] = field(default=())  # cdss.engine.differential.Candidate, ranked

    @property
    def id(self) -> str:
        """Content-derived id of the evaluation (used by the panel's permalinks)."""
        return content_id(self.patient, self.now.isoformat(), [p.to_json() for p in self.packs],
                          [s.id for s in self.suggestions], [g.to_json() for g in self.data_gaps])

    def to_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "now": self.now.isoformat(),
            "packs": [p.to_json() for p in self.packs],
            "suggestions": [s.to_json() for s in self.suggestions],
            "data_gaps": [g.to_json() for g in self.data_gaps],
            "notes": list(self.notes),
            "superseded": [s.to_json() for s in self.superseded],
            "unrecognised": [u.to_json() for u in self.unrecognised],
            "concept_maps": [m.to_json() for m in self.concept_maps],
            "differential": [c.to_json() for c in self.differential],
        }
