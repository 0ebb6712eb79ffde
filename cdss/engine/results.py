"""Engine: the result of an evaluation: Suggestions with their rationale, DataGaps and the differential.

Everything here is a frozen, typed record (`cdss.vocab.record.Record`) ordered deterministically; ids derive
from content, so the same input and packs give the same bytes. ``Evaluation.model_dump(mode="json")`` is the
public contract of ``cdss evaluate --format json`` (field order = key order; empty optional keys are left
out), and ``Evaluation.model_validate(data)`` reads a stored one back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import Field, PlainSerializer, model_validator

from cdss.intake.concept_maps import MapStamp
from cdss.intake.unrecognised import UnrecognisedCoding
from cdss.packs.schema import KIND_ORDER, URGENCY_ORDER
from cdss.vocab.hashing import content_id as content_id  # ids of suggestions; its home is vocab.hashing
from cdss.vocab.record import Record, omit_empty

Value = bool | int | float | str | None  # bool first: True stays True, 5 stays 5, 5.0 stays 5.0
IsoTime = Annotated[dt.datetime, PlainSerializer(dt.datetime.isoformat, return_type=str, when_used="json")]
STATUS_ORDER: tuple[str, ...] = ("met", "possible")  # of a differential candidate


class Evidence(Record):
    """A fact that met a condition: the value a clinician can check against the record."""

    positional: ClassVar[tuple[str, ...]] = ("concept", "value", "unit", "time", "source", "stat", "note")

    concept: str
    stat: str = "latest"
    value: Value
    unit: str | None = omit_empty()
    time: str | None = omit_empty()
    source: tuple[str, ...]
    note: str | None = omit_empty()

    def __init__(self, /, *args: Any, **data: Any) -> None:
        if not _evidence_fast(self, args, data):
            super().__init__(*args, **data)


class ConditionTrace(Record):
    """One condition of a rule, as evaluated: its text, its outcome and the facts behind it."""

    text: str = Field(alias="condition")
    outcome: str  # "true", "false", "unknown"
    facts: tuple[Evidence, ...] = ()
    parts: tuple[ConditionTrace, ...] = omit_empty(())  # derived facts: their parts; all/any/not: their items

    def __init__(self, /, *args: Any, **data: Any) -> None:
        if data or not 2 <= len(args) <= 4 or not _trace_fast(self, _TRACE_FIELDS[:len(args)], *args):
            super().__init__(*args, **data)


_new = object.__new__
_put = object.__setattr__


def _trusted(cls: type[Record], values: dict[str, Any]) -> Any:
    """A record of `cls` from values the engine built itself, every field given in declaration order and
    already of its type (str, bool, tuples of records, None): the very record validation would give (same
    dump, equality, hash, frozen), without validating. Only for the engine's hot paths; a record read from
    outside (`Evaluation.model_validate`) is always validated."""
    obj = _new(cls)
    _put(obj, "__dict__", values)
    _put(obj, "__pydantic_fields_set__", set(values))
    _put(obj, "__pydantic_extra__", None)
    _put(obj, "__pydantic_private__", None)
    return obj


# The engine makes hundreds of evidence and trace records per evaluation, positionally and from values of
# exactly the declared types: for those, validation would return the values unchanged, so they are set
# directly (the same record: dump, equality, hash, frozen). Any other value (a list, a subclass of str, an
# unknown key ...) takes the validating path, as does everything read from outside (`model_validate`).
_VALUE_TYPES = frozenset({bool, int, float, str, type(None)})
_EVIDENCE_FIELDS = ("concept", "value", "unit", "time", "source", "stat", "note")  # Evidence.positional


def _optional_str(value: Any) -> bool:
    return value is None or type(value) is str


def _evidence_fast(obj: Evidence, args: tuple[Any, ...], data: dict[str, Any]) -> bool:
    if len(args) > 7:
        return False
    given = dict(zip(_EVIDENCE_FIELDS, args, strict=False))
    for name, value in data.items():
        if name not in _EVIDENCE_FIELDS or name in given:
            return False
        given[name] = value
    if "concept" not in given or "value" not in given or "source" not in given:
        return False
    concept, value, source = given["concept"], given["value"], given["source"]
    unit, time, stat, note = given.get("unit"), given.get("time"), given.get("stat", "latest"), given.get("note")
    if not (type(concept) is str and type(value) in _VALUE_TYPES and type(stat) is str and _optional_str(unit)
            and _optional_str(time) and _optional_str(note) and type(source) is tuple
            and all(type(x) is str for x in source)):
        return False
    _put(obj, "__dict__", {"concept": concept, "stat": stat, "value": value, "unit": unit, "time": time,
                           "source": source, "note": note})
    _put(obj, "__pydantic_fields_set__", set(given))
    _put(obj, "__pydantic_extra__", None)
    _put(obj, "__pydantic_private__", None)
    return True


_TRACE_FIELDS = ("text", "outcome", "facts", "parts")


def _trace_fast(obj: ConditionTrace, given: tuple[str, ...], text: Any, outcome: Any, facts: Any = (),
                parts: Any = ()) -> bool:
    if not (type(text) is str and type(outcome) is str and type(facts) is tuple and type(parts) is tuple
            and all(isinstance(f, Evidence) for f in facts) and all(isinstance(p, ConditionTrace) for p in parts)):
        return False
    _put(obj, "__dict__", {"text": text, "outcome": outcome, "facts": facts, "parts": parts})
    _put(obj, "__pydantic_fields_set__", set(given))
    _put(obj, "__pydantic_extra__", None)
    _put(obj, "__pydantic_private__", None)
    return True


def trusted_trace(text: str, outcome: str, facts: tuple[Evidence, ...] = (),
                  parts: tuple[ConditionTrace, ...] = ()) -> ConditionTrace:
    """`ConditionTrace(text, outcome, facts, parts)` from the engine's own values, unvalidated (`_trusted`)."""
    return _trusted(ConditionTrace, {"text": text, "outcome": outcome, "facts": facts, "parts": parts})


def walk_facts(trace: ConditionTrace) -> Iterator[Evidence]:
    """Every fact of a trace, depth first: the one walk of a rationale."""
    yield from trace.facts
    for part in trace.parts:
        yield from walk_facts(part)


def walk_traces(trace: ConditionTrace, depth: int = 0) -> Iterator[tuple[int, ConditionTrace]]:
    """A trace and every part below it, depth first, each with its depth: the one walk that renderers
    (text, CDS Hooks cards) indent a rationale by."""
    yield depth, trace
    for part in trace.parts:
        yield from walk_traces(part, depth + 1)


class Citation(Record):
    source: str
    title: str
    year: int | None = omit_empty()  # (a source whose document shows no year)
    section: str
    publisher: str | None = omit_empty()
    url: str | None = omit_empty()
    note: str | None = omit_empty()


class DiseaseRef(Record):
    id: str
    system: str
    code: str | None
    display: str
    display_en: str


class Suggestion(Record):
    """One piece of advice: what, how urgent, about which disease, why, and from which source.

    `rule` is `pack@version#rule-id`; `pack_id`, `pack_version` and `rule_id` may be given instead of it."""

    id: str
    kind: str
    urgency: str
    disease: DiseaseRef | None
    title: dict[str, str]
    detail: dict[str, str]
    rule: str
    rationale: tuple[ConditionTrace, ...]
    citations: tuple[Citation, ...]
    evidence: str
    cautions: tuple[dict[str, str], ...] = omit_empty(())  # {zh, en}: what to check before acting on it
    superseded_by: tuple[str, ...] = omit_empty(())  # rule ids (pack@version#id) whose advice replaces this one
    issue: str | None = omit_empty()  # medication rules: v3 ActCode detected-issue kind (cdss.packs.issue_kinds)

    @model_validator(mode="before")
    @classmethod
    def _rule_from_parts(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rule" not in data and "rule_id" in data:
            data = dict(data)
            data["rule"] = f"{data.pop('pack_id')}@{data.pop('pack_version')}#{data.pop('rule_id')}"
        return data

    @property
    def pack_id(self) -> str:
        return self.rule.partition("@")[0]

    @property
    def pack_version(self) -> str:
        return self.rule.partition("@")[2].partition("#")[0]

    @property
    def rule_id(self) -> str:
        """The rule's full id `pack/kind/slug`."""
        return self.rule.partition("#")[2]

    def sort_key(self) -> tuple[int, int, str]:
        return (URGENCY_ORDER.index(self.urgency), KIND_ORDER.index(self.kind), self.id)

    def facts(self) -> list[Evidence]:
        """Every fact the rationale used, depth first."""
        return [e for t in self.rationale for e in walk_facts(t)]


class DataGap(Record):
    """Data a rule needed but did not have (absent, stale, implausible or in an unknown unit)."""

    concept: str
    title: dict[str, str]
    reason: str  # absent | stale | implausible | unknown-unit | imprecise ...
    urgency: str  # the most urgent rule that waits for it
    rules: tuple[str, ...]
    detail: str | None = omit_empty()


class PackStamp(Record):
    id: str
    version: str
    sha256: str


class Criterion(Record):
    """One criterion of a diagnosis rule as it stands: its words, concept, outcome, facts and rule."""

    positional: ClassVar[tuple[str, ...]] = ("text", "concept", "outcome", "rule", "exclusion", "facts", "reason")

    text: str = Field(alias="criterion")
    concept: str
    outcome: str  # "true", "false", "unknown"
    rule: str
    facts: tuple[Evidence, ...] = ()
    exclusion: bool = omit_empty(False)  # under a `not`: true means the exclusion holds (a finding against)
    reason: str | None = omit_empty()  # why unknown: absent | stale | too-few-days ...


def trusted_criterion(text: str, concept: str, outcome: str, rule: str, exclusion: bool,
                      facts: tuple[Evidence, ...], reason: str | None) -> Criterion:
    """`Criterion(text, concept, outcome, rule, exclusion, facts, reason)` from the engine's own values,
    unvalidated (`_trusted`)."""
    return _trusted(Criterion, {"text": text, "concept": concept, "outcome": outcome, "rule": rule, "facts": facts,
                                "exclusion": exclusion, "reason": reason})


class NextTest(Record):
    """The measurement or question that would change this condition's score most, in words."""

    concept: str
    criterion: str
    title: dict[str, str]
    rule: str
    score_if_met: float


class Candidate(Record):
    """One condition of the differential, with its evidence (`code` is the condition's code, repeated)."""

    positional: ClassVar[tuple[str, ...]] = ("disease", "kind", "status", "score", "rules", "for_", "against",
                                             "unknown", "next_test", "syndrome")

    disease: DiseaseRef = Field(alias="condition")
    kind: str  # western | tcm
    code: str | None = None
    status: str  # met | possible
    score: float  # 0..1: share of the best rule's criteria met (1 when a rule holds)
    rules: tuple[str, ...]  # the diagnosis rules that take part (outcome true or unknown)
    for_: tuple[Criterion, ...] = Field(default=(), alias="for")
    against: tuple[Criterion, ...] = ()
    unknown: tuple[Criterion, ...] = ()
    next_test: NextTest | None = None
    syndrome: str | None = omit_empty()  # TCM: the syndrome (证候) the rule names, from the catalogue

    @model_validator(mode="before")
    @classmethod
    def _code_of_disease(cls, data: Any) -> Any:
        if isinstance(data, dict) and "code" not in data:
            disease = data.get("disease", data.get("condition"))
            data = {**data, "code": disease.code if isinstance(disease, DiseaseRef) else
                    (disease or {}).get("code")}
        return data

    def sort_key(self) -> tuple[Any, ...]:
        return (STATUS_ORDER.index(self.status), -self.score, -len(self.for_), self.disease.id, self.syndrome or "")


class Evaluation(Record):
    """The whole answer for one patient at one time with one set of packs."""

    patient: str
    now: IsoTime
    packs: tuple[PackStamp, ...]
    suggestions: tuple[Suggestion, ...]
    data_gaps: tuple[DataGap, ...]
    notes: tuple[str, ...] = ()
    superseded: tuple[Suggestion, ...] = ()  # fired, but replaced by another rule's advice
    # Codings intake could not map (cdss/intake/unrecognised.py) and the site ConceptMaps in force.
    unrecognised: tuple[UnrecognisedCoding, ...] = ()
    concept_maps: tuple[MapStamp, ...] = ()
    differential: tuple[Candidate, ...] = ()  # ranked

    @property
    def id(self) -> str:
        """Content-derived id of the evaluation (used by the panel's permalinks)."""
        return content_id(self.patient, self.now.isoformat(), [p.model_dump(mode="json") for p in self.packs],
                          [s.id for s in self.suggestions], [g.model_dump(mode="json") for g in self.data_gaps])
