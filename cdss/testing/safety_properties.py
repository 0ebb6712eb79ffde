"""Testing kit: generic safety properties of every pack (issue 10), run by `cdss pack test` (group `safety`).

* population age: a rule never fires for a patient younger than its scope's `age_years.min` (a child
  never gets advice scoped to adults) nor at or above its `max`;
* population pregnancy: a rule scoped `pregnant: exclude` never fires for a pregnant patient (nor
  `lactating: exclude` during lactation);
* cross-pack contradiction: a rule that fires and `advises` a drug never does so for a patient whom that
  drug would give a new urgent or emergency medication alert of *another* pack (a `medication` rule whose
  rationale names the drug and some state of the patient - pregnancy, kidney function, a disease, an
  allergy - not only another drug; a pack's own alerts are its author's to reconcile in the advice text),
  checked for each patient as is, pregnant and lactating: E1, captopril in pregnancy;
* deceased: a deceased patient gets no advice and no data gap, only the note;
* supersedes: every `supersedes` target exists in the loaded packs, and a superseding rule never shows
  next to the advice it supersedes;
* same-time readings: two readings of one concept at the same time give the same advice whatever their
  resource ids and their order in the bundle.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from cdss.engine.evaluate import evaluate_facts
from cdss.engine.results import Evaluation
from cdss.errors import CdssError
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import Pack, PackRule, load_pack, pack_folders
from cdss.packs.safety_checks import split_target
from cdss.packs.scope import Population, load_safety_settings
from cdss.testing.checker import PropertyResult, advice_of, any_patient, run_property
from cdss.testing.factories import CaseFact
from cdss.testing.strategies import AGE_RANGE, GenPatient, rule_witnesses

ALERT_URGENCIES = ("emergency", "urgent")


def _population(pack: Pack, prule: PackRule) -> Population | None:
    return prule.rule.population or pack.meta.population


def _others(checker: Any) -> list[Pack]:
    """The packs that run alongside this one: the registry's default selection, or, when the registry holds
    no pack (`cdss pack test pathways/PACK`), the active packs beside it in its folder; this pack itself
    stands in for its other versions."""
    packs = list(checker.registry.select())
    if not packs and checker.pack.path is not None:
        packs = list(_siblings(checker.pack.path.parent.resolve(), checker.registry))
    return [p for p in packs if p.id != checker.pack.id] + [checker.pack]


_SIBLINGS: dict[Path, tuple[Pack, ...]] = {}


def _siblings(folder: Path, registry: Any) -> tuple[Pack, ...]:
    if folder not in _SIBLINGS:
        found = []
        for sub in pack_folders(folder):
            try:
                pack = load_pack(sub, registry.concepts, registry.catalogue)
            except CdssError:
                continue  # an invalid sibling is reported when it is tested itself
            if pack.status == "active":
                found.append(pack)
        _SIBLINGS[folder] = tuple(found)
    return _SIBLINGS[folder]


def _evaluate(checker: Any, bundle: dict[str, Any], packs: Sequence[Pack]) -> Evaluation:
    facts = read_bundle(bundle, checker.registry.concepts, source_name="generated patient")
    return evaluate_facts(facts, now=checker.now, registry=checker.registry, packs=packs)


def _result(checker: Any, name: str, rule: str | None, found: Any, examples: int, ok: str = "holds",
            other: Any = None) -> Any:

    if found:
        patient, message = found
        patient = patient[0] if isinstance(patient, tuple) else patient
        return PropertyResult(checker.pack.key, name, rule, "failed", message, examples,
                              checker.counterexample(patient))
    return PropertyResult(checker.pack.key, name, rule, "passed", ok, examples)


def _age_scope(checker: Any, examples: int) -> list[Any]:

    out = []
    for prule in checker.pack.rules:
        pop = _population(checker.pack, prule)
        band = pop.age_years if pop else None
        if band is None:
            continue
        ages: list[st.SearchStrategy[int]] = []
        if band.min is not None and band.min > AGE_RANGE[0]:
            ages.append(st.integers(AGE_RANGE[0], int(-(-band.min // 1)) - 1))
        if band.max is not None and band.max <= AGE_RANGE[1]:
            ages.append(st.integers(int(-(-band.max // 1)), AGE_RANGE[1]))
        if not ages:
            continue
        strategy = st.tuples(rule_witnesses(checker.registry.concepts, checker.pack, prule), st.one_of(*ages)).map(
            lambda pa: replace(pa[0], age_years=pa[1]))

        def check(patient: GenPatient, prule: PackRule = prule, pop: Population = pop) -> str | None:
            if prule.full_id in checker.fired(patient):
                return f"the rule fires at age {patient.age_years}, outside its population ({pop.describe()})"
            return None

        out.append(_result(checker, "population age", prule.full_id, run_property(strategy, check, examples), examples))
    return out


def _with_state(facts: tuple[CaseFact, ...], concept: str) -> tuple[CaseFact, ...]:
    """The facts with `concept` (pregnancy, lactation) recorded 30 days ago; for pregnancy without the records
    that would end it (`pregnancy_ended_by`, e.g. a postpartum record dated after it), so that she is pregnant."""
    ended_by = load_safety_settings().pregnancy_ended_by if concept == "pregnancy" else ()
    kept = tuple(f for f in facts if f.has not in ended_by or f.days_ago > 30)
    return (*kept, CaseFact(has=concept, days_ago=30))


def _pregnancy_scope(checker: Any, examples: int) -> list[Any]:

    out = []
    for prule in checker.pack.rules:
        pop = _population(checker.pack, prule)
        if pop is None:
            continue
        for concept, mode in (("pregnancy", pop.pregnant), ("lactation", pop.lactating)):
            if mode != "exclude":
                continue

            def add(patient: GenPatient, concept: str = concept) -> GenPatient:
                return replace(patient, sex="female", facts=_with_state(patient.facts, concept))

            def check(patient: GenPatient, prule: PackRule = prule, add: Any = add,
                      concept: str = concept) -> str | None:
                if prule.full_id in checker.fired(add(patient)):
                    return f"the rule fires with {concept} recorded, although its population excludes it"
                return None

            found = run_property(rule_witnesses(checker.registry.concepts, checker.pack, prule), check, examples)
            if found:
                found = (add(found[0]), found[1])
            out.append(_result(checker, f"population {concept}", prule.full_id, found, examples))
    return out


def _contradictions(checker: Any, examples: int) -> list[Any]:
    """A rule never advises a drug that gives the same patient a new urgent/emergency medication alert."""

    out = []
    packs = _others(checker)
    concepts = checker.registry.concepts
    for prule in checker.pack.rules:
        drugs = prule.rule.then.advises
        if not drugs:
            continue

        def variant(args: tuple[GenPatient, str | None]) -> GenPatient:
            patient, state = args
            if state is None:
                return patient
            age = patient.age_years if patient.age_years is not None and 18 <= patient.age_years < 45 else 30
            return replace(patient, sex="female", age_years=age, facts=_with_state(patient.facts, state))

        def one(patient: GenPatient, prule: PackRule, drugs: tuple) -> str | None:
            before = _evaluate(checker, checker.bundle(patient), packs)
            if prule.full_id not in {s.rule_id for s in before.suggestions}:
                return None
            alerts = {s.rule_id for s in before.suggestions if s.kind == "medication"}
            own = checker.pack.id
            for drug in drugs:
                taking = patient.with_facts((*patient.facts, CaseFact(has=drug, days_ago=0)))
                after = _evaluate(checker, checker.bundle(taking), packs)
                for s in after.suggestions:
                    if s.kind == "medication" and s.urgency in ALERT_URGENCIES and s.rule_id not in alerts \
                            and s.pack_id != own and any(f.concept == drug for f in s.facts()) \
                            and _about_the_patient(s, drug, concepts):
                        return (f"the rule advises {drug!r}, but for this patient {drug!r} raises "
                                f"{s.urgency} alert {s.rule_id}")
            return None

        failing: list[GenPatient] = []

        def check(patient: GenPatient, prule: PackRule = prule, drugs: tuple = drugs,
                  failing: list = failing) -> str | None:
            for state in (None, "pregnancy", "lactation"):  # every patient also as pregnant and as lactating
                message = one(variant((patient, state)), prule, drugs)
                if message is not None:
                    failing.append(variant((patient, state)))
                    return message
            return None

        found = run_property(rule_witnesses(checker.registry.concepts, checker.pack, prule), check, examples)
        if found:
            found = (failing[-1], found[1])
        out.append(_result(checker, "no contradicted drug advice", prule.full_id, found, examples,
                           ok="never advises a drug another rule contraindicates for the patient"))
    return out


def _about_the_patient(alert: Any, drug: str, concepts: Any) -> bool:
    """The alert rests on the patient's state (pregnancy, kidney function, a disease, an allergy), not only
    on another drug already taken: a drug-drug interaction is for the prescriber to settle when ordering, and
    the interaction alert itself shows then."""
    for f in alert.facts():
        c = concepts.by_id.get(f.concept)
        if f.concept != drug and (c is None or c.kind != "medication"):
            return True
    return False


def _deceased(checker: Any, examples: int) -> Any:

    def dead(bundle: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(bundle)
        for entry in out["entry"]:
            if entry["resource"].get("resourceType") == "Patient":
                entry["resource"]["deceasedBoolean"] = True
        return out

    def check(patient: GenPatient) -> str | None:
        ev = _evaluate(checker, dead(checker.bundle(patient)), [checker.pack])
        if ev.suggestions or ev.data_gaps:
            return f"a deceased patient got {len(ev.suggestions)} suggestion(s) and {len(ev.data_gaps)} data gap(s)"
        return None

    found = run_property(any_patient(checker), check, examples)
    return _result(checker, "deceased gets no advice", None, found, examples)


def _supersedes(checker: Any, examples: int) -> list[Any]:

    out = []
    packs = _others(checker)
    known = {r.full_id for p in packs for r in p.rules}
    loaded = {p.id for p in packs}
    for prule in checker.pack.rules:
        if not prule.rule.supersedes:
            continue
        targets = ["/".join(t) for t in (split_target(x, checker.pack.id) for x in prule.rule.supersedes) if t]
        missing = [t for t in targets if t not in known]
        if missing:
            absent = all(t.split("/")[0] not in loaded for t in missing)
            out.append(PropertyResult(checker.pack.key, "supersedes target exists", prule.full_id,
                                      "warning" if absent else "failed",
                                      f"{'pack not loaded' if absent else 'no such rule'}: {', '.join(missing)}", 0))
            continue

        def check(patient: GenPatient, prule: PackRule = prule, targets: list = targets) -> str | None:
            ev = _evaluate(checker, checker.bundle(patient), packs)
            shown = {s.rule_id for s in ev.suggestions}
            if prule.full_id in shown and shown & set(targets):
                return f"{prule.full_id} is shown together with {sorted(shown & set(targets))}, which it supersedes"
            return None

        found = run_property(rule_witnesses(checker.registry.concepts, checker.pack, prule), check, examples)
        out.append(_result(checker, "supersedes", prule.full_id, found, examples))
    return out


def _swap_ids(bundle: dict[str, Any]) -> dict[str, Any]:
    """The same resources, their ids (and fullUrls) handed out in reverse order, entries reversed."""
    out = copy.deepcopy(bundle)
    entries = [e for e in out["entry"] if e["resource"].get("resourceType") != "Patient"]
    ids = [e["resource"].get("id") for e in entries]
    urls = [e.get("fullUrl") for e in entries]
    for e, rid, url in zip(entries, reversed(ids), reversed(urls), strict=True):
        e["resource"]["id"] = rid
        e["fullUrl"] = url
    out["entry"] = list(reversed(out["entry"]))
    return out


def _same_time(checker: Any, examples: int) -> Any:

    def twin(args: tuple[GenPatient, float]) -> GenPatient:
        patient, delta = args
        extra = [f.model_copy(update={"value": round(f.value + delta, 1)}) for f in patient.facts
                 if f.concept is not None and f.value is not None and f.unit is None]
        return patient.with_facts((*patient.facts, *extra))

    def check(args: tuple[GenPatient, float]) -> str | None:
        bundle = checker.bundle(twin(args))
        first = _evaluate(checker, bundle, [checker.pack])
        other = _evaluate(checker, _swap_ids(bundle), [checker.pack])
        if advice_of(first) != advice_of(other):
            return "swapping the ids and order of same-time readings changed the advice"
        return None

    strategy = st.tuples(any_patient(checker), st.sampled_from([-15.0, -1.0, 1.0, 15.0]))
    found = run_property(strategy, check, examples)
    if found:
        found = (twin(found[0]), found[1])
    return _result(checker, "same-time readings: ids and order change nothing", None, found, examples)


def safety_properties(checker: Any, examples: int) -> list[Any]:
    """Every safety property of the checker's pack, in report order."""
    return [*_age_scope(checker, examples), *_pregnancy_scope(checker, examples),
            *_contradictions(checker, max(5, examples // 2)), _deceased(checker, examples),
            *_supersedes(checker, max(5, examples // 2)), _same_time(checker, examples)]
