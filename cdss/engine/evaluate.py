"""Engine: packs + patient facts -> suggestions with a trace. `evaluated_at` is passed in, never read here.

One evaluation:
1. measures: each concept the pack's tests need is summarised once (latest, mean of last n, day means in
   a window, presence ...) into facts with the readings behind them (the only place derived facts are
   computed);
2. durable-rules matches the facts against every test of the pack (stage 0), in a fresh session;
3. derived facts (scores, grades) are summed from their parts and matched in later stages;
4. each rule's condition is combined with three-valued logic (true / false / unknown): true gives a
   Suggestion with its rationale, unknown gives DataGaps (what is missing, which rule needs it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from cdss.engine import durable
from cdss.engine.compile import CompiledLeaf, CompiledPack, Tree, compile_pack
from cdss.engine.durable import Ruleset
from cdss.engine.results import (
    Citation,
    ConditionTrace,
    DataGap,
    DiseaseRef,
    Evaluation,
    Evidence,
    PackStamp,
    Suggestion,
    content_id,
)
from cdss.errors import ConfigError
from cdss.intake.bundle import read_bundle
from cdss.intake.facts import PatientFacts, Presence, Reading
from cdss.packs.registry import Pack, Registry
from cdss.packs.schema import URGENCY_ORDER, Derived, Leaf

TRUE, FALSE, UNKNOWN = "true", "false", "unknown"


@dataclass
class Measure:
    """A concept summarised one way, as facts for the engine, with the evidence behind each fact."""

    facts: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[int, Evidence] = field(default_factory=dict)
    missing: str | None = None  # absent | stale | unknown-unit | implausible, when there is no fact
    complete: bool = True  # day measures: False when fewer days were measured than the test needs


@dataclass
class _PackRun:
    """One pack's progress through an evaluation: its tests' outcomes, derived facts and their traces."""

    cp: CompiledPack
    leaves: dict[int, LeafResult] = field(default_factory=dict)
    parts_trace: dict[str, tuple[ConditionTrace, ...]] = field(default_factory=dict)
    derived_facts: dict[str, Measure] = field(default_factory=dict)


@dataclass
class LeafResult:
    outcome: str
    facts: tuple[Evidence, ...] = ()
    missing: str | None = None


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


class _Evaluation:
    """The state of one evaluation of one patient (all packs)."""

    def __init__(self, facts: PatientFacts, now: dt.datetime, registry: Registry):
        self.facts = facts
        self.now = now
        self.registry = registry
        self.measures: dict[str, Measure] = {}
        self.next_id = 1

    # --- 1. measures ---------------------------------------------------------------------------
    def fact(self, m: Measure, key: str, value: Any, ev: Evidence, **extra: Any) -> None:
        fid = self.next_id
        self.next_id += 1
        m.facts.append({"id": fid, "k": key, "v": value, **extra})
        m.evidence[fid] = ev

    def missing_reason(self, concept: str) -> str:
        notes = [n.reason for n in self.facts.notes if n.concept == concept]
        return notes[-1] if notes else "absent"

    def measure(self, leaf: Leaf, key: str) -> Measure:
        if key in self.measures:
            return self.measures[key]
        m = Measure()
        self.measures[key] = m
        concept = leaf.has or leaf.concept or ""
        cutoff = self.now - dt.timedelta(days=leaf.within_days) if leaf.within_days is not None else None

        def in_window(t: dt.datetime | None) -> bool:
            if t is not None and t > self.now:
                return False  # recorded after the evaluation time: not yet known at `now`
            return cutoff is None or (t is not None and t >= cutoff)

        if leaf.has is not None:
            items: Sequence[Presence] = self.facts.present.get(concept, ())
            kept = [p for p in items if in_window(p.time)]
            if kept:
                self.fact(m, key, True, Evidence(concept, True, None, _iso(kept[-1].time),
                                                 tuple(dict.fromkeys(p.source for p in kept)), "present"))
            else:
                m.missing = "stale" if items else "absent"
            return m

        if concept == "age_years":
            age = self.facts.age_years(self.now)
            if age is None:
                m.missing = "absent"
            else:
                self.fact(m, key, age, Evidence(concept, age, "a", None, (self.facts.patient,), "latest"))
            return m
        if concept == "sex":
            if self.facts.sex is None:
                m.missing = "absent"
            else:
                self.fact(m, key, self.facts.sex, Evidence(concept, self.facts.sex, None, None,
                                                          (self.facts.patient,), "latest"))
            return m

        readings: Sequence[Reading] = self.facts.readings.get(concept, ())
        kept_r = [r for r in readings if in_window(r.time)]
        if not kept_r:
            m.missing = "stale" if any(r.time is None or r.time <= self.now for r in readings) else \
                self.missing_reason(concept)
            return m
        unit = kept_r[-1].unit
        if leaf.on_days is not None:
            return self.day_measure(leaf, key, kept_r, m)
        stat = leaf.stat
        if stat == "latest":
            r = kept_r[-1]
            self.fact(m, key, r.value, Evidence(concept, r.value, unit, _iso(r.time), (r.source,), "latest"))
        elif stat == "count":
            self.fact(m, key, len(kept_r), Evidence(concept, len(kept_r), None, _iso(kept_r[-1].time),
                                                     tuple(r.source for r in kept_r), "count"))
        elif stat == "days_since":
            last = kept_r[-1]
            if last.time is None:
                m.missing = "absent"
                return m
            days = (self.now - last.time).days
            self.fact(m, key, days, Evidence(concept, days, "d", _iso(last.time), (last.source,), "days_since"))
        else:
            used = kept_r[-leaf.last_n:] if leaf.last_n else kept_r
            numbers = [float(r.value) for r in used]
            value = round({"mean": fmean, "min": min, "max": max}[stat](numbers), 3)
            self.fact(m, key, value, Evidence(concept, value, unit, _iso(used[-1].time),
                                              tuple(r.source for r in used), stat,
                                              note=f"{len(used)} readings"))
        return m

    def day_measure(self, leaf: Leaf, key: str, readings: Sequence[Reading], m: Measure) -> Measure:
        """"On at least N distinct days the day-mean is >= T" holds exactly when the N-th highest day-mean
        is >= T: one fact, the N-th highest (or lowest, for < and <=) day-mean, stands for the whole test.
        With fewer than N days measured, the fact is the weakest day and the test can at best be unknown."""
        by_day: dict[dt.date, list[Reading]] = {}
        for r in readings:
            if r.day is not None:
                by_day.setdefault(r.day, []).append(r)
        if not by_day:
            m.missing = "absent"
            return m
        days = [(round(fmean(float(r.value) for r in rs), 3), day, rs) for day, rs in by_day.items()]
        high_first = leaf.op in (">", ">=")
        days.sort(key=lambda d: (-d[0] if high_first else d[0], d[1]))
        n = leaf.on_days or 1
        m.complete = len(days) >= n
        chosen = days[:n] if m.complete else days
        value = chosen[-1][0]
        by_date = sorted(chosen, key=lambda d: d[1])
        listed = ", ".join(f"{d[1].isoformat()}: {d[0]:g}" for d in by_date)
        ev = Evidence(leaf.concept or "", value, readings[-1].unit, by_date[-1][1].isoformat(),
                      tuple(r.source for d in by_date for r in d[2]), "day-mean",
                      note=f"day-means {listed}; {len(days)} day(s) measured")
        self.fact(m, key, value, ev)
        return m

    # --- 2./3. matching ---------------------------------------------------------------------------
    def leaf_result(self, cl: CompiledLeaf, fired: Mapping[str, set[int]], m: Measure) -> LeafResult:
        leaf = cl.leaf
        hits = sorted(fired.get(f"L{cl.index}", ()))
        evidence = tuple(m.evidence[i] for i in hits)
        if leaf.has is not None:
            if hits:
                return LeafResult(TRUE, evidence)
            concept = self.registry.concepts.by_id[leaf.has]
            if concept.absent_means_false:
                return LeafResult(FALSE)
            return LeafResult(UNKNOWN, missing=m.missing or "absent")
        if not m.facts:
            return LeafResult(UNKNOWN, missing=m.missing or "absent")
        if leaf.on_days is not None and not m.complete:
            # Every measured day meets the test but too few days were measured: more readings decide.
            return LeafResult(UNKNOWN, evidence, missing="too-few-days") if hits else \
                LeafResult(FALSE, tuple(m.evidence.values()))
        if cl.derived:
            fact = m.facts[0]
            exact = fact["v"] == fact["vmax"]
            possible = bool(fired.get(f"P{cl.index}"))
            if hits and (exact or leaf.op in (">", ">=", "<", "<=")):
                return LeafResult(TRUE, evidence)
            if not exact and (possible or leaf.op in ("==", "!=", "in")):
                return LeafResult(UNKNOWN, tuple(m.evidence.values()), missing="incomplete")
            return LeafResult(FALSE, tuple(m.evidence.values()))
        if hits:
            return LeafResult(TRUE, evidence)
        return LeafResult(FALSE, tuple(m.evidence.values()))

    # --- 4. combining ---------------------------------------------------------------------------
    @staticmethod
    def combine(tree: Tree, leaves: Mapping[int, LeafResult]) -> str:
        op = tree[0]
        if op == "leaf":
            return leaves[tree[1]].outcome
        if op == "not":
            inner = _Evaluation.combine(tree[1], leaves)
            return {TRUE: FALSE, FALSE: TRUE}.get(inner, UNKNOWN)
        outcomes = [_Evaluation.combine(t, leaves) for t in tree[1]]
        decisive, other = (FALSE, TRUE) if op == "all" else (TRUE, FALSE)
        if decisive in outcomes:
            return decisive
        return UNKNOWN if UNKNOWN in outcomes else other

    def trace(self, tree: Tree, cp: CompiledPack, leaves: Mapping[int, LeafResult],
              parts: Mapping[str, tuple[ConditionTrace, ...]], only_decisive: bool = True) -> ConditionTrace:
        outcome = self.combine(tree, leaves)
        op = tree[0]
        if op == "leaf":
            cl = cp.leaves[tree[1]]
            res = leaves[tree[1]]
            return ConditionTrace(describe(cl.leaf), res.outcome, res.facts,
                                  parts.get(cl.leaf.concept or "", ()) if cl.derived else ())
        if op == "not":
            return ConditionTrace("not", outcome, (), (self.trace(tree[1], cp, leaves, parts),))
        children = [self.trace(t, cp, leaves, parts) for t in tree[1]]
        if only_decisive and op == "any" and outcome == TRUE:
            children = [c for c in children if c.outcome == TRUE]
        return ConditionTrace(op, outcome, (), tuple(children))

    def unknown_leaves(self, tree: Tree, cp: CompiledPack, leaves: Mapping[int, LeafResult]) -> list[CompiledLeaf]:
        """The leaves whose missing data keep an unknown (sub)condition from being decided."""
        if self.combine(tree, leaves) != UNKNOWN:
            return []
        if tree[0] == "leaf":
            return [cp.leaves[tree[1]]]
        if tree[0] == "not":
            return self.unknown_leaves(tree[1], cp, leaves)
        return [cl for t in tree[1] for cl in self.unknown_leaves(t, cp, leaves)]

    # --- all packs, stage by stage ------------------------------------------------------------------
    def run_packs(self, packs: Sequence[Pack]) -> tuple[list[Suggestion], list[tuple[str, str, str, str]], list[str]]:
        """Match every pack's tests, one engine run per stage for all packs together, then decide the rules."""
        runs = [_PackRun(compile_pack(p)) for p in packs]
        for stage in sorted({s for run in runs for s in run.cp.stages}):
            work: list[tuple[Ruleset, list[dict]]] = []
            staged: list[tuple[_PackRun, list[CompiledLeaf], dict[str, Measure]]] = []
            for run in runs:
                cp = run.cp
                if stage not in cp.rulesets:
                    continue
                for d in cp.derived_order:
                    if cp.derived_stage[d.id] == stage and d.id not in run.derived_facts:
                        run.derived_facts[d.id] = self.derive(d, cp, run.leaves, run.parts_trace)
                stage_leaves = [cl for cl in cp.leaves if cl.stage == stage]
                measures = {cl.key: run.derived_facts[cl.leaf.concept] if cl.derived else self.measure(cl.leaf, cl.key)
                            for cl in stage_leaves}
                for ruleset in cp.rulesets[stage]:
                    keys = cp.keys_by_ruleset[ruleset.name]
                    work.append((ruleset, [f for k in sorted(keys) for f in measures[k].facts]))
                staged.append((run, stage_leaves, measures))
            fired: dict[str, dict[str, set[int]]] = {}
            for ruleset_name, rule_name, fid in durable.run(work):
                fired.setdefault(ruleset_name, {}).setdefault(rule_name, set()).add(fid)
            for run, stage_leaves, measures in staged:
                by_rule = {rule: ids for rs in run.cp.rulesets[stage] for rule, ids in fired.get(rs.name, {}).items()}
                for cl in stage_leaves:
                    run.leaves[cl.index] = self.leaf_result(cl, by_rule, measures[cl.key])
        suggestions: list[Suggestion] = []
        gaps: list[tuple[str, str, str, str]] = []
        notes: list[str] = []
        for run in runs:
            s, g, n = self.decide(run)
            suggestions.extend(s)
            gaps.extend(g)
            notes.extend(n)
        return suggestions, gaps, notes

    def decide(self, run: _PackRun) -> tuple[list[Suggestion], list[tuple[str, str, str, str]], list[str]]:
        """One pack's rules from its tests' outcomes: suggestions, data gaps, contradiction notes."""
        cp, pack, leaves = run.cp, run.cp.pack, run.leaves
        suggestions: list[Suggestion] = []
        gaps: list[tuple[str, str, str, str]] = []
        fired_slugs: dict[str, str] = {}
        for prule, tree in zip(pack.rules, cp.rule_trees, strict=True):
            outcome = self.combine(tree, leaves)
            if outcome == TRUE:
                suggestion = self.suggest(pack, prule, tree, cp, leaves, run.parts_trace)
                suggestions.append(suggestion)
                fired_slugs[prule.rule.id] = suggestion.id
            elif outcome == UNKNOWN and prule.rule.gaps == "report":
                for cl in self.unknown_leaves(tree, cp, leaves):
                    gaps.extend(self.gap_entries(cl, cp, leaves, prule.full_id, prule.urgency))
        notes = [f"{pack.key}: rules {a!r} and {b!r} both fired although {a!r} excludes {b!r}"
                 for prule in pack.rules if (a := prule.rule.id) in fired_slugs
                 for b in prule.rule.excludes if b in fired_slugs]
        return suggestions, gaps, notes

    def gap_entries(self, cl: CompiledLeaf, cp: CompiledPack, leaves: Mapping[int, LeafResult],
                    rule: str, urgency: str) -> list[tuple[str, str, str, str]]:
        if cl.derived:  # a score is unknown because some of its parts are
            d = next(d for d in cp.pack.derived if d.id == cl.leaf.concept)
            out = []
            for tree in cp.part_trees[d.id]:
                for sub in self.unknown_leaves(tree, cp, leaves):
                    out.extend(self.gap_entries(sub, cp, leaves, rule, urgency))
            return out
        return [(cl.leaf.subject, leaves[cl.index].missing or "absent", rule, urgency)]

    def derive(self, d: Derived, cp: CompiledPack, leaves: Mapping[int, LeafResult],
               parts_trace: dict[str, tuple[ConditionTrace, ...]]) -> Measure:
        true_points, unknown, traces = [], [], []  # unknown: (least, most) each unknown part may give
        for part, tree in zip(d.parts, cp.part_trees[d.id], strict=True):
            outcome = self.combine(tree, leaves)
            t = self.trace(tree, cp, leaves, parts_trace)
            if outcome == FALSE and part.points_from is not None:
                outcome = UNKNOWN  # a value outside the part's range is no answer
            points, bounds = _part_points(part, outcome, t)
            traces.append(ConditionTrace(f"{part.label.zh} / {part.label.en}: {points:g}", outcome, (), (t,)))
            if outcome == TRUE:
                true_points.append(points)
            elif outcome == UNKNOWN:
                unknown.append(bounds)
        if d.combine == "sum":
            lo = sum(true_points) + sum(b[0] for b in unknown)
            hi = sum(true_points) + sum(b[1] for b in unknown)
        else:
            lo = max(true_points, default=0.0)
            hi = max([lo, *(b[1] for b in unknown)])
        unknown_points = unknown
        parts_trace[d.id] = tuple(traces)
        m = Measure()
        if d.complete and unknown_points:
            m.missing = "incomplete"  # no fact: every test on it is unknown, and its unknown parts are the gaps
            return m
        note = None if lo == hi else f"{len(unknown_points)} part(s) unknown: between {lo:g} and {hi:g}"
        self.fact(m, f"{d.id}|latest|nNone|wNone", lo, Evidence(d.id, lo, None, None, (), d.combine, note), vmax=hi)
        return m

    def suggest(self, pack: Pack, prule, tree: Tree, cp: CompiledPack, leaves: Mapping[int, LeafResult],  # noqa: ANN001
                parts_trace: Mapping[str, tuple[ConditionTrace, ...]]) -> Suggestion:
        rule = prule.rule
        root = self.trace(tree, cp, leaves, parts_trace)
        rationale = root.parts if root.text in ("all", "any") else (root,)
        disease = None
        catalogue = self.registry.catalogue
        if rule.then.disease and catalogue is not None and (entry := catalogue.get(rule.then.disease)):
            disease = DiseaseRef(entry.id, entry.code_system, entry.code, entry.name.zh, entry.name.en)
        citations = tuple(
            Citation(c.source, (s := pack.source(c.source)).title, s.year, c.section, s.publisher, s.url, c.note)
            for c in rule.citation)
        evidence_key = sorted({(e.concept, str(e.value), e.source) for t in rationale for e in _walk_facts(t)})
        sid = content_id(pack.key, prule.full_id, self.facts.patient, evidence_key)
        return Suggestion(
            id=sid, kind=rule.then.kind, urgency=rule.then.urgency, disease=disease,
            title={"zh": rule.then.title.zh, "en": rule.then.title.en},
            detail={"zh": rule.then.detail.zh, "en": rule.then.detail.en},
            rule_id=prule.full_id, pack_id=pack.id, pack_version=pack.version, rationale=rationale,
            citations=citations, evidence=rule.evidence)


def _part_points(part, outcome: str, trace: ConditionTrace) -> tuple[float, tuple[float, float]]:  # noqa: ANN001
    """A part's points (its value when known, else its most) and the (least, most) it may give if unknown."""
    pf = part.points_from
    if pf is None:
        return part.points, (0.0, part.points)
    low, high = sorted((pf.points(pf.range[0]), pf.points(pf.range[1])))
    if outcome == TRUE:
        value = next(e.value for e in _walk_facts(trace) if isinstance(e.value, int | float))
        return pf.points(float(value)), (low, high)
    return high, (low, high)


def _walk_facts(trace: ConditionTrace):  # noqa: ANN202
    yield from trace.facts
    for p in trace.parts:
        yield from _walk_facts(p)


def describe(leaf: Leaf) -> str:
    """A leaf as a short formula a clinician can read: `sbp latest >= 180 (within 90 d)`."""
    if leaf.has is not None:
        text = f"has {leaf.has}"
    else:
        value = "[" + ", ".join(str(v) for v in leaf.value) + "]" if isinstance(leaf.value, tuple) else \
            f"{leaf.value:g}" if isinstance(leaf.value, float) else str(leaf.value)
        if leaf.on_days is not None:
            text = f"{leaf.concept} day-mean {leaf.op} {value} on >= {leaf.on_days} days"
        else:
            stat = leaf.stat + (f" of last {leaf.last_n}" if leaf.last_n else "")
            text = f"{leaf.concept} {stat} {leaf.op} {value}"
    if leaf.within_days is not None:
        text += f" (within {leaf.within_days} d)"
    return text


def evaluate_facts(facts: PatientFacts, *, now: dt.datetime, registry: Registry,
                   packs: Sequence[Pack]) -> Evaluation:
    """Evaluate already-read patient facts with the given packs."""
    if now.tzinfo is None:
        raise ConfigError.one("the evaluation time has no time zone", "naive-time", field="now", got=now.isoformat(),
                              hint="give an offset, e.g. 2026-11-22T09:00:00+08:00")
    state = _Evaluation(facts, now, registry)
    suggestions: list[Suggestion] = []
    gap_rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    s, g, n = state.run_packs(packs)
    suggestions.extend(s)
    gap_rows.extend(g)
    notes.extend(n)
    return Evaluation(
        patient=facts.patient, now=now, packs=tuple(PackStamp(p.id, p.version, p.sha256) for p in packs),
        suggestions=tuple(sorted(suggestions, key=Suggestion.sort_key)),
        data_gaps=_gaps(gap_rows, registry, packs, facts), notes=tuple(sorted(set(notes))))


def _gaps(rows: list[tuple[str, str, str, str]], registry: Registry, packs: Sequence[Pack],
          facts: PatientFacts) -> tuple[DataGap, ...]:
    grouped: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for concept, reason, rule, urgency in rows:
        rules, urgencies = grouped.setdefault((concept, reason), (set(), []))
        rules.add(rule)
        urgencies.append(urgency)
    titles = {d.id: d.title for p in packs for d in p.derived}
    out = []
    for (concept, reason), (rules, urgencies) in grouped.items():
        c = registry.concepts.by_id.get(concept)
        title = c.title if c else titles.get(concept)
        detail = "; ".join(n.detail for n in facts.notes if n.concept == concept and n.reason == reason) or None
        out.append(DataGap(concept=concept, title={"zh": title.zh, "en": title.en} if title else
                           {"zh": concept, "en": concept}, reason=reason, rules=tuple(sorted(rules)),
                           urgency=min(urgencies, key=URGENCY_ORDER.index), detail=detail))
    return tuple(sorted(out, key=lambda g: (URGENCY_ORDER.index(g.urgency), g.concept, g.reason)))


def evaluate(bundle: bytes | str | Mapping[str, Any], *, now: dt.datetime, registry: Registry,
             pins: Sequence[str] = (), source_name: str | None = None) -> Evaluation:
    """Evaluate a FHIR Bundle against the selected packs.

    Args:
        bundle: FHIR Bundle as JSON bytes/text or a parsed mapping.
        now: the evaluation time (aware); ages, windows and staleness count from it.
        registry: loaded concepts, catalogue and packs (see `load_registry`).
        pins: pack pins `id` or `id@version`; default: the newest active version of each pack.
        source_name: shown in error messages (e.g. the file name).

    Raises:
        IntakeError: the bundle is unusable (not JSON, not a Bundle, no Patient ...).
        EngineError: a pin names an unknown pack or version, or the engine failed.
        ConfigError: `now` has no time zone.
    """
    packs = registry.select(pins)
    facts = read_bundle(bundle, registry.concepts, source_name=source_name)
    return evaluate_facts(facts, now=now, registry=registry, packs=packs)
