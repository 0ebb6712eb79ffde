"""Intake: candidate concepts for unrecognised codings, from their display text, as a DRAFT ConceptMap.

The names matched are each concept's Chinese and English title, its id read as words, and the displays of
its value-set codes (LOINC long names, SNOMED CT FSNs, ICD-10 titles: the English synonyms). Fuzzy
matching is rapidfuzz token_set_ratio on normalised text (lower case, punctuation removed; Chinese characters kept).

A suggestion is a guess from text, never a mapping: every target of the draft is `relatedto` (R4) /
`related-to` (R5), which `cdss/intake/concept_maps.py` does not apply, with a comment saying it is
unconfirmed. A person confirms an entry by changing it to `equivalent` (or `wider` /
`source-is-narrower-than-target`) and giving the map its url and version.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz, process, utils

from cdss.intake.concept_maps import CONCEPT_SYSTEM
from cdss.intake.unrecognised import UnrecognisedCoding
from cdss.vocab.concepts import ConceptSet

# Which concept kinds a coding of each resource type may be.
KINDS = {
    "Observation": ("quantity", "finding", "symptom"),
    "Observation.component": ("quantity", "finding", "symptom"),
    "Condition": ("condition", "symptom", "finding"),
    "MedicationRequest": ("medication",),
    "MedicationStatement": ("medication",),
    "AllergyIntolerance": ("allergy",),
}
# SNOMED CT semantic tags ("(disorder)", "(finding)") and bracketed qualifiers say nothing about meaning here.
_TAG = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
UNCONFIRMED = "UNCONFIRMED candidate from display text (score {score}); review it, then set equivalence"


@dataclass(frozen=True)
class Candidate:
    concept: str
    score: float
    matched: str  # the name that matched


@dataclass(frozen=True)
class Suggestion:
    coding: UnrecognisedCoding
    candidates: tuple[Candidate, ...]


def _clean(text: str) -> str:
    return _TAG.sub("", text).strip()


def _names(concepts: ConceptSet, kinds: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for c in concepts.source.concepts:
        if c.kind not in kinds:
            continue
        names = {c.title.zh, c.title.en, c.id.replace("_", " ")}
        names |= {code.display for code in c.codes if code.display}
        out += [(_clean(n), c.id) for n in sorted(names) if _clean(n)]
    return out


def suggest(codings: Iterable[UnrecognisedCoding], concepts: ConceptSet, *, limit: int = 3,
            min_score: float = 80.0) -> tuple[Suggestion, ...]:
    """Up to `limit` candidate concepts per coding with a display, best first (ties: concept id)."""
    tables: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    out = []
    for coding in codings:
        kinds = KINDS.get(coding.resource_type)
        if not kinds or not coding.display:
            out.append(Suggestion(coding, ()))
            continue
        names = tables.setdefault(kinds, _names(concepts, kinds))
        hits = process.extract(_clean(coding.display), [n for n, _ in names], scorer=fuzz.token_set_ratio,
                               processor=utils.default_process, limit=None, score_cutoff=min_score)
        best: dict[str, Candidate] = {}
        for name, score, index in hits:
            cid = names[index][1]
            if cid not in best or (score, name) > (best[cid].score, best[cid].matched):
                best[cid] = Candidate(cid, round(float(score), 1), name)
        ranked = sorted(best.values(), key=lambda c: (-c.score, c.concept))[:limit]
        out.append(Suggestion(coding, tuple(ranked)))
    return tuple(out)


def draft_map(suggestions: Sequence[Suggestion], *, version: Literal["R4", "R5"] = "R4") -> dict[str, Any]:
    """A draft ConceptMap holding every candidate as an unconfirmed, not-applied entry."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in sorted(suggestions, key=lambda s: (s.coding.system, s.coding.code, s.coding.resource_type)):
        if not s.candidates or not s.coding.system:
            continue
        elements = groups.setdefault(s.coding.system, [])
        if any(e["code"] == s.coding.code for e in elements):
            continue  # the same code under two resource types: one element
        targets = []
        for c in s.candidates:
            target: dict[str, Any] = {"code": c.concept, "display": c.matched,
                                      "comment": UNCONFIRMED.format(score=c.score)}
            if version == "R4":
                target["equivalence"] = "relatedto"
            else:
                target["relationship"] = "related-to"
            targets.append(target)
        elements.append({"code": s.coding.code, "display": s.coding.display, "target": targets})
    body = [{"source": system, "target": CONCEPT_SYSTEM, "element": elements}
            for system, elements in sorted(groups.items())]
    key = hashlib.sha256(repr(body).encode()).hexdigest()[:12]
    return {"resourceType": "ConceptMap", "id": f"draft-{key}", "url": f"urn:cdss:draft-concept-map:{key}",
            "version": "0.0.0-draft", "name": "DraftSiteConceptMap", "status": "draft",
            "title": "草稿：候选映射，未确认 / DRAFT: candidate mappings, unconfirmed", "group": body}
