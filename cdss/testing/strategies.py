"""Testing kit: hypothesis strategies for patients and FHIR bundles, with realistic ranges and units.

Every number comes from the data: ranges from the concepts' `plausible` field, units from their canonical
unit (and, as variants, mass units for concepts with a molar mass and their `alt_units`), thresholds and
windows from the tests a pack actually makes (its compiled leaves). Nothing clinical is written here.

    from cdss.testing.strategies import bundles, patients, rule_witnesses

    @given(patients(registry.concepts, pack=pack))          # values concentrated around the pack's thresholds
    def test_something(patient): ...

    patients(registry.concepts)                              # any concept, whole plausible range
    bundles(registry.concepts, now=now, pack=pack)           # the same, as FHIR R4 collection bundles
    rule_witnesses(registry.concepts, pack, rule)            # patients built to make one rule fire

A generated patient is a `GenPatient`: age, sex and compact facts (`CaseFact`), turned into a bundle by
`bundle_from_facts`, so that every check goes through the real intake. Hypothesis shrinks it towards
fewer facts and simpler values, which makes counterexamples short enough to paste into a case file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

from cdss.engine.compile import compile_pack, leaves_of
from cdss.engine.plan import FROM_PATIENT
from cdss.engine.tables import decided_value
from cdss.packs.registry import Pack, PackRule
from cdss.packs.schema import AllOf, AnyOf, Condition, Derived, Leaf, NotOf
from cdss.packs.scope import Population, load_safety_settings
from cdss.packs.tables import TableFact
from cdss.testing.factories import CaseFact, bundle_from_facts
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.dictionary import Concept
from cdss.vocab.units import UnknownUnit, conversion

SEXES = ("male", "female")
# Fallback range when a quantity concept declares no `plausible` range: around its thresholds.
_SPAN_WITHOUT_PLAUSIBLE = 0.5
# Mass unit offered as a variant for concepts that carry a molar mass (conventional US unit).
MASS_UNIT_VARIANTS = ("mg/dL",)
# Widest age range generated when the pack does not test age.
AGE_RANGE = (0, 100)
COMPLEMENT = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class GenPatient:
    """A generated patient: what `bundle_from_facts` needs, kept compact so that it prints as a case."""

    age_years: float | None  # a fraction is completed months (`cdss.testing.factories.birth_date`)
    sex: str | None
    facts: tuple[CaseFact, ...] = ()

    def bundle(self, concepts: ConceptSet, now: dt.datetime, patient_id: str = "generated") -> dict[str, Any]:
        """The patient as a FHIR R4 collection Bundle."""
        return bundle_from_facts(self.facts, concepts=concepts, now=now, age_years=self.age_years, sex=self.sex,
                                 patient_id=patient_id)

    def case_patient(self) -> dict[str, Any]:
        """The `patient:` block of an example case (see cdss.testing.cases)."""
        out: dict[str, Any] = {}
        if self.age_years is not None:
            out["age_years"] = self.age_years
        if self.sex is not None:
            out["sex"] = self.sex
        out["facts"] = [{k: int(v) if isinstance(v, float) and v.is_integer() else v
                         for k, v in f.model_dump(exclude_none=True).items()} for f in self.facts]
        return out

    def with_facts(self, facts: Iterable[CaseFact]) -> GenPatient:
        return replace(self, facts=tuple(facts))


def _sort_facts(facts: Iterable[CaseFact]) -> tuple[CaseFact, ...]:
    return tuple(sorted(facts, key=lambda f: (f.concept or f.has or "", -f.days_ago, f.value or 0.0)))


# --- what a pack tests --------------------------------------------------------------------------

@dataclass
class PackFocus:
    """The concepts, thresholds and time windows one pack tests (read from its compiled leaves)."""

    quantities: dict[str, set[float]] = field(default_factory=dict)  # concept -> thresholds
    coded: set[str] = field(default_factory=set)  # `has` concepts
    windows: set[int] = field(default_factory=set)  # within_days and days_since thresholds
    on_days: int = 0  # most distinct days a test asks for
    ages: set[float] = field(default_factory=set)
    months: set[float] = field(default_factory=set)  # thresholds of age in months (infants)
    sexes: set[str] = field(default_factory=set)


def pack_focus(pack: Pack) -> PackFocus:
    """What a pack tests: the thresholds of each quantity, the coded concepts, the time windows."""
    focus = PackFocus()
    derived = {d.id for d in pack.derived}
    for cl in compile_pack(pack).leaves:
        leaf = cl.leaf
        if leaf.within_days is not None:
            focus.windows.add(leaf.within_days)
        if leaf.on_days:
            focus.on_days = max(focus.on_days, leaf.on_days)
        if leaf.has is not None:
            focus.coded.add(leaf.has)
            continue
        if leaf.concept in derived or leaf.concept is None:
            continue
        values = [v for v in (leaf.value if isinstance(leaf.value, tuple) else (leaf.value,))]
        if leaf.concept == "age_years":
            focus.ages.update(float(v) for v in values if isinstance(v, int | float))
        elif leaf.concept == "age_months":
            focus.months.update(float(v) for v in values if isinstance(v, int | float))
        elif leaf.concept == "sex":
            focus.sexes.update(str(v) for v in values)
        elif leaf.stat == "days_since":
            focus.quantities.setdefault(leaf.concept, set())
            focus.windows.update(int(v) for v in values if isinstance(v, int | float))
        elif leaf.stat == "count":
            focus.quantities.setdefault(leaf.concept, set())
        else:
            focus.quantities.setdefault(leaf.concept, set()).update(
                float(v) for v in values if isinstance(v, int | float))
    return focus


def step_for(value: float) -> float:
    """A small but meaningful distance from a threshold: 1 unit for large numbers, 0.1 for small ones."""
    return 1.0 if abs(value) >= 20 else 0.1


def value_range(concept: Concept, thresholds: Iterable[float] = ()) -> tuple[float, float]:
    """The range values are drawn from: the concept's `plausible` range, else around its thresholds."""
    if concept.plausible is not None:
        return float(concept.plausible[0]), float(concept.plausible[1])
    ts = sorted(thresholds) or [1.0]
    lo, hi = ts[0], ts[-1]
    return max(0.0, lo - abs(lo) * _SPAN_WITHOUT_PLAUSIBLE), hi + abs(hi) * _SPAN_WITHOUT_PLAUSIBLE + 1


def near_thresholds(thresholds: Iterable[float], lo: float, hi: float) -> list[float]:
    """Values just below, at and just above each threshold, inside [lo, hi]."""
    out = set()
    for t in thresholds:
        s = step_for(t)
        for v in (t - s, t, t + s):
            if lo <= v <= hi:
                out.add(round(v, 3))
    return sorted(out)


def quantity_values(concept: Concept, thresholds: Iterable[float] = ()) -> st.SearchStrategy[float]:
    """Values of a quantity in its canonical unit: anywhere in range, often right at a threshold."""
    thresholds = list(thresholds)
    lo, hi = value_range(concept, thresholds)
    anywhere = st.floats(min_value=lo, max_value=hi, allow_nan=False).map(lambda v: round(v, 1))
    near = near_thresholds(thresholds, lo, hi)
    return st.one_of(st.sampled_from(near), anywhere) if near else anywhere


def unit_variants(concept: Concept) -> list[str]:
    """Units besides the canonical one that the intake converts for this concept."""
    units = [alt.unit for alt in concept.alt_units]
    if concept.molar_mass_g_per_mol:
        units.extend(MASS_UNIT_VARIANTS)
    out = []
    for unit in units:
        if unit == concept.unit or unit in out:
            continue
        try:
            conversion(unit, concept)
        except UnknownUnit:
            continue
        out.append(unit)
    return out


def in_unit(value: float, unit: str, concept: Concept) -> float:
    """A canonical value expressed in `unit` (the inverse of the intake's conversion)."""
    lin = conversion(unit, concept)
    return (value - lin.offset) / lin.scale


def _days(focus: PackFocus) -> list[float]:
    days = {0.0}
    for w in focus.windows:
        days.update(float(d) for d in (max(0, w - 1), w + 1))
    days.update(float(d) for d in range(max(focus.on_days + 1, 2)))
    return sorted(days)


@st.composite
def _readings(draw: st.DrawFn, concept: Concept, thresholds: set[float], days: Sequence[float],
              variants: bool) -> list[CaseFact]:
    n = draw(st.integers(min_value=0, max_value=min(3, len(days))))  # never more distinct days than there are
    chosen_days = draw(st.lists(st.sampled_from(days), min_size=n, max_size=n, unique=True)) if n else []
    facts = []
    for day in chosen_days:
        value = draw(quantity_values(concept, thresholds))
        unit = None
        if variants and (options := unit_variants(concept)) and draw(st.booleans()):
            unit = draw(st.sampled_from(options))
            value = in_unit(value, unit, concept)
        facts.append(CaseFact(concept=concept.id, value=value, unit=unit, days_ago=day))
    return facts


@st.composite
def _ages(draw: st.DrawFn, focus: PackFocus) -> float:
    near: list[float] = [int(v) for v in near_thresholds(focus.ages, *AGE_RANGE) if float(v).is_integer()]
    near += [int(math.ceil(a)) - 1 for a in focus.ages if AGE_RANGE[0] < a <= AGE_RANGE[1]]
    near += [in_years(int(m)) for m in near_thresholds(focus.months, 0, 12 * AGE_RANGE[1]) if float(m).is_integer()]
    near += [in_years(int(math.ceil(m)) - 1) for m in focus.months if 0 < m <= 12 * AGE_RANGE[1]]  # just under
    anywhere = st.integers(*AGE_RANGE)
    return draw(st.one_of(st.sampled_from(sorted(set(near))), anywhere) if near else anywhere)


def in_years(months: int) -> float:
    """An age of `months` completed months as the fractional years a GenPatient holds (half a month over the
    whole months, so that no rounding of the fraction loses one)."""
    return (months + 0.5) / 12


def patients(concepts: ConceptSet, *, pack: Pack | None = None, unit_variants: bool = False,
             coded_concepts: Sequence[str] | None = None) -> st.SearchStrategy[GenPatient]:
    """Patients with facts about the concepts a pack tests (or every concept when no pack is given).

    Args:
        concepts: the concept dictionary (ranges, units, kinds).
        pack: concentrate on this pack: its quantities near its thresholds, its coded concepts, its windows.
        unit_variants: sometimes send a value in another unit the intake converts (mg/dL, mmol/mol ...).
        coded_concepts: restrict the coded concepts (default: the pack's, or all coded concepts).
    """
    if pack is not None:
        focus = pack_focus(pack)
    else:
        focus = PackFocus(quantities={c.id: set() for c in concepts.source.concepts if c.kind == "quantity"},
                          coded={c.id for c in concepts.source.concepts
                                 if c.kind not in ("quantity", "demographic")}, windows={1, 90, 365}, on_days=3)
    quantities = [(concepts.by_id[c], focus.quantities[c]) for c in sorted(focus.quantities) if c in concepts.by_id]
    coded = sorted(coded_concepts if coded_concepts is not None else focus.coded)
    days = _days(focus)
    sexes = sorted(set(SEXES) | focus.sexes)

    @st.composite
    def build(draw: st.DrawFn) -> GenPatient:
        age = draw(_ages(focus))
        sex = draw(st.sampled_from(sexes))
        facts: list[CaseFact] = []
        for concept, thresholds in quantities:
            facts.extend(draw(_readings(concept, thresholds, days, unit_variants)))
        for cid in coded:
            if draw(st.booleans()):
                facts.append(CaseFact(has=cid, days_ago=draw(st.sampled_from(days))))
        return GenPatient(age, sex, _sort_facts(facts))

    return build()


def bundles(concepts: ConceptSet, *, now: dt.datetime, pack: Pack | None = None,
            unit_variants: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """FHIR R4 collection bundles of generated patients (see `patients`), values sometimes in other units."""
    return patients(concepts, pack=pack, unit_variants=unit_variants).map(lambda p: p.bundle(concepts, now))


# --- witnesses: patients built to make one rule fire -------------------------------------------------

@dataclass
class _Need:
    """What a witness needs so far: value bounds per quantity, presences, absences, age and sex."""

    lo: dict[str, tuple[float, bool]] = field(default_factory=dict)  # concept -> (bound, strict)
    hi: dict[str, tuple[float, bool]] = field(default_factory=dict)
    equal: dict[str, Any] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)  # distinct days of readings needed
    older_than: dict[str, int] = field(default_factory=dict)  # latest reading must be older than this
    count: dict[str, int] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)


def _bound(need: _Need, concept: str, op: str, value: float) -> None:
    if op in (">", ">="):
        old = need.lo.get(concept)
        if old is None or value > old[0]:
            need.lo[concept] = (value, op == ">")
    elif op in ("<", "<="):
        old = need.hi.get(concept)
        if old is None or value < old[0]:
            need.hi[concept] = (value, op == "<")
    elif op == "==":
        need.equal[concept] = value


def _solve_leaf(draw: st.DrawFn, leaf: Leaf, want: bool, need: _Need, derived: dict[str, Derived]) -> None:
    if leaf.has is not None:
        (need.present if want else need.absent).add(leaf.has)
        return
    concept = leaf.concept or ""
    op = leaf.op or "=="
    value = leaf.value
    if op == "in":
        options = list(value) if isinstance(value, tuple) else [value]
        if want and concept in derived:
            _solve_derived(draw, derived[concept], "==", float(draw(st.sampled_from(options))), need, derived)
        elif want:
            need.equal[concept] = draw(st.sampled_from(options))
        return
    if not want:
        op = COMPLEMENT[op]
    if op == "!=":
        return  # any other value will do
    if concept in derived:
        _solve_derived(draw, derived[concept], op, float(value), need, derived)  # type: ignore[arg-type]
        return
    if isinstance(value, str):
        if op == "==":
            need.equal[concept] = value
        return
    if leaf.stat == "days_since":
        if op in (">", ">="):
            need.older_than[concept] = max(need.older_than.get(concept, 0), int(value) + (op == ">"))  # type: ignore[arg-type]
        need.days.setdefault(concept, 1)
        return
    if leaf.stat == "count":
        if op in (">", ">=", "=="):
            need.count[concept] = max(need.count.get(concept, 0), int(value) + (op == ">"))  # type: ignore[arg-type]
        need.days.setdefault(concept, 1)
        return
    _bound(need, concept, op, float(value))  # type: ignore[arg-type]
    need.days[concept] = max(need.days.get(concept, 1), leaf.on_days or 1, leaf.last_n or 1)


def _solve_derived(draw: st.DrawFn, d: Derived, op: str, value: float, need: _Need,
                   derived: dict[str, Derived]) -> None:
    """Choose which parts of a score or grade are true so that `score op value` holds."""
    # A value part (points_from) is "on" at the value giving its most points, "off" at the one giving least.
    on_off = [(p.points, 0.0) if p.points_from is None else
              (max(p.points_from.points(v) for v in p.points_from.range),
               min(p.points_from.points(v) for v in p.points_from.range)) for p in d.parts]
    points = [on for on, _ in on_off]

    def total(chosen: Sequence[bool]) -> float:
        if isinstance(d, TableFact):  # a decision table: its hit policy; rows of a `unique` table never overlap
            value = decided_value(d.table, chosen)
            too_many = d.table.hit_policy == "unique" and sum(chosen) > 1
            return math.nan if value is None or too_many else value  # nan: meets no test
        got = [on if c else off for (on, off), c in zip(on_off, chosen, strict=True) if c or off]
        return sum(got) if d.combine == "sum" else max(got, default=0.0)

    check = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__,
             "==": float.__eq__}[op]
    if any(p.points_from is not None for p in d.parts) and _solve_values(draw, d, check, value, need, derived):
        return
    if len(points) <= 10:
        options = [c for c in itertools.product((True, False), repeat=len(points)) if check(float(total(c)), value)]
    else:  # too many parts to enumerate: take parts in order until the score is met
        chosen = [False] * len(points)
        for i in range(len(points)):
            if check(float(total(chosen)), value):
                break
            chosen[i] = True
        options = [tuple(chosen)]
    if not options:
        return
    chosen = draw(st.sampled_from(options))
    for part, on in zip(d.parts, chosen, strict=True):
        pf = part.points_from
        if pf is None:
            _solve(draw, part.when, on, need, derived)
            continue
        best = max(pf.range, key=pf.points) if on else min(pf.range, key=pf.points)
        for op_ in (">=", "<="):
            _solve_leaf(draw, Leaf(concept=pf.concept, op=op_, value=best), True, need, derived)


def _solve_values(draw: st.DrawFn, d: Derived, check, value: float, need: _Need,  # noqa: ANN001
                  derived: dict[str, Derived]) -> bool:
    """A score with value parts (points_from): search whole values in each part's range until it holds."""
    rnd = draw(st.randoms(use_true_random=False))
    for _ in range(300):
        chosen: list[tuple[object, float | bool]] = []
        total_points: list[float] = []
        for part in d.parts:
            pf = part.points_from
            if pf is None:
                on = rnd.random() < 0.5
                chosen.append((part, on))
                if on:
                    total_points.append(part.points or 0.0)
            else:
                v = float(rnd.randint(int(pf.range[0]), int(pf.range[1]))) if float(pf.range[0]).is_integer() \
                    else rnd.uniform(*pf.range)
                chosen.append((part, v))
                total_points.append(pf.points(v))
        total = sum(total_points) if d.combine == "sum" else max(total_points, default=0.0)
        if check(float(total), value):
            for part, pick in chosen:
                pf = part.points_from
                if pf is None:
                    _solve(draw, part.when, bool(pick), need, derived)
                else:
                    for op_ in (">=", "<="):
                        _solve_leaf(draw, Leaf(concept=pf.concept, op=op_, value=pick), True, need, derived)
            return True
    return False


_CHECKS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__, "==": float.__eq__}


def _solve_joint(draw: st.DrawFn, items: Sequence[Condition], want: bool, need: _Need,
                 derived: dict[str, Derived]) -> list[Condition]:
    """Solve together the tests that bound one score with value parts (`9 <= score < 11`); return the rest."""
    groups: dict[str, list[tuple]] = {}
    rest: list[Condition] = []
    for item in items:
        if isinstance(item, Leaf) and item.concept in derived and item.op in _CHECKS and \
                not isinstance(item.value, str | tuple) and \
                any(p.points_from is not None for p in derived[item.concept].parts):
            op = item.op if want else COMPLEMENT[item.op]
            if op in _CHECKS:
                groups.setdefault(item.concept, []).append((item, _CHECKS[op], float(item.value)))  # type: ignore[arg-type]
                continue
        rest.append(item)
    for cid, tests in groups.items():
        if len(tests) == 1:
            rest.append(tests[0][0])
            continue

        def joint(total: float, _unused: float, tests: list[tuple] = tests) -> bool:
            return all(check(total, v) for _, check, v in tests)

        if not _solve_values(draw, derived[cid], joint, 0.0, need, derived):
            rest.extend(t[0] for t in tests)
    return rest


def _solve(draw: st.DrawFn, cond: Condition, want: bool, need: _Need, derived: dict[str, Derived]) -> None:
    if isinstance(cond, NotOf):
        _solve(draw, cond.not_, not want, need, derived)
    elif isinstance(cond, AllOf | AnyOf):
        items = cond.all if isinstance(cond, AllOf) else cond.any
        every = isinstance(cond, AllOf) == want  # all-true, or any-false: every item gets `want`
        if every:
            for item in _solve_joint(draw, items, want, need, derived):
                _solve(draw, item, want, need, derived)
        else:
            _solve(draw, items[draw(st.integers(0, len(items) - 1))], want, need, derived)
    else:
        _solve_leaf(draw, cond, want, need, derived)


def _pick(draw: st.DrawFn, concept: Concept | None, need: _Need, cid: str) -> float:
    thresholds = [bound[0] for bound in (need.lo.get(cid), need.hi.get(cid)) if bound is not None]
    lo, hi = value_range(concept, thresholds) if concept else (0.0, 100.0)
    if cid in need.lo:
        b, strict = need.lo[cid]
        lo = max(lo, b + step_for(b) if strict else b)
    if cid in need.hi:
        b, strict = need.hi[cid]
        hi = min(hi, b - step_for(b) if strict else b)
    if lo > hi:
        return lo  # contradictory needs: the witness will not fire, and reachability says so
    edges = sorted({round(lo, 3), round(hi, 3)})
    return draw(st.one_of(st.sampled_from(edges), st.floats(lo, hi).map(lambda v: min(hi, max(lo, round(v, 1))))))


def rule_witnesses(concepts: ConceptSet, pack: Pack, rule: PackRule, *,
                   noise: bool = True) -> st.SearchStrategy[GenPatient]:
    """Patients built to make `rule` fire: each test of its condition is met by a fact (choosing a branch
    of each `any`), plus, with `noise`, unrelated facts from `patients(pack=pack)`.

    A rule whose tests contradict each other yields patients it does not fire for: that is what the
    reachability check reports.
    """
    derived = {d.id: d for d in pack.derived}
    base = patients(concepts, pack=pack) if noise else st.just(GenPatient(None, None))

    @st.composite
    def build(draw: st.DrawFn) -> GenPatient:
        need = _Need()
        _solve(draw, rule.rule.when, True, need, derived)
        start = draw(base)
        touched = set(need.days) | set(need.equal) | set(need.lo) | set(need.hi) | need.present | need.absent
        facts = [f for f in start.facts if (f.concept or f.has) not in touched]
        age, sex = start.age_years, start.sex
        for cid in sorted(need.present - need.absent):
            facts.append(CaseFact(has=cid, days_ago=0))
        quantities = sorted((set(need.days) | set(need.lo) | set(need.hi) | set(need.equal)) - FROM_PATIENT)
        for cid in quantities:
            concept = concepts.by_id.get(cid)
            if concept is None:
                continue
            value = need.equal[cid] if cid in need.equal else _pick(draw, concept, need, cid)
            n = max(need.days.get(cid, 1), need.count.get(cid, 0))
            first = need.older_than.get(cid, 0)
            facts.extend(CaseFact(concept=cid, value=float(value), days_ago=first + i) for i in range(n))
        if "age_months" in need.equal:
            age = in_years(int(need.equal["age_months"]))
        elif "age_months" in need.lo or "age_months" in need.hi:
            age = in_years(int(math.ceil(_pick(draw, None, _age_need(need, "age_months"), "age_months"))))
        elif "age_years" in need.equal:
            age = int(need.equal["age_years"])
        elif "age_years" in need.lo or "age_years" in need.hi:
            age = int(math.ceil(_pick(draw, None, _age_need(need), "age_years")))
        elif age is None:
            age = draw(_ages(pack_focus(pack)))
        if "sex" in need.equal:
            sex = str(need.equal["sex"])
        elif sex is None:
            sex = draw(st.sampled_from(SEXES))
        age, sex, facts = _in_population(draw, rule.rule.population or pack.meta.population, age, sex, facts)
        return GenPatient(age, sex, _sort_facts(facts))

    return build()


def _in_population(draw: st.DrawFn, pop: Population | None, age: float | None, sex: str | None,
                   facts: list[CaseFact]) -> tuple[float | None, str | None, list[CaseFact]]:
    """Move a witness into the rule's population scope (age band, sex, pregnancy, lactation)."""
    if pop is None:
        return age, sex, facts
    band = pop.age_years
    if band is not None and (age is None or (band.min is not None and age < band.min)
                             or (band.max is not None and age >= band.max)):
        lo = int(math.ceil(band.min)) if band.min is not None else AGE_RANGE[0]
        hi = int(math.ceil(band.max)) - 1 if band.max is not None else AGE_RANGE[1]
        age = draw(st.integers(lo, max(lo, hi)))
    if pop.sex is not None and sex not in pop.sex:
        sex = draw(st.sampled_from(sorted(pop.sex)))
    for concept, mode in (("pregnancy", pop.pregnant), ("lactation", pop.lactating)):
        if mode == "exclude":
            facts = [f for f in facts if f.has != concept]
        elif mode == "only" and not any(f.has == concept for f in facts):
            facts = [*facts, CaseFact(has=concept, days_ago=0)]
            sex = "female"
    if pop.pregnant == "only":  # a record that ends the pregnancy (postpartum) would put her outside again
        ended_by = set(load_safety_settings().pregnancy_ended_by)
        facts = [f for f in facts if f.has not in ended_by]
    return age, sex, facts


def _age_need(need: _Need, cid: str = "age_years") -> _Need:
    """Age bounds in whole years or months (ages are completed years or months)."""
    out = _Need()
    most = AGE_RANGE[1] * (12 if cid == "age_months" else 1)
    if cid in need.lo:
        b, strict = need.lo[cid]
        out.lo[cid] = (math.floor(b) + 1 if strict else math.ceil(b), False)
    else:
        out.lo[cid] = (AGE_RANGE[0], False)
    if cid in need.hi:
        b, strict = need.hi[cid]
        out.hi[cid] = (math.ceil(b) - 1 if strict else math.floor(b), False)
    else:
        out.hi[cid] = (most, False)
    return out


def leaf_concepts(cond: Condition) -> set[str]:
    """Concepts a condition tests (quantities and coded)."""
    return {leaf.subject for leaf in leaves_of(cond)}
