"""Testing kit: example cases of a pack (`pathways/<pack>/cases/*.yaml`) and the runner that checks them.

A case is a patient (a FHIR bundle file, or a compact fact list turned into one), an evaluation time,
and what must and must not be suggested:

    cases:
      - id: bp-196-with-headache
        description: Grade 3 BP today with a severe headache.
        now: 2026-11-22T09:00:00+08:00
        patient:
          age_years: 68
          sex: male
          facts:
            - {has: hypertension, days_ago: 900}
            - {concept: sbp, value: 196, days_ago: 0}
            - {concept: dbp, value: 122, days_ago: 0}
            - {has: severe_headache, days_ago: 0}
        expect:
          - {rule: referral/ambulance-bp-neurological}
          - {urgency: emergency}
        forbid:
          - {kind: diagnosis}
        gaps: []          # optional: exactly these data-gap concepts (omit to not check)
        differential_first: hypertension   # optional: the catalogue disease ranked first
        differential_absent: [stroke]      # optional: diseases that must not be in the differential

A matcher matches a suggestion when every field it gives agrees: `rule` (the pack-relative
`kind/slug`, or a full id), `kind`, `urgency`, `disease`. `expect`: each matcher matches at least one
suggestion. `forbid`: no suggestion matches.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, model_validator

from cdss.engine.evaluate import evaluate_facts
from cdss.engine.matcher import Matcher as FactMatcher
from cdss.engine.results import Evaluation, Suggestion
from cdss.errors import CdssError, PackError, Problem
from cdss.intake.bundle import read_bundle
from cdss.packs.loader import YamlDoc, read_yaml, validate
from cdss.packs.registry import Pack, Registry
from cdss.packs.schema import Kind, Urgency
from cdss.testing.factories import CaseFact, bundle_from_facts
from cdss.vocab.model import Model


class CasePatient(Model):
    """The patient of a case: `bundle` (a FHIR Bundle JSON file, relative to the case file) or facts."""

    bundle: str | None = Field(default=None, description="Path of a FHIR Bundle JSON file, relative to the "
                                                         "case file.")
    age_years: float | None = Field(default=None, ge=0, le=130, description=(
        "Age at `now`; a fraction is completed months (floor of fraction x 12): 0.5 is 6 months, 0.85 is 10."))
    sex: str | None = Field(default=None, description="male | female | other | unknown")
    facts: tuple[CaseFact, ...] = ()

    @model_validator(mode="after")
    def _one_form(self) -> CasePatient:
        if self.bundle and (self.facts or self.age_years is not None or self.sex):
            raise ValueError("give either `bundle` or `age_years`/`sex`/`facts`, not both")
        return self


class Matcher(Model):
    """Describes suggestions: every field given must agree."""

    rule: str | None = Field(default=None, description="`kind/slug` within the pack, or a full rule id.")
    kind: Kind | None = None
    urgency: Urgency | None = None
    disease: str | None = Field(default=None, description="Catalogue disease id.")

    def matches(self, s: Suggestion, pack_id: str) -> bool:
        if self.rule is not None and s.rule_id not in (self.rule, f"{pack_id}/{self.rule}"):
            return False
        if self.kind is not None and s.kind != self.kind:
            return False
        if self.urgency is not None and s.urgency != self.urgency:
            return False
        return self.disease is None or (s.disease is not None and s.disease.id == self.disease)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items())


class Case(Model):
    id: str = Field(min_length=1)
    description: str | None = None
    now: dt.datetime = Field(description="Evaluation time, with a UTC offset.")
    patient: CasePatient
    expect: tuple[Matcher, ...] = ()
    forbid: tuple[Matcher, ...] = ()
    gaps: tuple[str, ...] | None = Field(default=None, description="Exactly these data-gap concepts.")
    differential_first: str | None = Field(default=None, description="Catalogue disease id ranked first in "
                                                                     "the differential.")
    differential_absent: tuple[str, ...] = Field(default=(), description="Catalogue disease ids that must not "
                                                                         "appear in the differential.")

    @model_validator(mode="after")
    def _aware(self) -> Case:
        if self.now.tzinfo is None:
            raise ValueError("`now` needs a UTC offset, e.g. 2026-11-22T09:00:00+08:00")
        return self


class CasesFile(Model):
    cases: tuple[Case, ...] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    pack: str
    file: str
    line: int | None
    case: Case
    failures: tuple[str, ...]
    result: Evaluation | None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def name(self) -> str:
        return f"{self.pack}::{Path(self.file).stem}::{self.case.id}"


@dataclass(frozen=True)
class CaseFile:
    """A case file as read: its YAML (for positions) and its cases with their line numbers."""

    path: Path
    doc: YamlDoc
    cases: tuple[tuple[Case, int | None], ...]


def read_case_file(path: Path) -> CaseFile:
    """Read and check one case file.

    Raises:
        PackError: schema problems, with file:line:col.
    """
    doc = read_yaml(path)
    model = validate(CasesFile, doc)
    return CaseFile(path, doc, tuple((case, doc.position(("cases", i))[0]) for i, case in enumerate(model.cases)))


def load_cases(path: Path) -> list[tuple[Case, int | None]]:
    """Cases of one file with their line numbers.

    Raises:
        PackError: schema problems, with file:line:col.
    """
    return list(read_case_file(path).cases)


def case_files(pack: Pack) -> list[Path]:
    folder = pack.path / "cases" if pack.path else None
    return sorted(folder.glob("*.yaml")) if folder and folder.is_dir() else []


def read_pack_cases(pack: Pack) -> tuple[list[CaseFile], list[Problem]]:
    """Every case file of a pack, each read once, and the problems of those that do not validate."""
    files: list[CaseFile] = []
    problems: list[Problem] = []
    for path in case_files(pack):
        try:
            files.append(read_case_file(path))
        except PackError as exc:
            problems.extend(exc.problems)
    return files, problems


def case_bundle(case: Case, file: Path, registry: Registry) -> dict:
    """The FHIR bundle of a case (read from its file, or built from its facts)."""
    if case.patient.bundle:
        path = (file.parent / case.patient.bundle).resolve()
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PackError.one(f"cannot read the case bundle: {exc}", "case-bundle", file=str(file),
                                field=f"cases.{case.id}.patient.bundle") from exc
    return bundle_from_facts(case.patient.facts, concepts=registry.concepts, now=case.now,
                             age_years=case.patient.age_years, sex=case.patient.sex)


def run_case(case: Case, file: Path, line: int | None, pack: Pack, registry: Registry,
             matcher: FactMatcher | None = None) -> CaseResult:
    """Evaluate one case with `pack` alone and check its expectations (`matcher`: default durable-rules)."""
    failures: list[str] = []
    result: Evaluation | None = None
    try:
        facts = read_bundle(case_bundle(case, file, registry), registry.concepts, source_name=str(file))
        result = evaluate_facts(facts, now=case.now, registry=registry, packs=[pack], matcher=matcher)
    except CdssError as exc:
        failures.append(f"evaluation failed: {exc}")
    if result is not None:
        own = [s for s in result.suggestions if s.pack_id == pack.id]
        for m in case.expect:
            if not any(m.matches(s, pack.id) for s in own):
                failures.append(f"expected a suggestion with {m.describe()}; got "
                                f"{[s.rule_id for s in own] or 'none'}")
        for m in case.forbid:
            bad = [s.rule_id for s in own if m.matches(s, pack.id)]
            if bad:
                failures.append(f"forbidden suggestion with {m.describe()} was made: {bad}")
        if case.gaps is not None:
            got = sorted({g.concept for g in result.data_gaps if any(r.startswith(f"{pack.id}/") for r in g.rules)})
            if got != sorted(case.gaps):
                failures.append(f"expected data gaps {sorted(case.gaps)}; got {got}")
        ranked = [c.disease.id for c in result.differential]
        if case.differential_first is not None and ranked[:1] != [case.differential_first]:
            failures.append(f"expected {case.differential_first!r} first in the differential; got {ranked or 'none'}")
        for disease in case.differential_absent:
            if disease in ranked:
                failures.append(f"{disease!r} must not be in the differential; got {ranked}")
    return CaseResult(pack.key, str(file), line, case, tuple(failures), result)


def run_pack_cases(pack: Pack, registry: Registry) -> list[CaseResult]:
    """Run every case of a pack.

    Raises:
        PackError: a case file is invalid.
    """
    files, problems = read_pack_cases(pack)
    if problems:
        raise PackError(problems)
    return [run_case(case, f.path, line, pack, registry) for f in files for case, line in f.cases]
