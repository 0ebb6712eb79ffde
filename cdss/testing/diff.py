"""Testing kit: what changed between two versions of a pack, in content and in behaviour.

* content: pack metadata, derived facts and rules added, removed and changed, field by field;
* behaviour: the example cases of both versions and generated patients (concentrated around the
  thresholds of both versions) evaluated with each version; every patient whose advice differs is listed
  with the advice of each side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter

from cdss.engine.evaluate import evaluate_facts
from cdss.engine.results import Evaluation
from cdss.errors import CdssError, PackError
from cdss.intake.bundle import read_bundle
from cdss.packs import diff as packs_diff
from cdss.packs.diff import FieldChange, ItemChange
from cdss.packs.registry import Pack, Registry
from cdss.testing.cases import case_bundle, read_pack_cases
from cdss.testing.checker import evaluation_time
from cdss.testing.strategies import GenPatient, patients, rule_witnesses

DEFAULT_PATIENTS = 60


def _field_json(c: FieldChange) -> dict[str, Any]:
    return {"field": c.path, "old": c.old, "new": c.new}


def _item_json(c: ItemChange) -> dict[str, Any]:
    return {"id": c.id, "fields": [_field_json(f) for f in c.fields]}


@dataclass(frozen=True)
class AdviceChange:
    """One patient (an example case or a generated patient) whose advice differs between the versions."""

    source: str  # "case <file>::<id>" or "generated #n"
    old: tuple[str, ...]
    new: tuple[str, ...]
    patient: dict[str, Any] | None = None  # the case `patient:` block of a generated patient

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"patient": self.source, "old": list(self.old), "new": list(self.new)}
        if self.patient is not None:
            out["facts"] = self.patient
        return out


@dataclass
class PackDiff:
    old: str
    new: str
    meta: list[FieldChange] = field(default_factory=list)
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)
    rules_changed: list[ItemChange] = field(default_factory=list)
    derived_added: list[str] = field(default_factory=list)
    derived_removed: list[str] = field(default_factory=list)
    derived_changed: list[ItemChange] = field(default_factory=list)
    cases: list[AdviceChange] = field(default_factory=list)
    generated: list[AdviceChange] = field(default_factory=list)
    patients_compared: int = 0
    cases_compared: int = 0

    @property
    def content_changed(self) -> bool:
        return bool(self.meta or self.rules_added or self.rules_removed or self.rules_changed
                    or self.derived_added or self.derived_removed or self.derived_changed)

    @property
    def behaviour_changed(self) -> bool:
        return bool(self.cases or self.generated)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old, "new": self.new,
            "meta": [_field_json(c) for c in self.meta],
            "rules": {"added": self.rules_added, "removed": self.rules_removed,
                      "changed": [_item_json(c) for c in self.rules_changed]},
            "derived": {"added": self.derived_added, "removed": self.derived_removed,
                        "changed": [_item_json(c) for c in self.derived_changed]},
            "behaviour": {"cases_compared": self.cases_compared, "patients_compared": self.patients_compared,
                          "cases": [c.to_json() for c in self.cases],
                          "generated": [c.to_json() for c in self.generated]},
        }


def content_diff(old: Pack, new: Pack) -> PackDiff:
    """Metadata, derived facts and rules that differ (the one structural diff, cdss.packs.diff)."""
    c = packs_diff.content_diff(old, new)
    return PackDiff(c.old, c.new, list(c.meta), list(c.rules.added), list(c.rules.removed), list(c.rules.changed),
                    list(c.derived.added), list(c.derived.removed), list(c.derived.changed))


def _advice(ev: Evaluation, pack_id: str) -> tuple[str, ...]:
    return tuple(sorted(f"{s.rule_id.removeprefix(pack_id + '/')} ({s.urgency})" for s in ev.suggestions))


def _evaluate(bundle: dict, now: dt.datetime, pack: Pack, registry: Registry) -> tuple[str, ...]:
    try:
        facts = read_bundle(bundle, registry.concepts, source_name="diff")
        return _advice(evaluate_facts(facts, now=now, registry=registry, packs=[pack]), pack.id)
    except CdssError as exc:
        return (f"error: {exc}",)


def _sample(strategy: st.SearchStrategy, n: int) -> list[Any]:
    """`n` values of a strategy, the same on every run (derandomised)."""
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    with with_reporter(lambda _text: None):
        collect()
    unique: list[Any] = []
    for v in out:
        if v not in unique:
            unique.append(v)
    return unique


def behaviour_diff(diff: PackDiff, old: Pack, new: Pack, registry: Registry, *, generated: int = DEFAULT_PATIENTS,
                   now: dt.datetime | None = None) -> PackDiff:
    """Add to `diff` the example cases (of both versions) and generated patients whose advice differs.

    Raises:
        PackError: a case file of either version is invalid.
    """
    seen: set[tuple[str, str]] = set()
    (new_files, problems), (old_files, old_problems) = read_pack_cases(new), read_pack_cases(old)
    problems += old_problems
    new_cases = {(f.path.name, c.id) for f in new_files for c, _ in f.cases}
    for files in (new_files, old_files):
        for f in files:
            file = f.path
            for case, _line in f.cases:
                key = (file.name, case.id)
                if key in seen:
                    continue
                seen.add(key)
                bundle = case_bundle(case, file, registry)
                a, b = _evaluate(bundle, case.now, old, registry), _evaluate(bundle, case.now, new, registry)
                diff.cases_compared += 1
                if a != b:
                    label = f"case {file.stem}::{case.id}" + ("" if key in new_cases else " (old version only)")
                    diff.cases.append(AdviceChange(label, a, b))
    if problems:
        raise PackError(problems)
    if generated > 0:
        when = now or evaluation_time(new)
        concepts = registry.concepts
        pools = [patients(concepts, pack=p) for p in (old, new)]
        pools += [rule_witnesses(concepts, p, r) for p in (old, new) for r in p.rules]
        sample: list[GenPatient] = _sample(st.one_of(*pools), generated)
        diff.patients_compared = len(sample)
        for i, patient in enumerate(sample, 1):
            bundle = patient.bundle(concepts, when)
            a, b = _evaluate(bundle, when, old, registry), _evaluate(bundle, when, new, registry)
            if a != b:
                diff.generated.append(AdviceChange(f"generated #{i}", a, b, patient.case_patient()))
    return diff


def diff_packs(old: Pack, new: Pack, registry: Registry, *, generated: int = DEFAULT_PATIENTS) -> PackDiff:
    """Content and behaviour differences between two packs (usually two versions of one pack)."""
    return behaviour_diff(content_diff(old, new), old, new, registry, generated=generated)


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_diff(diff: PackDiff) -> str:
    """The diff as text: content changes, then each patient with different advice, old and new side by side."""
    lines = [f"--- {diff.old}", f"+++ {diff.new}", ""]
    if diff.meta:
        lines.append("pack.yaml:")
        lines += [f"  ~ {c.path}: {_short(c.old)} -> {_short(c.new)}" for c in diff.meta]
    for label, added, removed, changed in (
            ("rules", diff.rules_added, diff.rules_removed, diff.rules_changed),
            ("derived facts", diff.derived_added, diff.derived_removed, diff.derived_changed)):
        if not (added or removed or changed):
            continue
        lines.append(f"{label}:")
        lines += [f"  + {x}" for x in added]
        lines += [f"  - {x}" for x in removed]
        for ch in changed:
            lines.append(f"  ~ {ch.id}")
            lines += [f"      {c.path}: {_short(c.old)} -> {_short(c.new)}" for c in ch.fields]
    if not diff.content_changed:
        lines.append("content: no change")
    lines.append("")
    changes = [*diff.cases, *diff.generated]
    lines.append(f"behaviour: {len(diff.cases)} of {diff.cases_compared} example cases and {len(diff.generated)} of "
                 f"{diff.patients_compared} generated patients get different advice")
    if changes:
        width = max([20, *(len(a) for ch in changes for a in ch.old)])  # also when no old side has advice
        for ch in changes:
            lines += ["", f"  {ch.source}"]
            if ch.patient is not None:
                facts = ", ".join(_fact_text(f) for f in ch.patient.get("facts", []))
                lines.append(f"    age {ch.patient.get('age_years')}, {ch.patient.get('sex')}; {facts or 'no facts'}")
            lines.append(f"    {'OLD ' + diff.old:<{width}} | NEW {diff.new}")
            rows = max(len(ch.old), len(ch.new), 1)
            for r in range(rows):
                a = ch.old[r] if r < len(ch.old) else ("(no advice)" if r == 0 else "")
                b = ch.new[r] if r < len(ch.new) else ("(no advice)" if r == 0 else "")
                mark = " " if a in ch.new and b in ch.old else "*"
                lines.append(f"  {mark} {a:<{width}} | {b}")
    return "\n".join(lines).rstrip() + "\n"


def _fact_text(f: dict[str, Any]) -> str:
    what = f"{f['concept']} {f['value']:g}{' ' + f['unit'] if f.get('unit') else ''}" if "concept" in f \
        else f"has {f['has']}"
    return f"{what} ({f.get('days_ago', 0):g} d ago)"
