"""Vocabulary: the concept dictionary's file models (`catalogue/concepts/*.yaml`): concepts, their codes and
units. Intake maps codes through them (`cdss.vocab.concepts.ConceptSet`); packs test them by id.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from cdss.vocab.model import PACK_ID, SEMVER, SNAKE_ID, Model, Source, Status, Text


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
                    "from Patient (age_years, age_months, sex).")
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
