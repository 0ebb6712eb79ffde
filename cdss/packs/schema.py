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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from cdss.packs.issue_kinds import IssueKind
from cdss.packs.scope import Population

# The concept dictionary and the base models live on the vocabulary floor; re-exported here because pack
# files use them and the editor reference (`cdss pack schema`) lists them with the pack models.
from cdss.vocab.dictionary import AltUnit as AltUnit
from cdss.vocab.dictionary import Coding as Coding
from cdss.vocab.dictionary import Concept as Concept
from cdss.vocab.dictionary import ConceptsFile as ConceptsFile
from cdss.vocab.dictionary import ConceptsPart as ConceptsPart
from cdss.vocab.model import PACK_ID as PACK_ID
from cdss.vocab.model import SEMVER as SEMVER
from cdss.vocab.model import SLUG as SLUG
from cdss.vocab.model import SNAKE_ID as SNAKE_ID
from cdss.vocab.model import Model, Source, Status, Text

Kind = Literal["diagnosis", "treatment", "referral", "pathway", "medication", "screening", "public-health"]
Urgency = Literal["emergency", "urgent", "routine", "info"]
Evidence = Literal["verified", "secondary", "unverified"]
Op = Literal[">", ">=", "<", "<=", "==", "!=", "in"]
Stat = Literal["latest", "mean", "min", "max", "count", "days_since"]

# Order used everywhere suggestions are sorted; most urgent first.
URGENCY_ORDER: tuple[str, ...] = ("emergency", "urgent", "routine", "info")
KIND_ORDER: tuple[str, ...] = (
    "referral", "diagnosis", "medication", "treatment", "pathway", "screening", "public-health",
)


class Citation(Model):
    """Where a rule's facts come from."""

    source: str = Field(description="The id of a source listed in pack.yaml `sources`.")
    section: str = Field(min_length=1, description="Section, table or page of the source.")
    note: str | None = Field(default=None, description="What exactly was taken from it.")


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
                                                     "last `last_n`, `count` of readings (of a coded concept: of "
                                                     "the resources recording it, e.g. visits), "
                                                     "`days_since` the latest one.")
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
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Use(Model):
    """A named condition of `definitions` (format v2), reused by name: `{use: severe_bp}`. The trace shows
    the name, with the definition's items beneath it."""

    use: str = Field(pattern=SNAKE_ID.pattern, description="Name of a definition of this file or of pack.yaml.")


class Defined(AllOf):
    """A `use`, resolved by the loader: the definition's condition as one item, under its name (never written
    in a pack file; the engine shows `name` in the trace)."""

    name: str


def _condition_tag(value: Any) -> str:
    """Pick the condition form from its key, so that errors speak of that form only."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        for key in ("all", "any", "not", "use"):
            if key in value:
                return key
        return "leaf"
    for form, tag in ((NotOf, "not"), (AnyOf, "any"), (AllOf, "all"), (Use, "use")):
        if isinstance(value, form):
            return tag
    return "leaf"


# A text leaf (format v2, `cdss.packs.text_leaf`) stays text until the loader parses it with the concepts at
# hand (`cdss.packs.v2.resolve_pack`); a loaded pack holds Leaf models only.
Condition = Annotated[
    Annotated[AllOf, Tag("all")] | Annotated[AnyOf, Tag("any")] | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")] | Annotated[Use, Tag("use")] | Annotated[str, Tag("text")],
    Discriminator(_condition_tag),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
Defined.model_rebuild()


class Defaults(Model):
    """Format v2: what a text leaf means when it does not say. In pack.yaml for the whole pack, in a rules
    file for that file (a key given there replaces the pack's). Applies only to text leaves that compare a
    measured concept (`quantity` of the dictionary) by latest, mean, min or max (with or without `on N
    days`) and say neither `within ...` nor `ever`; never to `has`, `count`, `days_since`, demographics or
    derived facts, nor to leaves written as mappings."""

    within: str | None = Field(default=None, pattern=r"^(ever|[0-9]+ (day|days|week|weeks))$",
                               description="Recency window, e.g. `90 days` or `2 weeks`; `ever` cancels a pack "
                                           "default in one file.")


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


# --- decision tables (see cdss/packs/tables.py and docs/editor/decision-tables.md) ----------------

HitPolicy = Literal["unique", "first", "priority", "any", "collect"]


class TableInput(Model):
    """One input column of a decision table: a concept, summarised one way (as in a condition)."""

    concept: str = Field(description="Measured concept (or derived fact / table id) of the column, e.g. `sbp`.")
    unit: str | None = Field(default=None, description="The concept's canonical unit, e.g. `mm[Hg]`; required "
                                                       "when the concept has one (cells are in this unit).")
    stat: Stat = Field(default="latest", description="Which reading(s), as in a condition's `stat`.")
    last_n: int | None = Field(default=None, ge=1, le=50, description="With mean/min/max: how many readings.")
    within_days: int | None = Field(default=None, ge=0, description="Only readings this recent count; older "
                                                                    "ones make the column unknown.")


class TableOutput(Model):
    """What a decision table gives: a number (a grade, a band, points)."""

    title: Text
    values: tuple[float, ...] = Field(default=(), description="The outputs a row may give; with `priority`, "
                                                              "required and in decreasing priority.")


class TableRow(Model):
    """One row: when every input cell holds, the row hits and gives `then`."""

    when: tuple[str, ...] = Field(description="One unary test per input column, in column order: `>= 140`, "
                                              "`< 90`, `[140..160)`, `(0..5]`, `= 2` or `2`, or `-` (any value).")
    then: float = Field(description="The output of the row.")
    label: Text = Field(description="What the row means, e.g. {zh: 1级, en: Grade 1}.")

    @field_validator("when", mode="before")
    @classmethod
    def _cells_as_text(cls, v: Any) -> Any:
        return tuple(str(c) if isinstance(c, int | float) and not isinstance(c, bool) else c for c in v) \
            if isinstance(v, list | tuple) else v


class Table(Model):
    """A decision table (DMN-style): rows of unary tests over input columns, and a named hit policy that
    says which hitting rows give the result. Rules test it by its id like a derived fact
    (`{concept: bp_grade, op: ">=", value: 2}`). Hit policies: `unique` (rows never overlap; the one
    hitting row), `first` (the first hitting row in order), `priority` (the hitting row whose output comes
    first in `output.values`), `any` (rows may overlap only with equal outputs), `collect` (every hitting
    row, combined by `aggregator`: sum, max, min or count). A column without data makes its rows unknown;
    the table is then unknown (a data gap) unless the hit policy decides it regardless."""

    id: str = Field(pattern=SNAKE_ID.pattern, description="Id rules use as `concept`, e.g. `bp_grade`.")
    title: Text
    hit_policy: HitPolicy = Field(description="unique, first, priority, any or collect (DMN's meanings).")
    aggregator: Literal["sum", "max", "min", "count"] | None = Field(
        default=None, description="With `collect` (required there): how hitting rows' outputs combine.")
    default: float | None = Field(default=None, description="Output when no row hits (not with collect "
                                                            "sum/count, whose empty result is 0); without "
                                                            "it, no hit leaves the table without a value.")
    inputs: tuple[TableInput, ...] = Field(min_length=1)
    output: TableOutput
    rows: tuple[TableRow, ...] = Field(min_length=1)
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
    advises: tuple[str, ...] = Field(
        default=(), description="Medication concepts (drug classes or drugs) this advice proposes, e.g. "
                                "`[acei, beta_blocker]`; checked against the medication-safety rules "
                                "(`cdss pack test`: no advice of a drug contraindicated for the same "
                                "patient).")
    issue: IssueKind | None = Field(
        default=None, description="`medication` rules only: the kind of problem, an HL7 v3 ActCode "
                                  "detected-issue code (ALGY allergy, COND condition, DRG drug interaction, "
                                  "DUPTHPY duplicate therapy, GEN genetic, INT intolerance, LAB lab result; "
                                  "cdss/packs/issue_kinds.py), "
                                  "coded on the alert's FHIR DetectedIssue.")

    @model_validator(mode="after")
    def _issue_only_for_medication(self) -> Then:
        if self.issue is not None and self.kind != "medication":
            raise ValueError(f"`issue` is for medication rules only (this rule is kind {self.kind!r})")
        return self


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
    population: Population | None = Field(
        default=None, description="Who the rule is for; replaces the pack's `population` wholesale. A "
                                  "`treatment` or `medication` rule needs one (its own or the pack's).")
    supersedes: tuple[str, ...] = Field(
        default=(), description="Rules whose advice this one replaces when both fire for the patient: "
                                "`kind/slug` in this pack or `pack-id/kind/slug` in another. The "
                                "superseded suggestion leaves the advice list (see `superseded`).")

    @field_validator("citation")
    @classmethod
    def _as_tuple(cls, v: Citation | tuple[Citation, ...]) -> tuple[Citation, ...]:
        return v if isinstance(v, tuple) else (v,)


class RulesFile(Model):
    """`rules/*.yaml`: a list of rules (and, optionally, derived facts and decision tables) of one pack."""

    derived: tuple[Derived, ...] = ()
    tables: tuple[Table, ...] = Field(default=(), description="Decision tables (grades, bands) rules test "
                                                              "like derived facts.")
    rules: tuple[Rule, ...] = ()
    defaults: Defaults | None = Field(default=None, description="Format v2: defaults of this file's text "
                                                                "leaves (replacing pack.yaml's key by key).")
    definitions: dict[str, Condition] = Field(
        default_factory=dict, description="Format v2: named conditions, used as `{use: NAME}` in this file "
                                          "(names are unique in the pack).")


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
    population: Population | None = Field(
        default=None, description="Default population scope of every rule of the pack (a rule's own "
                                  "`population` replaces it).")
    defaults: Defaults | None = Field(default=None, description="Format v2: defaults of every text leaf of "
                                                                "the pack (see Defaults).")
    definitions: dict[str, Condition] = Field(
        default_factory=dict, description="Format v2: named conditions, used as `{use: NAME}` in every file of "
                                          "the pack.")


def dump_for_hash(model: BaseModel) -> Any:
    """The model as plain data, the basis of a content hash: independent of YAML layout and comments, and
    of fields left at their defaults, so that adding an optional field to the format changes no hash."""
    return model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
