"""Testing kit: property checks of a pack, declared per rule in YAML and generic for every pack.

Declared on a rule (`properties:` in rules/*.yaml, see `PropertySpec`):

* ``monotone_increasing: sbp``: if the rule fires, raising every sbp reading keeps it firing;
* ``monotone_decreasing: egfr``: if the rule fires, lowering every egfr reading keeps it firing;
* ``never_below_age: 18``: the rule never fires for a patient younger than 18;
* ``requires_within_days: [sbp, 90]``: the rule never fires without a sbp reading (or presence) that recent.

Generic, for every pack:

* determinism: the same bundle gives the same JSON, byte for byte, and reversing the bundle's entries
  gives the same advice;
* exclusions: a rule and one it `excludes` never both fire;
* reachability: each rule fires for at least one generated patient (a warning unless `strict`);
* urgency: adding an abnormal finding (a symptom or finding the pack tests) never lowers the most
  urgent advice;
* safety (``cdss.testing.safety_properties``): population scopes hold (age, pregnancy, lactation), no
  advised drug is contraindicated for the patient by another rule, a deceased patient gets no advice,
  `supersedes` holds across packs, same-time readings give the same advice whatever their ids and order.

Patients come from `cdss.testing.strategies` (witnesses of each rule plus unrelated facts); hypothesis
shrinks a failure to a minimal patient, printed as a FHIR bundle, a case `patient:` block and the trace.
Runs are derandomised and use no example database, so the same pack gives the same report.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import replace

from hypothesis import strategies as st
from ruamel.yaml import YAML

from cdss.engine.evaluate import evaluate_facts
from cdss.engine.results import Evaluation
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import Pack, PackRule, Registry
from cdss.packs.schema import URGENCY_ORDER, PropertySpec
from cdss.testing.checker import (
    Checker,
    Counterexample,
    PropertyResult,
    advice_of,
    any_patient,
    evaluation_time,
    run_property,
)
from cdss.testing.factories import CaseFact
from cdss.testing.strategies import GenPatient, pack_focus, patients, rule_witnesses, step_for, value_range

DEFAULT_EXAMPLES = 25
ABNORMAL_KINDS = ("symptom", "finding")


def _max_urgency(ev: Evaluation) -> int:
    """Index in URGENCY_ORDER of the most urgent suggestion (len(URGENCY_ORDER) when there is none)."""
    return min((URGENCY_ORDER.index(s.urgency) for s in ev.suggestions), default=len(URGENCY_ORDER))


def _shift(patient: GenPatient, concept: str, delta: float, lo: float, hi: float) -> GenPatient:
    """Every reading of `concept` moved by `delta` (in the canonical unit), kept inside [lo, hi]."""
    if concept == "age_years":
        age = patient.age_years if patient.age_years is not None else 0
        return replace(patient, age_years=int(min(hi, max(lo, age + delta))))
    facts = []
    for f in patient.facts:
        if f.concept == concept and f.value is not None and f.unit is None:
            f = f.model_copy(update={"value": round(min(hi, max(lo, f.value + delta)), 3)})
        facts.append(f)
    return patient.with_facts(facts)


# --- declared properties ----------------------------------------------------------------------------

def _monotone(checker: Checker, prule: PackRule, concept: str, up: bool, examples: int) -> PropertyResult:
    name = "monotone_increasing" if up else "monotone_decreasing"
    key = checker.pack.key
    c = checker.registry.concepts.by_id.get(concept)
    if concept == "age_years":
        lo, hi = 0.0, 120.0
    elif c is None or c.kind != "quantity":
        return PropertyResult(key, f"{name} {concept}", prule.full_id, "failed",
                              f"{concept!r} is not a quantity concept; a monotone property needs one", 0)
    else:
        lo, hi = value_range(c, pack_focus(checker.pack).quantities.get(concept, ()))
    span = hi - lo
    thresholds = sorted(pack_focus(checker.pack).quantities.get(concept, set()) | pack_focus(checker.pack).ages
                        if concept == "age_years" else pack_focus(checker.pack).quantities.get(concept, set()))
    deltas = st.one_of(st.sampled_from([1.0, 5.0, 10.0, 20.0, 50.0]), st.floats(0, span).map(lambda v: round(v, 1)))
    exercised = [0]

    def shifts(patient: GenPatient, delta: float) -> list[float]:
        """The drawn shift, plus shifts that carry the readings across each threshold of the pack and to the
        end of the range: a wrong comparison is found even with few examples."""
        values = [float(patient.age_years or 0)] if concept == "age_years" else \
            [f.value for f in patient.facts if f.concept == concept and f.value is not None and f.unit is None]
        out = [delta]
        if values:
            v = max(values) if up else min(values)
            for t in thresholds:
                step = 1.0 if concept == "age_years" else step_for(t)
                targets = (t, t + step) if up else (t, t - step)
                out += [abs(x - v) for x in targets if (x > v if up else x < v)]
            out.append(abs((hi if up else lo) - v))
        return sorted({round(d, 6) for d in out if d >= 0})

    def check(args: tuple[GenPatient, float]) -> str | None:
        patient, delta = args
        if prule.full_id not in checker.fired(patient):
            return None
        exercised[0] += 1
        for d in shifts(patient, delta):
            moved = _shift(patient, concept, d if up else -d, lo, hi)
            if prule.full_id not in checker.fired(moved):
                verb = "raising" if up else "lowering"
                failing_delta[0] = d
                return f"{verb} {concept} by {d:g} stops the rule firing"
        return None

    failing_delta = [0.0]
    witnesses = rule_witnesses(checker.registry.concepts, checker.pack, prule)
    found = run_property(st.tuples(witnesses, deltas), check, examples)
    if found:
        (patient, _delta), message = found
        d = failing_delta[0]  # set by the last (shrunk) failing run
        moved = _shift(patient, concept, d if up else -d, lo, hi)
        return PropertyResult(key, f"{name} {concept}", prule.full_id, "failed", message, examples,
                              checker.counterexample(patient, moved))
    if not exercised[0]:
        return PropertyResult(key, f"{name} {concept}", prule.full_id, "warning",
                              "the rule fired for no generated patient, so the property was not exercised", examples)
    return PropertyResult(key, f"{name} {concept}", prule.full_id, "passed", "holds", examples)


def _never_below_age(checker: Checker, prule: PackRule, age: float, examples: int) -> PropertyResult:
    key, name = checker.pack.key, f"never_below_age {age:g}"
    if age <= 0:
        return PropertyResult(key, name, prule.full_id, "passed", "no age is below it", 0)
    ages = st.integers(0, max(0, int(-(-age // 1)) - 1))
    strategy = st.tuples(rule_witnesses(checker.registry.concepts, checker.pack, prule), ages).map(
        lambda pa: replace(pa[0], age_years=pa[1]))

    def check(patient: GenPatient) -> str | None:
        if prule.full_id in checker.fired(patient):
            return f"the rule fires at age {patient.age_years}"
        return None

    found = run_property(strategy, check, examples)
    if found:
        patient, message = found
        return PropertyResult(key, name, prule.full_id, "failed", message, examples, checker.counterexample(patient))
    return PropertyResult(key, name, prule.full_id, "passed", "holds", examples)


def _requires_within(checker: Checker, prule: PackRule, concept: str, days: int, examples: int) -> PropertyResult:
    key, name = checker.pack.key, f"requires_within_days {concept} {days}"

    def age_out(patient: GenPatient) -> GenPatient:
        facts = [f.model_copy(update={"days_ago": max(f.days_ago, days + 1)}) if (f.concept or f.has) == concept
                 else f for f in patient.facts]
        return patient.with_facts(facts)

    def check(patient: GenPatient) -> str | None:
        if prule.full_id in checker.fired(age_out(patient)):
            return f"the rule fires with no {concept} in the last {days} days"
        return None

    found = run_property(rule_witnesses(checker.registry.concepts, checker.pack, prule), check, examples)
    if found:
        patient, message = found
        return PropertyResult(key, name, prule.full_id, "failed", message, examples,
                              checker.counterexample(age_out(patient)))
    return PropertyResult(key, name, prule.full_id, "passed", "holds", examples)


def declared_properties(checker: Checker, examples: int) -> list[PropertyResult]:
    out = []
    for prule in checker.pack.rules:
        for spec in prule.rule.properties:
            out.extend(_declared(checker, prule, spec, examples))
    return out


def _declared(checker: Checker, prule: PackRule, spec: PropertySpec, examples: int) -> list[PropertyResult]:
    out = []
    if spec.monotone_increasing:
        out.append(_monotone(checker, prule, spec.monotone_increasing, True, examples))
    if spec.monotone_decreasing:
        out.append(_monotone(checker, prule, spec.monotone_decreasing, False, examples))
    if spec.never_below_age is not None:
        out.append(_never_below_age(checker, prule, spec.never_below_age, examples))
    if spec.requires_within_days is not None:
        concept, days = spec.requires_within_days
        out.append(_requires_within(checker, prule, concept, int(days), examples))
    return out


# --- generic properties -------------------------------------------------------------------------------

def _determinism(checker: Checker, examples: int) -> PropertyResult:
    key = checker.pack.key
    concepts = checker.registry.concepts

    def check(patient: GenPatient) -> str | None:
        bundle = checker.bundle(patient)
        first = evaluate_facts(read_bundle(bundle, concepts), now=checker.now, registry=checker.registry,
                               packs=[checker.pack])
        again = evaluate_facts(read_bundle(bundle, concepts), now=checker.now, registry=checker.registry,
                               packs=[checker.pack])
        if json.dumps(first.model_dump(mode="json"), sort_keys=True) != \
                json.dumps(again.model_dump(mode="json"), sort_keys=True):
            return "the same bundle gave different output on a second evaluation"
        reordered = {**bundle, "entry": list(reversed(bundle["entry"]))}
        other = evaluate_facts(read_bundle(reordered, concepts), now=checker.now, registry=checker.registry,
                               packs=[checker.pack])
        if advice_of(first) != advice_of(other):
            return "reversing the order of the bundle's entries changed the advice"
        return None

    found = run_property(any_patient(checker), check, examples)
    if found:
        patient, message = found
        return PropertyResult(key, "determinism", None, "failed", message, examples, checker.counterexample(patient))
    return PropertyResult(key, "determinism", None, "passed", "holds", examples)


def _exclusions(checker: Checker, examples: int) -> list[PropertyResult]:
    out = []
    by_slug = {r.rule.id: r for r in checker.pack.rules}
    pairs = sorted({tuple(sorted((r.rule.id, other))) for r in checker.pack.rules for other in r.rule.excludes
                    if other in by_slug})
    for a, b in pairs:
        ra, rb = by_slug[a], by_slug[b]

        def check(patient: GenPatient, ra: PackRule = ra, rb: PackRule = rb) -> str | None:
            fired = checker.fired(patient)
            if ra.full_id in fired and rb.full_id in fired:
                return f"{ra.full_id} and {rb.full_id} both fire, but one excludes the other"
            return None

        found = run_property(any_patient(checker, [ra, rb]), check, examples)
        name = f"excludes {rb.full_id}"
        if found:
            patient, message = found
            out.append(PropertyResult(checker.pack.key, name, ra.full_id, "failed", message, examples,
                                      checker.counterexample(patient)))
        else:
            out.append(PropertyResult(checker.pack.key, name, ra.full_id, "passed", "never both fire", examples))
    return out


def _reachability(checker: Checker, examples: int, strict: bool) -> list[PropertyResult]:
    out = []
    for prule in checker.pack.rules:
        def fires(patient: GenPatient, prule: PackRule = prule) -> str | None:
            return "fires" if prule.full_id in checker.fired(patient) else None

        witnesses = rule_witnesses(checker.registry.concepts, checker.pack, prule)
        found = run_property(witnesses, fires, examples, shrink=False)
        if found is None:
            found = run_property(patients(checker.registry.concepts, pack=checker.pack), fires, examples, shrink=False)
        if found is not None:
            out.append(PropertyResult(checker.pack.key, "reachable", prule.full_id, "passed",
                                      "fires for a generated patient", examples))
        else:
            out.append(PropertyResult(
                checker.pack.key, "reachable", prule.full_id, "failed" if strict else "warning",
                "the rule fired for no generated patient: check its condition for tests that contradict each other "
                "(or add an example case that makes it fire)", examples))
    return out


def _urgency_with_finding(checker: Checker, examples: int) -> PropertyResult:
    key, name = checker.pack.key, "urgency never drops when an abnormal finding is added"
    concepts = checker.registry.concepts
    findings = sorted(c for c in pack_focus(checker.pack).coded
                      if c in concepts.by_id and concepts.by_id[c].kind in ABNORMAL_KINDS)
    if not findings:
        return PropertyResult(key, name, None, "passed", "the pack tests no symptom or finding", 0)

    def add(patient: GenPatient, finding: str) -> GenPatient:
        if any(f.has == finding and f.days_ago == 0 for f in patient.facts):
            return patient
        return patient.with_facts((*patient.facts, CaseFact(has=finding, days_ago=0)))

    def check(args: tuple[GenPatient, str]) -> str | None:
        patient, finding = args
        before, after = _max_urgency(checker.evaluate(patient)), _max_urgency(checker.evaluate(add(patient, finding)))
        if after > before:
            label = URGENCY_ORDER[before]
            now = URGENCY_ORDER[after] if after < len(URGENCY_ORDER) else "no advice"
            return f"adding {finding!r} today lowers the most urgent advice from {label} to {now}"
        return None

    found = run_property(st.tuples(any_patient(checker), st.sampled_from(findings)), check, examples)
    if found:
        (patient, finding), message = found
        return PropertyResult(key, name, None, "failed", message, examples,
                              checker.counterexample(patient, add(patient, finding)))
    return PropertyResult(key, name, None, "passed", "holds", examples)


# Property groups in report order: name -> check(checker, examples, strict_reachability).
GROUPS: dict[str, Callable[[Checker, int, bool], list[PropertyResult]]] = {
    "declared": lambda c, n, _s: declared_properties(c, n),
    "determinism": lambda c, n, _s: [_determinism(c, n)],
    "exclusions": lambda c, n, _s: _exclusions(c, n),
    "urgency": lambda c, n, _s: [_urgency_with_finding(c, n)],
    "reachability": lambda c, n, s: _reachability(c, max(5, n // 2), s),
    "safety": lambda c, n, _s: _safety(c, n),
}


def _safety(checker: Checker, examples: int) -> list[PropertyResult]:
    """Issue 10's generic safety properties (cdss.testing.safety_properties)."""
    from cdss.testing.safety_properties import safety_properties

    return safety_properties(checker, examples)


def check_pack_properties(pack: Pack, registry: Registry, *, examples: int = DEFAULT_EXAMPLES,
                          strict_reachability: bool = False, now: dt.datetime | None = None,
                          groups: Sequence[str] = tuple(GROUPS)) -> list[PropertyResult]:
    """Run the declared and the generic properties of a pack.

    Args:
        pack: the pack, loaded with `load_pack`.
        registry: gives the concepts and the catalogue (the pack need not be in it).
        examples: generated patients per property (bounded, so the check stays fast).
        strict_reachability: an unreachable rule is a failure instead of a warning.
        now: evaluation time of the generated patients (default: `evaluation_time(pack)`).
        groups: which property groups to run (names of `GROUPS`), in report order.

    Returns:
        One result per property (and per rule for per-rule properties), in a stable order.
    """
    checker = Checker(pack, registry, now or evaluation_time(pack))
    results: list[PropertyResult] = []
    for name in GROUPS:
        if name in groups:
            results.extend(GROUPS[name](checker, examples, strict_reachability))
    return results


def format_counterexample(ce: Counterexample, indent: str = "      ") -> str:
    """A counterexample as text: the case `patient:` block, the minimal FHIR bundle and the trace(s)."""
    yaml = YAML()
    yaml.default_flow_style = None
    buf = io.StringIO()
    yaml.dump({"now": ce.now.isoformat(), "patient": ce.patient.case_patient()}, buf)
    lines = ["as an example case (paste under `cases:` and add expect/forbid):"]
    lines += ["  " + line for line in buf.getvalue().rstrip().splitlines()]
    lines.append("minimal FHIR bundle:")
    lines += ["  " + line for line in json.dumps(ce.bundle, ensure_ascii=False, indent=2).splitlines()]
    lines.append("trace:")
    lines += ["  " + line for line in ce.trace.rstrip().splitlines()]
    if ce.other_trace is not None:
        lines.append("trace after the change:")
        lines += ["  " + line for line in ce.other_trace.rstrip().splitlines()]
    return "\n".join(indent + line for line in lines)
