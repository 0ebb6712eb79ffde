"""Testing kit: the core every property check shares: the checker that evaluates generated patients with one
pack alone, one hypothesis run of a check (derandomised, no example database, shrunk), and the result and
counterexample types. `cdss.testing.properties` (declared and generic properties) and
`cdss.testing.safety_properties` (scopes, contraindications, deceased, supersedes) both build on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter

from cdss.engine.evaluate import evaluate_facts
from cdss.engine.results import Evaluation
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import Pack, PackRule, Registry
from cdss.render.text import render_text
from cdss.testing.strategies import GenPatient, patients, rule_witnesses

Status = Literal["passed", "failed", "warning"]
# Evaluation time of generated patients: the pack's effective date, 09:00 in Shanghai.
SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def evaluation_time(pack: Pack) -> dt.datetime:
    """When generated patients are evaluated: 09:00 (+08:00) on the pack's effective date."""
    return dt.datetime.combine(pack.meta.effective, dt.time(9, 0), tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Counterexample:
    """A minimal patient that breaks a property, ready to paste into the panel or a case file."""

    patient: GenPatient
    bundle: dict[str, Any]
    now: dt.datetime
    trace: str
    other_trace: str | None = None  # the changed patient's trace, for properties that compare two

    def to_json(self) -> dict[str, Any]:
        out = {"now": self.now.isoformat(), "patient": self.patient.case_patient(), "bundle": self.bundle,
               "trace": self.trace}
        if self.other_trace is not None:
            out["other_trace"] = self.other_trace
        return out


@dataclass(frozen=True)
class PropertyResult:
    """The outcome of one property check of one pack."""

    pack: str
    name: str
    rule: str | None
    status: Status
    message: str
    examples: int
    counterexample: Counterexample | None = None

    @property
    def title(self) -> str:
        return f"{self.name} {self.rule}" if self.rule else self.name

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pack": self.pack, "property": self.name, "rule": self.rule, "status": self.status,
                               "message": self.message, "examples": self.examples}
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample.to_json()
        return out


class _Broken(AssertionError):
    """Raised inside a hypothesis run when a property does not hold."""


@dataclass
class Checker:
    """Evaluates generated patients with one pack alone."""

    pack: Pack
    registry: Registry
    now: dt.datetime
    cache: dict[GenPatient, Evaluation] = field(default_factory=dict)

    def bundle(self, patient: GenPatient) -> dict[str, Any]:
        return patient.bundle(self.registry.concepts, self.now)

    def evaluate(self, patient: GenPatient) -> Evaluation:
        if patient not in self.cache:
            facts = read_bundle(self.bundle(patient), self.registry.concepts, source_name="generated patient")
            self.cache[patient] = evaluate_facts(facts, now=self.now, registry=self.registry, packs=[self.pack])
            if len(self.cache) > 2048:  # keep memory bounded on long runs
                self.cache.pop(next(iter(self.cache)))
        return self.cache[patient]

    def fired(self, patient: GenPatient) -> set[str]:
        """Rules that fired, shown or superseded by another rule's advice."""
        ev = self.evaluate(patient)
        return {s.rule_id for s in (*ev.suggestions, *ev.superseded)}

    def counterexample(self, patient: GenPatient, other: GenPatient | None = None) -> Counterexample:
        return Counterexample(patient, self.bundle(patient), self.now, render_text(self.evaluate(patient)),
                              render_text(self.evaluate(other)) if other is not None else None)


def run_property(strategy: st.SearchStrategy, check: Callable[[Any], str | None], examples: int,
         shrink: bool = True) -> tuple[Any, str] | None:
    """Run `check` on generated values; the shrunk failing value and its message, or None."""
    failures: list[tuple[Any, str]] = []
    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])]

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, phases=phases,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @given(strategy)
    def run(value: Any) -> None:
        message = check(value)
        if message is not None:
            failures.append((value, message))
            raise _Broken(message)

    with with_reporter(lambda _text: None):  # hypothesis would print the example itself; we format it
        try:
            run()
        except _Broken:
            return failures[-1]  # hypothesis replays the shrunk example last
    return None


def any_patient(checker: Checker, rules: Sequence[PackRule] | None = None) -> st.SearchStrategy[GenPatient]:
    concepts = checker.registry.concepts
    pool = [rule_witnesses(concepts, checker.pack, r) for r in (rules if rules is not None else checker.pack.rules)]
    return st.one_of(patients(concepts, pack=checker.pack), *pool)


def advice_of(ev: Evaluation) -> list[tuple[str, str]]:
    return sorted((s.rule_id, s.urgency) for s in ev.suggestions)
