"""Packs: pydantic models of every pack file; the Field descriptions are the editors' reference.

Three kinds of YAML file are described here:

* ``catalogue/concepts.yaml``: the clinical concepts the rules talk about (sbp, hba1c, diabetes ...),
  each with its canonical unit and the value set of codes (LOINC, SNOMED CT, ICD-10, ATC) that map to it;
* ``pathways/<pack-id>/pack.yaml`` + ``rules/*.yaml``: a rule pack;
* ``pathways/<pack-id>/cases/*.yaml``: example cases (see ``cdss.testing``).

docs/editor/pack-format.md is generated from these models (``cdss pack schema --format markdown``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
PACK_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SNAKE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")

Kind = Literal["diagnosis", "treatment", "referral", "pathway", "medication", "screening", "public-health"]
Urgency = Literal["emergency", "urgent", "routine", "info"]
Evidence = Literal["verified", "secondary", "unverified"]
Status = Literal["draft", "active", "retired"]
Op = Literal[">", ">=", "<", "<=", "==", "!=", "in"]
Stat = Literal["latest", "mean", "min", "max", "count", "days_since"]

# Order used everywhere suggestions are sorted; most urgent first.
URGENCY_ORDER: tuple[str, ...] = ("emergency", "urgent", "routine", "info")
KIND_ORDER: tuple[str, ...] = (
    "referral", "diagnosis", "medication", "treatment", "pathway", "screening", "public-health",
)


class Model(BaseModel):
    """Frozen, strict about unknown keys: a misspelt key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Model):
    """Reader-facing text, Chinese first, English beside."""

    zh: str = Field(min_length=1, description="Chinese text (shown first).")
    en: str = Field(min_length=1, description="English text.")


class Source(Model):
    """A document that rules cite."""

    id: str = Field(pattern=SLUG.pattern, description="Short id that citations use, e.g. `htn-primary-2020`.")
    title: str = Field(min_length=1, description="Title of the document as published (Chinese if Chinese).")
    year: int = Field(ge=1950, le=2100, description="Year of publication.")
    publisher: str | None = Field(default=None, description="Issuing body, e.g. 中华医学会, 国家卫生健康委.")
    url: str | None = Field(default=None, description="Where the text can be read, if public.")
    note: str | None = Field(default=None, description="How the text was obtained, caveats.")


class Citation(Model):
    """Where a rule's facts come from."""

    source: str = Field(description="The id of a source listed in pack.yaml `sources`.")
    section: str = Field(min_length=1, description="Section, table or page of the source.")
    note: str | None = Field(default=None, description="What exactly was taken from it.")


# --- concepts -----------------------------------------------------------------------------------

class Coding(Model):
    """One code of a value set."""

    system: str = Field(description="Code system URI, e.g. `http://loinc.org`, `http://snomed.info/sct`, "
                                    "`http://hl7.org/fhir/sid/icd-10`, `http://www.whocc.no/atc`.")
    code: str = Field(min_length=1, description="The code.")
    match: Literal["exact", "prefix"] = Field(
        default="exact", description="`prefix`: also matches longer codes (ICD-10 `I10` matches `I10.x00`; "
                                     "ATC `C09A` matches `C09AA05`).")
    display: str | None = Field(default=None, description="Human-readable name of the code.")


class AltUnit(Model):
    """A unit a value may arrive in that a units library cannot relate to the canonical unit by itself."""

    unit: str = Field(description="UCUM code, e.g. `mmol/mol`.")
    scale: float = Field(description="canonical = value * scale + offset.")
    offset: float = Field(default=0.0, description="canonical = value * scale + offset.")
    source: str | None = Field(default=None, description="Where the formula comes from.")


class Concept(Model):
    """A clinical concept that rules test: a measurement, a coded condition, a drug class, a symptom."""

    id: str = Field(pattern=SNAKE_ID.pattern, description="Short snake_case id used in rules, e.g. `sbp`.")
    kind: Literal["quantity", "condition", "medication", "allergy", "symptom", "finding", "encounter",
                  "demographic"] = Field(
        description="`quantity`: a number with a unit (an Observation value or component, or a scored "
                    "QuestionnaireResponse answer). `condition`, `medication`, `allergy`, `symptom`, "
                    "`finding`: coded, present or not. `encounter`: a visit, stay or discharge, from an "
                    "Encounter's class, type, service type or discharge disposition. `demographic`: read "
                    "from Patient (age_years, sex).")
    title: Text
    unit: str | None = Field(default=None, description="Canonical UCUM unit of a quantity, e.g. `mm[Hg]`, "
                                                       "`mmol/L`; every value is converted to it.")
    molar_mass_g_per_mol: float | None = Field(
        default=None, gt=0, description="Lets mass units (mg/dL) convert to molar ones (mmol/L).")
    alt_units: tuple[AltUnit, ...] = Field(default=(), description="Units related to `unit` by a formula.")
    plausible: tuple[float, float] | None = Field(
        default=None, description="[min, max] in the canonical unit; values outside are treated as "
                                  "entry errors: ignored and reported as a data gap.")
    codes: tuple[Coding, ...] = Field(default=(), description="Value set: codes that map to this concept.")
    value_codes: tuple[Coding, ...] = Field(
        default=(), description="For a `finding` or `symptom` carried by an Observation whose "
                                "valueCodeableConcept holds one of these codes.")
    note: str | None = Field(default=None, description="Provenance of the codes; what is unverified or "
                                                       "deliberately left out.")
    closed_world: bool | None = Field(
        default=None, description="When true, absence from the record means 'no' (problem list, drug list); "
                                  "when false it means 'unknown' and yields a data gap. Default: true for "
                                  "condition/medication/allergy/symptom/finding, false for quantities.")

    @property
    def absent_means_false(self) -> bool:
        if self.closed_world is not None:
            return self.closed_world
        return self.kind not in ("quantity", "demographic")

    @model_validator(mode="after")
    def _unit_for_quantities(self) -> Concept:
        if self.kind == "quantity" and not self.unit:
            raise ValueError("a quantity concept needs its canonical `unit` (UCUM)")
        return self


class ConceptsPart(Model):
    """`catalogue/concepts/<topic>.yaml`: more concepts, merged with concepts.yaml (ids unique overall)."""

    concepts: tuple[Concept, ...]


class ConceptsFile(Model):
    """`catalogue/concepts/concepts.yaml`: the concept dictionary and value sets shared by all packs; the
    other files of the folder add concepts by topic."""

    id: str = Field(pattern=PACK_ID.pattern)
    version: str = Field(pattern=SEMVER.pattern)
    effective: dt.date
    status: Status
    title: Text
    sources: tuple[Source, ...] = ()
    system_aliases: dict[str, str] = Field(
        default_factory=dict, description="Other URIs EHRs use for a code system -> the URI used here.")
    concepts: tuple[Concept, ...]


# --- conditions (the `when` language) ------------------------------------------------------------

class Leaf(Model):
    """A test of one concept. Absent or stale data make it *unknown*, never false (unless the concept is
    closed-world): the rule then reports a data gap instead of advice."""

    concept: str | None = Field(default=None, description="Concept or derived fact tested, e.g. `sbp`.")
    has: str | None = Field(default=None, description="Coded concept that must be present, e.g. `diabetes`.")
    op: Op | None = Field(default=None, description="Comparison, with `value`.")
    value: float | str | tuple[float | str, ...] | None = Field(
        default=None, description="Threshold in the concept's canonical unit, or a code/label; a list "
                                  "with `in`.")
    stat: Stat = Field(default="latest", description="Which reading(s): `latest`, `mean`/`min`/`max` of the "
                                                     "last `last_n`, `count` of readings, `days_since` the "
                                                     "latest one.")
    last_n: int | None = Field(default=None, ge=1, le=50, description="With mean/min/max: how many of the "
                                                                      "most recent readings.")
    within_days: int | None = Field(default=None, ge=0, description="Only readings this recent count; "
                                                                    "older ones make the test unknown "
                                                                    "(stale).")
    on_days: int | None = Field(default=None, ge=1, le=50, description="The comparison must hold for the "
                                                                       "day-mean on at least this many "
                                                                       "distinct days.")

    @model_validator(mode="after")
    def _shape(self) -> Leaf:
        if (self.concept is None) == (self.has is None):
            raise ValueError("a condition names exactly one of `concept` (a comparison) or `has` (presence)")
        if self.concept is not None and (self.op is None or self.value is None):
            raise ValueError("a `concept` test needs `op` and `value`")
        if self.has is not None and (self.op is not None or self.value is not None):
            raise ValueError("a `has` test takes no `op` or `value`")
        if self.op == "in" and not isinstance(self.value, tuple):
            raise ValueError("`in` needs a list `value`")
        if self.on_days is not None and self.stat != "latest":
            raise ValueError("`on_days` counts day-means; it does not combine with `stat`")
        if self.on_days is not None and self.op not in (">", ">=", "<", "<="):
            raise ValueError("`on_days` needs an ordering `op` (>, >=, <, <=)")
        if self.last_n is not None and self.stat not in ("mean", "min", "max"):
            raise ValueError("`last_n` goes with stat mean, min or max")
        return self

    @property
    def subject(self) -> str:
        return self.concept or self.has or ""


class AllOf(Model):
    all: tuple[Condition, ...] = Field(min_length=1, description="True when every item is true.")


class AnyOf(Model):
    any: tuple[Condition, ...] = Field(min_length=1, description="True when at least one item is true.")


class NotOf(Model):
    not_: Condition = Field(alias="not", description="True when the item is false.")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_tag(value: Any) -> str:
    """Pick the condition form from its key, so that errors speak of that form only."""
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "leaf"
    if isinstance(value, AllOf | AnyOf | NotOf | Leaf):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}[type(value)]
    return "leaf"


Condition = Annotated[
    Annotated[AllOf, Tag("all")] | Annotated[AnyOf, Tag("any")] | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(_condition_tag),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class PointsFrom(Model):
    """A part whose points are a reading's value (a questionnaire answer), optionally reverse-scored."""

    concept: str = Field(description="Quantity concept whose latest value gives the points, e.g. a "
                                     "questionnaire item.")
    range: tuple[float, float] = Field(description="[min, max] the value can take (e.g. [1, 5]); a value "
                                                   "outside makes the part unknown.")
    reverse: bool = Field(default=False, description="Reverse-scored: points = min + max - value "
                                                     "(1->5, 2->4 ... on [1, 5]).")

    @model_validator(mode="after")
    def _order(self) -> PointsFrom:
        if self.range[0] > self.range[1]:
            raise ValueError("`range` is [min, max] with min <= max")
        return self

    def points(self, value: float) -> float:
        return self.range[0] + self.range[1] - value if self.reverse else value


class Part(Model):
    """One part of a derived score: its points count when its condition is true. With `points_from`
    instead, the points are a reading's value; `when` is then implied (the value lies in `range`)."""

    label: Text
    points: float | None = Field(default=None, description="Points (score) or level (max) contributed "
                                                            "when `when` is true.")
    points_from: PointsFrom | None = None
    when: Condition | None = Field(default=None, description="Required with `points`; implied by "
                                                             "`points_from`.")

    @model_validator(mode="after")
    def _shape(self) -> Part:
        if (self.points is None) == (self.points_from is None):
            raise ValueError("a part gives exactly one of `points` (with `when`) or `points_from`")
        if self.points is not None and self.when is None:
            raise ValueError("a part with `points` needs `when`")
        if self.points_from is not None:
            if self.when is not None:
                raise ValueError("a part with `points_from` takes no `when` (it is the value's range)")
            pf = self.points_from
            implied = AllOf(all=(Leaf(concept=pf.concept, op=">=", value=pf.range[0]),
                                 Leaf(concept=pf.concept, op="<=", value=pf.range[1])))
            object.__setattr__(self, "when", implied)
        return self


class Derived(Model):
    """A fact computed from others, defined in the pack: a score (sum of parts) or a grade (max)."""

    id: str = Field(pattern=SNAKE_ID.pattern, description="Id rules use as `concept`, e.g. `crb65`.")
    title: Text
    combine: Literal["sum", "max"] = Field(description="`sum`: a score (CRB-65). `max`: a grade (BP grade).")
    parts: tuple[Part, ...] = Field(min_length=1)
    complete: bool = Field(default=False, description="When true, the fact is unknown (a data gap) unless "
                                                      "every part is known, e.g. a questionnaire score "
                                                      "with no item left blank.")
    citation: Citation | tuple[Citation, ...]
    evidence: Evidence


# --- rules ---------------------------------------------------------------------------------------

class Then(Model):
    """What a rule suggests."""

    kind: Kind = Field(description="diagnosis, treatment, referral, pathway, medication, screening, "
                                   "public-health.")
    urgency: Urgency = Field(description="emergency, urgent, routine, info.")
    disease: str | None = Field(default=None, description="Catalogue entry id the advice is about.")
    title: Text = Field(description="One line: what to do.")
    detail: Text = Field(description="Why and how, for the clinician.")


class PropertySpec(Model):
    """A behaviour an editor declares for a rule; `cdss pack test` checks it with generated patients."""

    monotone_increasing: str | None = Field(default=None, description="Concept: raising it never stops "
                                                                      "the rule firing.")
    monotone_decreasing: str | None = Field(default=None, description="Concept: lowering it never stops "
                                                                      "the rule firing.")
    never_below_age: float | None = Field(default=None, description="Never fires under this age (years).")
    requires_within_days: tuple[str, int] | None = Field(
        default=None, description="[concept, days]: never fires without a reading that recent.")


class Rule(Model):
    """One rule: when its condition holds, it suggests `then`, citing its source."""

    id: str = Field(pattern=SLUG.pattern, description="Slug, unique in the pack; the full id is "
                                                      "`<pack-id>/<kind>/<slug>`.")
    then: Then
    when: Condition
    citation: Citation | tuple[Citation, ...]
    evidence: Evidence = Field(description="verified (checked against the source text), secondary "
                                           "(from a summary or transcription), unverified.")
    gaps: Literal["report", "silent"] = Field(
        default="report", description="`report`: when data are missing, say so (a data gap). `silent` is "
                                      "for screening rules whose data are usually absent.")
    excludes: tuple[str, ...] = Field(default=(), description="Slugs of rules that must never fire "
                                                              "together with this one.")
    properties: tuple[PropertySpec, ...] = Field(default=(), description="Declared behaviours, "
                                                                         "property-tested.")

    @field_validator("citation")
    @classmethod
    def _as_tuple(cls, v: Citation | tuple[Citation, ...]) -> tuple[Citation, ...]:
        return v if isinstance(v, tuple) else (v,)


class RulesFile(Model):
    """`rules/*.yaml`: a list of rules (and, optionally, derived facts) of one pack."""

    derived: tuple[Derived, ...] = ()
    rules: tuple[Rule, ...] = ()


class PackFile(Model):
    """`pack.yaml`: what a pack is, which version, and what it cites."""

    id: str = Field(pattern=PACK_ID.pattern, description="Lowercase-hyphen pack id, e.g. `htn-community`.")
    version: str = Field(pattern=SEMVER.pattern, description="Semantic version; any content change needs a "
                                                             "new version.")
    effective: dt.date = Field(description="Date from which the pack applies.")
    status: Status = Field(description="draft, active or retired. Only active packs run by default.")
    title: Text
    description: Text | None = None
    sources: tuple[Source, ...] = Field(min_length=1, description="Every document the rules cite.")
    derived: tuple[Derived, ...] = ()


def dump_for_hash(model: BaseModel) -> Any:
    """The model as plain data, the basis of a content hash: independent of YAML layout and comments, and
    of fields left at their defaults, so that adding an optional field to the format changes no hash."""
    return model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
