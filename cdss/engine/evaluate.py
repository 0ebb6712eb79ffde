"""Engine: packs + patient facts -> suggestions with a trace. `evaluated_at` is passed in, never read here.

One evaluation:
1. measures: each concept the pack's tests need is summarised once (latest, mean of last n, day means in
   a window, presence ...) into facts with the readings behind them (the only place derived facts are
   computed);
2. a matcher (durable-rules by default, `cdss.engine.matcher`) matches the facts against every test of
   the pack (stage 0);
3. derived facts (scores, grades) are summed from their parts and matched in later stages;
4. each rule's condition is combined with three-valued logic (true / false / unknown): true gives a
   Suggestion with its rationale, unknown gives DataGaps (what is missing, which rule needs it).

Tests and rules on concepts absent from the record are not worked out: they take their outcome for a
patient without data, data gaps included (`cdss.engine.plan`; `index=False` walks them all, same result).
With the index, a test, derived fact or condition that several packs have is worked out once per evaluation
(`cdss.engine.shared`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import fsum
from statistics import fmean
from typing import Any

from cdss.engine import plan, population, shared, supersede, tables
from cdss.engine.compile import CompiledLeaf, CompiledPack, compile_pack, derived_key
from cdss.engine.compile import describe as describe  # the rationale's words for a leaf (used by render)
from cdss.engine.decide import Decided, GapRow, LeafResult, PartTraces, decide, trace, unknown_leaves
from cdss.engine.differential import RuleRun, build_differential, differential_group, rule_scores_without_data
from cdss.engine.durable import DurableMatcher
from cdss.engine.matcher import Fact, LeafTestId, Matcher, PlainMatcher, StageTests
from cdss.engine.memo import ByIdentity
from cdss.engine.results import (
    Candidate,
    Citation,
    ConditionTrace,
    DataGap,
    DiseaseRef,
    Evaluation,
    Evidence,
    PackStamp,
    Suggestion,
    content_id,
    trusted_trace,
    walk_facts,
)
from cdss.engine.truth import FALSE, TRUE, UNKNOWN, WORD, Truth
from cdss.errors import ConfigError
from cdss.intake.bundle import read_bundle
from cdss.intake.facts import AGE_CONCEPTS, PatientFacts, Presence, Reading, recorded_in_window
from cdss.packs.registry import Pack, PackRule, Registry
from cdss.packs.schema import URGENCY_ORDER, Derived, Leaf
from cdss.packs.scope import load_safety_settings
from cdss.packs.tables import TableFact
from cdss.vocab import labels
from cdss.vocab.model import Text


@dataclass
class Measure:
    """A concept summarised one way, as facts for the engine, with the evidence behind each fact."""

    facts: list[Fact] = field(default_factory=list)
    evidence: dict[int, Evidence] = field(default_factory=dict)
    missing: str | None = None  # absent | stale | unknown-unit | implausible | imprecise, when there is no fact
    complete: bool = True  # day measures: False when fewer days were measured than the test needs


class _PackRun:
    """One pack's progress through an evaluation: its tests' outcomes, derived facts and their traces (one per
    pack per evaluation)."""

    __slots__ = ("cp", "leaves", "parts_trace", "derived_facts", "index", "active", "borrowed")

    def __init__(self, cp: CompiledPack, leaves: dict[int, LeafResult] | None = None,
                 parts_trace: PartTraces | None = None, index: plan.PackIndex | None = None,
                 active: plan.Active | None = None):
        self.cp = cp
        self.leaves: dict[int, LeafResult] = {} if leaves is None else leaves
        self.parts_trace: PartTraces = PartTraces() if parts_trace is None else parts_trace
        self.derived_facts: dict[str, Measure] = {}
        self.index = index  # with the index (`cdss.engine.plan`): what this patient needs worked out
        self.active = active
        self.borrowed: set[str] = set()  # derived facts another pack summed (cdss.engine.shared)


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


class _Evaluation:
    """The state of one evaluation of one patient (all packs)."""

    def __init__(self, facts: PatientFacts, now: dt.datetime, registry: Registry, matcher: Matcher,
                 index: bool = True):
        self.facts = facts
        self.now = now
        self.registry = registry
        self.matcher = matcher
        self.measures: dict[str, Measure] = {}
        self.next_id = 1
        self.settings = load_safety_settings()
        self.runs: list[_PackRun] = []  # kept for the differential (cdss.engine.differential)
        self.seen = plan.touched(facts) if index else None  # None: every test and rule is worked out
        self.scopes: dict[int, tuple[Any, population.ScopeResult]] = {}
        self.scopes_by_content: dict[str, population.ScopeResult] = {}
        self.shared = shared.Shared() if index else None  # identical conditions worked out once (cdss.engine.shared)
        self.selection: plan.SelectionActive | None = None  # with the index: what the record activates in the packs
        self.selection_plan: plan.Selection | None = None  # with the index: the selection of packs itself

    def release(self) -> None:
        """Drop the unbuilt part traces: each holds its pack's traces (a cycle), which would leave this
        evaluation's leaves and decisions to the cyclic collector instead of freeing them at once."""
        for run in self.runs:
            run.parts_trace.clear()

    # --- 1. measures ---------------------------------------------------------------------------
    def fact(self, m: Measure, key: str, value: Any, ev: Evidence, upper: float | None = None) -> None:
        fid = self.next_id
        self.next_id += 1
        m.facts.append(Fact(fid, key, value, upper))
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

        if leaf.has is not None:
            items: Sequence[Presence] = self.facts.present.get(concept, ())
            kept = recorded_in_window(items, self.now, cutoff)
            if kept:
                self.fact(m, key, True, Evidence(concept, True, None, _iso(kept[-1].time),
                                                 tuple(dict.fromkeys(p.source for p in kept)), "present"))
            else:
                m.missing = "stale" if items else "absent"
            return m

        if concept in AGE_CONCEPTS:
            ages = self.facts.ages(AGE_CONCEPTS[concept], self.now)
            if ages is None:
                m.missing = "absent"
            else:  # youngest and oldest: a test both meet (or both fail) is decided, else unknown (imprecise)
                young, old = ages
                unit = self.registry.concepts.by_id[concept].unit
                note = None if young == old else (
                    f"出生日期不完整：{young}–{old} {labels.label('unit_display', unit or '', 'zh')} / partial birth "
                    f"date: {young} to {old} {labels.label('unit_display', unit or '', 'en')}")
                self.fact(m, key, young, Evidence(concept, young, unit, None, (self.facts.patient,), "latest",
                                                  note=note), upper=old)
            return m
        if concept == "sex":
            if self.facts.sex is None:
                m.missing = "absent"
            else:
                self.fact(m, key, self.facts.sex, Evidence(concept, self.facts.sex, None, None,
                                                          (self.facts.patient,), "latest"))
            return m

        if leaf.stat == "count" and self.registry.concepts.by_id[concept].kind not in ("quantity", "demographic"):
            return self.count_presences(concept, key, cutoff, m)
        readings: Sequence[Reading] = self.facts.readings.get(concept, ())
        kept_r = recorded_in_window(readings, self.now, cutoff)
        if not kept_r:
            m.missing = "stale" if any(r.time is None or r.time <= self.now for r in readings) else \
                self.missing_reason(concept)
            return m
        unit = kept_r[-1].unit
        if leaf.on_days is not None:
            return self.day_measure(leaf, key, kept_r, m)
        stat = leaf.stat
        if stat == "latest":
            same = _same_time(kept_r)
            r = same[-1]
            value = r.value if len(same) == 1 or not _numeric(same) else \
                round(fmean(float(x.value) for x in same), 3)
            note = f"mean of {len(same)} readings at the same time" if len(same) > 1 else None
            self.fact(m, key, value, Evidence(concept, value, unit, _iso(r.time),
                                              tuple(sorted(x.source for x in same)), "latest", note=note))
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
            used = _last_n(kept_r, leaf.last_n)
            numbers = [float(r.value) for r in used]
            value = round({"mean": fmean, "min": min, "max": max}[stat](numbers), 3)
            self.fact(m, key, value, Evidence(concept, value, unit, _iso(used[-1].time),
                                              tuple(r.source for r in used), stat,
                                              note=f"{len(used)} readings"))
        return m

    def count_presences(self, concept: str, key: str, cutoff: dt.datetime | None, m: Measure) -> Measure:
        """`count` of a coded concept (e.g. follow-up visits in a year): how many distinct resources record it
        in the window. Zero is a fact for a closed-world concept (no visit recorded = none), else absent."""
        items = self.facts.present.get(concept, ())
        window = recorded_in_window(items, self.now, cutoff)
        kept = list(dict.fromkeys(p.source for p in window))
        if not kept and not self.registry.concepts.by_id[concept].absent_means_false:
            m.missing = "stale" if items else "absent"
            return m
        last = max((p.time for p in window if p.time), default=None)  # (of equal instants, the first by source)
        self.fact(m, key, len(kept), Evidence(concept, len(kept), None, _iso(last), tuple(kept), "count"))
        return m

    def day_measure(self, leaf: Leaf, key: str, readings: Sequence[Reading], m: Measure) -> Measure:
        """"On at least N distinct days the day-mean is >= T" holds exactly when the N-th highest day-mean
        is >= T: one fact, the N-th highest (or lowest, for < and <=) day-mean, stands for the whole test.
        With fewer than N days measured, the fact is the weakest day and the test can at best be unknown."""
        by_day: dict[dt.date, list[Reading]] = {}
        for r in readings:
            if r.time is not None:  # (Reading.day, without a property call per reading)
                by_day.setdefault(r.time.date(), []).append(r)
        if not by_day:
            m.missing = "absent"
            return m
        # (statistics.fmean is fsum / len; without its generator and counting wrapper per day)
        days = [(round(fsum([float(r.value) for r in rs]) / len(rs), 3), day, rs) for day, rs in by_day.items()]
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
    def leaf_result(self, cl: CompiledLeaf, fired: Mapping[LeafTestId, set[int]], m: Measure) -> LeafResult:
        leaf = cl.leaf
        hits = sorted(fired.get(cl.test, ()))
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
        if cl.ranged:  # a fact between two bounds (a score with unknown parts, an age from a partial date)
            fact = m.facts[0]
            exact = fact.value == fact.upper
            possible = bool(fired.get(cl.possible_test))
            if hits and (exact or leaf.op in (">", ">=", "<", "<=")):
                return LeafResult(TRUE, evidence)
            if not exact and not cl.derived and leaf.op in ("==", "!=", "in"):
                outcome = _equality_over_ages(leaf, fact.value, fact.upper)  # (an age band: `== 5 years`)
                if outcome is not UNKNOWN:
                    return LeafResult(outcome, tuple(m.evidence.values()))
            if not exact and (possible or leaf.op in ("==", "!=", "in")):
                return LeafResult(UNKNOWN, tuple(m.evidence.values()),
                                  missing="incomplete" if cl.derived else "imprecise")
            return LeafResult(FALSE, tuple(m.evidence.values()))
        if hits:
            return LeafResult(TRUE, evidence)
        return LeafResult(FALSE, tuple(m.evidence.values()))

    # --- all packs, stage by stage ------------------------------------------------------------------
    def run_packs(self, packs: Sequence[Pack]) -> tuple[list[Suggestion], list[GapRow], list[str]]:
        """Match every pack's tests, one matcher run per stage for all packs together, then decide the rules."""
        if self.seen is None:
            runs = self.runs = [_PackRun(compile_pack(p)) for p in packs]
            stages: Sequence[tuple[int, plan.MergedStage | None]] = \
                [(stage, None) for stage in sorted({s for run in runs for s in run.cp.groups})]
        else:
            prepared = self.prepared(packs)
            # (kept per selection, as `prepared` is; not for a list of packs, which may change in place)
            selection = _selections.get_or_make(prepared, lambda: plan.Selection([ix for _, ix in prepared])) \
                if isinstance(packs, tuple) else plan.Selection([ix for _, ix in prepared])
            self.selection_plan = selection
            self.selection = selection.active(self.seen)
            runs = self.runs = [_PackRun(cp, dict(ix.baseline.leaves), PartTraces(ix.baseline.parts_trace), ix, act)
                                for (cp, ix), act in zip(prepared, self.selection.actives, strict=True)]
            stages = selection.stages
        for stage, merged in stages:
            work: list[tuple[StageTests, list[Fact]]] = []
            staged: list[tuple[_PackRun, Sequence[CompiledLeaf], dict[str, Measure]]] = []
            merged_keys: set[str] = set()
            merged_facts: list[Fact] = []
            claimed: set[str] = set()  # the leaf keys of this stage that a pack already works out
            twins: list[tuple[_PackRun, tuple[int, ...], tuple[str, ...]]] = []  # (pack, leaves, their keys): each
            # takes the outcome of the leaf with its key that an earlier pack works out
            for run in runs:
                cp = run.cp
                if stage not in cp.groups or (run.active is not None and run.active.busy is not None
                                              and stage not in run.active.busy):
                    continue  # (nothing of this pack is worked out at this stage: every test keeps its baseline)
                if run.active is not None and run.active.derived is not None:  # the active ones, in order
                    for d in run.active.derived.get(stage, ()):
                        run.derived_facts[d.id] = self.derive_once(d, cp, run)
                else:
                    for d in cp.derived_order:
                        if cp.derived_stage[d.id] == stage and d.id not in run.derived_facts and (
                                run.index is None or plan.derived_active(run.index, d.id, self.seen or ())):
                            run.derived_facts[d.id] = self.derive_once(d, cp, run)
                stage_leaves: Sequence[CompiledLeaf]
                if run.active is None:
                    stage_leaves = [cl for cl in cp.leaves if cl.stage == stage]
                else:
                    stage_leaves = run.active.stage_leaves(cp, stage)
                    if self.shared is not None:
                        stage_leaves = _own(run, stage, stage_leaves, claimed, twins)
                    if not stage_leaves:
                        continue  # every test of this stage keeps its baseline outcome
                measures = {cl.key: self.derived_measure(run, cl.leaf.concept or "") if cl.derived else
                            self.measure(cl.leaf, cl.key) for cl in stage_leaves}
                group = cp.groups[stage]
                facts = [f for k in sorted(group.keys) if k in measures for f in measures[k].facts] \
                    if merged is None or stage > 0 else []
                if merged is None:
                    work.append((group, facts))
                elif stage == 0:
                    merged_keys.update(measures)  # stage-0 measures are shared by all packs: each fact once
                else:
                    merged_facts.extend(merged.facts(group, facts))
                staged.append((run, stage_leaves, measures))
            if merged is not None:
                merged_facts.extend(f for k in sorted(merged_keys) for f in self.measures[k].facts)
                if merged_facts:
                    work.append((merged.group, merged_facts))
            fired: dict[str, dict[LeafTestId, set[int]]] = {}
            if merged is not None:  # a merged test's firing goes to each pack that has it and works it out
                wanted = {run.cp.groups[stage].name: {} for run, _, _ in staged}
                for firing in self.matcher.match(work):
                    for name, test in merged.owners[firing.test.leaf]:
                        if (by_name := wanted.get(name)) is not None:
                            by_name.setdefault(test, set()).add(firing.fact)
                fired = wanted
            else:
                for firing in self.matcher.match(work):
                    fired.setdefault(firing.group, {}).setdefault(firing.test, set()).add(firing.fact)
            for run, stage_leaves, measures in staged:
                by_test = fired.get(run.cp.groups[stage].name, {})
                for cl in stage_leaves:
                    result = run.leaves[cl.index] = self.leaf_result(cl, by_test, measures[cl.key])
                    if self.shared is not None:
                        self.shared.leaves[run.cp.leaf_keys[cl.index]] = result
            if self.shared is not None:
                resolved = self.shared.leaves
                for run, indexes, keys in twins:
                    run.leaves.update(zip(indexes, map(resolved.__getitem__, keys), strict=True))
        suggestions: list[Suggestion] = []
        gaps: list[GapRow] = []
        notes: list[str] = []
        for run in runs:
            if run.active is not None and not run.active.rules and not run.active.quiet_rules:
                continue  # no rule of this pack is worked out or gives a data gap: it gives nothing
            s, g, n = self.decide(run)
            suggestions.extend(s)
            gaps.extend(g)
            notes.extend(n)
        return suggestions, gaps, notes

    def decide(self, run: _PackRun) -> tuple[list[Suggestion], list[GapRow], list[str]]:
        """One pack's rules from its tests' outcomes: suggestions, data gaps, contradiction notes."""
        if self.shared is not None and run.index is not None and run.active is not None:
            return self.decide_shared(run, run.index, run.active, self.shared)
        cp, pack, leaves = run.cp, run.cp.pack, run.leaves
        suggestions: list[Suggestion] = []
        gaps: list[GapRow] = []
        fired_slugs: dict[str, str] = {}
        order = range(len(pack.rules)) if run.active is None else run.active.rules
        for r in order:
            prule, node = pack.rules[r], cp.rule_trees[r]
            scope = self.scope(prule.rule.population or pack.meta.population)
            if scope.outcome is FALSE:
                continue  # outside the rule's population: no advice and no data gap
            cond = None if self.shared is None else \
                self.shared.condition(cp.rule_keys[r], node, cp, leaves, run.parts_trace)
            decided = decide(node, leaves) if cond is None else cond.decided
            if decided.outcome is TRUE and scope.outcome is TRUE:
                root = trace(decided, cp, leaves, run.parts_trace) if cond is None else cond.trace()
                suggestion = self.suggest(pack, prule, root)
                if scope.cautions:
                    suggestion = suggestion.model_copy(update={"cautions": scope.cautions})
                suggestions.append(suggestion)
                fired_slugs[prule.rule.id] = suggestion.id
            elif decided.outcome is TRUE and scope.outcome is not TRUE:  # met, the age or sex missing: say so,
                gaps.extend(self.scope_gaps(scope, prule.full_id, prule.urgency))  # even with `gaps: silent`
            elif decided.outcome is not FALSE and prule.rule.gaps == "report":
                gaps.extend(self.scope_gaps(scope, prule.full_id, prule.urgency))
                if cond is None:
                    for index in unknown_leaves(decided):
                        gaps.extend(self.gap_entries(cp.leaves[index], cp, leaves, prule.full_id, prule.urgency))
                else:
                    gaps.extend(GapRow(c, reason, prule.full_id, prule.urgency)
                                for c, reason in self.condition_gaps(cond))
        if run.active is not None and run.index is not None:
            gaps.extend(self.quiet_gaps(run.index, run.active))
        notes = [f"{pack.key}: rules {a!r} and {b!r} both fired although {a!r} excludes {b!r}"
                 for prule in pack.rules if (a := prule.rule.id) in fired_slugs
                 for b in prule.rule.excludes if b in fired_slugs]
        return suggestions, gaps, notes

    def decide_shared(self, run: _PackRun, ix: plan.PackIndex, act: plan.Active,
                      memo: shared.Shared) -> tuple[list[Suggestion], list[GapRow], list[str]]:
        """`decide` with the index: the active rules, each condition decided once per evaluation for all the
        rules that have it (`cdss.engine.shared`); a rule whose condition is false gives nothing, in its
        population or not."""
        cp, pack, leaves = run.cp, run.cp.pack, run.leaves
        suggestions: list[Suggestion] = []
        gaps: list[GapRow] = []
        fired_slugs: dict[str, str] = {}
        rows, conditions = ix.rows, memo.conditions
        for r in act.rules:
            row = rows[r]
            cond = conditions.get(row.key) or memo.condition(row.key, cp.rule_trees[r], cp, leaves, run.parts_trace)
            outcome = cond.decided.outcome
            if outcome is FALSE:
                continue
            scope = self.scope(row.population)
            if scope.outcome is FALSE:
                continue  # outside the rule's population: no advice and no data gap
            if outcome is TRUE and scope.outcome is TRUE:
                prule = pack.rules[r]
                suggestion = self.suggest(pack, prule, cond.trace(), cond.rationale())
                if scope.cautions:
                    suggestion = suggestion.model_copy(update={"cautions": scope.cautions})
                suggestions.append(suggestion)
                fired_slugs[prule.rule.id] = suggestion.id
            elif outcome is TRUE and scope.outcome is not TRUE:  # met, the age or sex missing: say so, even with
                gaps.extend(self.scope_gaps(scope, row.full_id, row.urgency))  # `gaps: silent`
            elif row.report:
                gaps.extend(self.scope_gaps(scope, row.full_id, row.urgency))
                gaps.extend(GapRow(c, reason, row.full_id, row.urgency) for c, reason in self.condition_gaps(cond))
        gaps.extend(self.quiet_gaps(ix, act))
        notes = [f"{pack.key}: rules {a!r} and {b!r} both fired although {a!r} excludes {b!r}"
                 for a, excluded in ix.excludes if a in fired_slugs for b in excluded if b in fired_slugs] \
            if fired_slugs else []
        return suggestions, gaps, notes

    def condition_gaps(self, cond: shared.Condition) -> tuple[tuple[str, str], ...]:
        """The (concept, reason) data gaps of a shared unknown condition, from the pack that decided it."""
        def rows(decided: Decided) -> list[tuple[str, str]]:
            return [(g.concept, g.reason) for i in unknown_leaves(decided)
                    for g in self.gap_entries(cond.cp.leaves[i], cond.cp, cond.leaves, "", "")]
        assert self.shared is not None
        return self.shared.gaps(cond, rows)

    def derive_once(self, d: Derived, cp: CompiledPack, run: _PackRun) -> Measure:
        """A derived fact of a pack, summed once per evaluation per definition (`cdss.engine.shared`): a pack
        with the same definition takes its parts' traces and a copy of its fact under a new id."""
        if self.shared is None:
            return self.derive(d, cp, run.leaves, run.parts_trace)
        key = cp.derived_keys[d.id]
        found = self.shared.derived.get(key)
        if found is None:
            m = self.derive(d, cp, run.leaves, run.parts_trace)
            self.shared.derived[key] = (m, run.parts_trace.raw(d.id))
            return m
        m, parts = found
        if parts is not None:
            run.parts_trace[d.id] = parts
        run.borrowed.add(d.id)
        return m

    def derived_measure(self, run: _PackRun, did: str) -> Measure:
        """A derived fact of a pack as its tests are matched: one another pack summed is copied under new fact
        ids first (a matcher run needs each fact's id once)."""
        m = run.derived_facts[did]
        if did in run.borrowed:
            run.borrowed.discard(did)
            copy = run.derived_facts[did] = Measure(missing=m.missing, complete=m.complete)
            for f in m.facts:
                self.fact(copy, f.key, f.value, m.evidence[f.id], f.upper)
            return copy
        return m

    def quiet_gaps(self, ix: plan.PackIndex, act: plan.Active) -> list[GapRow]:
        """The data gaps of the rules not worked out whose baseline is unknown: the baseline's, once the
        patient is in the rule's population (as the full walk in `decide` gives them)."""
        gaps: list[GapRow] = []
        rows, baseline_rows = ix.rows, ix.gap_rows
        for r in act.quiet_rules:  # (those that report gaps)
            row = rows[r]
            scope = self.scope(row.population)
            if scope.outcome is FALSE:
                continue
            if scope.gaps:
                gaps.extend(self.scope_gaps(scope, row.full_id, row.urgency))
            gaps.extend(baseline_rows[r])
        return gaps

    def scope_gaps(self, scope: population.ScopeResult, rule: str, urgency: str) -> list[GapRow]:
        """The data gaps of an undecided population scope: a concept absent, or an age that a partial birth
        date leaves on both sides of the band."""
        return [GapRow(c, "imprecise" if c in AGE_CONCEPTS and self.facts.birth_date is not None else "absent",
                       rule, urgency) for c in scope.gaps]

    def scope(self, pop: Any) -> population.ScopeResult:
        """`population.check_scope` of this patient, once per population: looked up by the object, then by its
        content (`model_dump_json`), as many rules have equal ones (adults, not pregnant ...)."""
        found = self.scopes.get(id(pop))
        if found is None or found[0] is not pop:
            content = _population_keys.get_or_make(pop, lambda: "" if pop is None else pop.model_dump_json())
            result = self.scopes_by_content.get(content)
            if result is None:
                result = self.scopes_by_content[content] = population.check_scope(pop, self.facts, self.now,
                                                                                  self.settings)
            found = self.scopes[id(pop)] = (pop, result)
        return found[1]

    def prepared(self, packs: Sequence[Pack]) -> list[tuple[CompiledPack, plan.PackIndex]]:
        """Each pack compiled and indexed (`compile_pack`, `pack_index`), looked up once per pack object, and
        the whole list once per selection (the same tuple of packs, as `Registry.select` keeps it)."""
        concepts = self.registry.concepts
        last = _last_prepared.get(packs, concepts)
        if last is not None:
            return last
        out = []
        for p in packs:
            found = _prepared.get(p, concepts)
            if found is None:
                cp = compile_pack(p)
                found = _prepared.put(p, (cp, self.pack_index(cp)), concepts)
            out.append(found)
        if isinstance(packs, tuple):  # (a list may change in place)
            _last_prepared.put(packs, out, concepts)
        return out

    def pack_index(self, cp: CompiledPack) -> plan.PackIndex:
        """The pack's index and baseline (`cdss.engine.plan`): the pack run unindexed on a patient without data."""
        def build() -> plan.PackIndex:
            empty = _Evaluation(PatientFacts(patient="Patient/-", birth_date=None, sex=None), self.now,
                                self.registry, PlainMatcher(), index=False)
            empty.run_packs([cp.pack])
            leaves, prules = empty.runs[0].leaves, cp.pack.rules

            def gap_rows(r: int, unknown: list[int]) -> list[tuple[str, str]]:
                return [(g.concept, g.reason) for i in unknown
                        for g in empty.gap_entries(cp.leaves[i], cp, leaves, prules[r].full_id, prules[r].urgency)]

            baseline = plan.make_baseline(cp, leaves, empty.runs[0].parts_trace.resolved(), gap_rows,
                                          rule_scores_without_data(cp, leaves, self.registry))
            return plan.build_index(cp, baseline, lambda r: differential_group(prules[r], self.registry))
        return plan.index_for(cp, self.registry.concepts, build)

    def differential(self) -> tuple[Candidate, ...]:
        """The differential of the diagnosis rules in the patient's population (`cdss.engine.differential`);
        with the index, of the groups that may give a candidate, each condition scored once per group
        (`cdss.engine.shared.differential`), leaving out the quiet groups known to give no candidate
        (`silent_groups`)."""
        if self.selection is None:
            return build_differential(
                [RuleRun(prule, run.cp, node, run.leaves) for run in self.runs
                 for prule, node in zip(run.cp.pack.rules, run.cp.rule_trees, strict=True)
                 if prule.kind == "diagnosis" and self.scope(  # nothing outside the patient's population
                     prule.rule.population or run.cp.pack.meta.population).outcome is not FALSE],
                self.registry)
        silent = self.silent_groups()
        return self.differential_of([d for d in self.selection.diagnosis if d[2] not in silent])

    def differential_of(self, diagnosis: Sequence[plan.DiagnosisRule]) -> tuple[Candidate, ...]:
        """The differential of these diagnosis rules (in pack order), each condition scored once per group."""
        firsts: list[RuleRun] = []
        twins: dict[str, list[str]] = {}  # a first rule's id -> the ids of the rules with its condition and group
        seen: dict[tuple[tuple[str, str], str], str] = {}
        runs, scope = self.runs, self.scope
        for i, r, g, row in diagnosis:
            if scope(row.population).outcome is FALSE:
                continue  # (nothing outside the patient's population)
            first = seen.get((g, row.key))
            if first is None:
                seen[(g, row.key)] = row.full_id
                cp = runs[i].cp
                firsts.append(RuleRun(cp.pack.rules[r], cp, cp.rule_trees[r], runs[i].leaves))
            else:
                twins.setdefault(first, []).append(row.full_id)
        return shared.differential(firsts, twins, self.registry, build_differential)

    def silent_groups(self) -> set[tuple[str, str]]:
        """The quiet groups (`plan.QuietGroup`) that give this patient no candidate. Whether one does depends
        only on its `plan.silent_key`, so it is worked out alone the first time a key is met in the process
        and then known; a group that gives a candidate is always scored with the others."""
        assert self.selection is not None and self.selection_plan is not None
        silent: set[tuple[str, str]] = set()
        known, leaves = self.selection_plan.silent, [run.leaves for run in self.runs]
        for q in self.selection.quiet:
            key = plan.silent_key(q, [self.scope(row.population).outcome is FALSE for _, _, _, row in q.rules],
                                  leaves)
            found = known.get(key)
            if found is None:
                found = not self.differential_of(q.rules)
                self.selection_plan.remember_silent(key, found)
            if found:
                silent.add(q.group)
        return silent

    def gap_entries(self, cl: CompiledLeaf, cp: CompiledPack, leaves: Mapping[int, LeafResult],
                    rule: str, urgency: str) -> list[GapRow]:
        if cl.derived:  # a score is unknown because some of its parts are
            d = next(d for d in cp.pack.derived if d.id == cl.leaf.concept)
            out = []
            for node in cp.part_trees[d.id]:
                for index in unknown_leaves(decide(node, leaves)):
                    out.extend(self.gap_entries(cp.leaves[index], cp, leaves, rule, urgency))
            if not out and isinstance(d, TableFact):  # a table no row of which hits, and no default
                out.append(GapRow(d.id, "no-match", rule, urgency))
            return out
        return [GapRow(cl.leaf.subject, leaves[cl.index].missing or "absent", rule, urgency)]

    def derive(self, d: Derived, cp: CompiledPack, leaves: Mapping[int, LeafResult],
               parts_trace: PartTraces) -> Measure:
        if isinstance(d, TableFact):  # a decision table: its rows under its hit policy (cdss.engine.tables)
            result, parts_trace[d.id] = tables.run_table(d, cp, leaves, parts_trace)
            m = Measure(missing=result.missing)
            if result.missing is None:
                stat, note = tables.describe_result(d.table, result)
                self.fact(m, derived_key(d.id), result.lo, Evidence(d.id, result.lo, None, None, (), stat, note),
                          upper=result.hi)
            return m
        true_points, unknown, shown = [], [], []  # unknown: (least, most) each unknown part may give
        for part, node in zip(d.parts, cp.part_trees[d.id], strict=True):
            decided = decide(node, leaves)
            outcome = decided.outcome
            if outcome is FALSE and part.points_from is not None:
                outcome = UNKNOWN  # a value outside the part's range is no answer
            # (a part's trace is built here only when its value gives the points; else when first shown)
            t = trace(decided, cp, leaves, parts_trace) if part.points_from is not None else None
            points, bounds = _part_points(part, outcome, t)
            shown.append((part, decided, outcome, points, t))
            if outcome is TRUE:
                true_points.append(points)
            elif outcome is UNKNOWN:
                unknown.append(bounds)
        if d.combine == "sum":
            lo = sum(true_points) + sum(b[0] for b in unknown)
            hi = sum(true_points) + sum(b[1] for b in unknown)
        else:
            lo = max(true_points, default=0.0)
            hi = max([lo, *(b[1] for b in unknown)])
        unknown_points = unknown

        def part_traces() -> tuple[ConditionTrace, ...]:
            return tuple(trusted_trace(f"{part.label.zh} / {part.label.en}: {points:g}", WORD[outcome], (),
                                       (t if t is not None else trace(decided, cp, leaves, parts_trace),))
                         for part, decided, outcome, points, t in shown)
        parts_trace.put_later(d.id, part_traces)
        m = Measure()
        if d.complete and unknown_points:
            m.missing = "incomplete"  # no fact: every test on it is unknown, and its unknown parts are the gaps
            return m
        note = None if lo == hi else f"{len(unknown_points)} part(s) unknown: between {lo:g} and {hi:g}"
        self.fact(m, derived_key(d.id), lo, Evidence(d.id, lo, None, None, (), d.combine, note), upper=hi)
        return m

    def suggest(self, pack: Pack, prule: PackRule, root: ConditionTrace,
                shown: tuple[tuple[ConditionTrace, ...], list[tuple[str, str, str]]] | None = None) -> Suggestion:
        """A rule's suggestion, from its condition's trace (`root`), or its rationale and evidence key
        (`shown`, `cdss.engine.shared.Condition.rationale`)."""
        rationale, evidence_key = shown or (r := shared.rationale_of(root), shared.evidence_key(r))
        sid = content_id(pack.key, prule.full_id, self.facts.patient, evidence_key)
        return Suggestion(id=sid, rationale=rationale, **self.advice(pack, prule))

    def advice(self, pack: Pack, prule: PackRule) -> dict[str, Any]:
        """The fields of a rule's suggestion that do not depend on the patient, once per process per rule."""
        catalogue = self.registry.catalogue
        found = _advice.get(prule, pack, catalogue)
        if found is not None:
            return found
        rule = prule.rule
        disease = None
        if rule.then.disease and catalogue is not None and (entry := catalogue.get(rule.then.disease)):
            disease = DiseaseRef(entry.id, entry.code_system, entry.code, entry.name.zh, entry.name.en)
        citations = tuple(
            Citation(c.source, (s := pack.source(c.source)).title, s.year, c.section, s.publisher, s.url, c.note)
            for c in rule.citation)
        fields = {"kind": rule.then.kind, "urgency": rule.then.urgency, "disease": disease,
                  "title": {"zh": rule.then.title.zh, "en": rule.then.title.en},
                  "detail": {"zh": rule.then.detail.zh, "en": rule.then.detail.en},
                  "rule": f"{pack.id}@{pack.version}#{prule.full_id}", "citations": citations,
                  "evidence": rule.evidence, "issue": rule.then.issue}
        return _advice.put(prule, fields, pack, catalogue)


def _own(run: _PackRun, stage: int, stage_leaves: Sequence[CompiledLeaf], claimed: set[str],
         twins: list[tuple[_PackRun, tuple[int, ...], tuple[str, ...]]]) -> Sequence[CompiledLeaf]:
    """The leaves of a stage that this pack works out: those whose key no earlier pack of the stage has (the
    others are listed in `twins`, to take that pack's outcome)."""
    assert run.active is not None and run.active.stage_keys is not None
    indexes, keys = run.active.stage_keys.get(stage, ((), ()))
    if claimed.issuperset(keys):  # (every one: e.g. a pack whose tests all are in an earlier pack)
        if keys:
            twins.append((run, indexes, keys))
        return ()
    own = []
    twin_indexes, twin_keys = [], []
    for cl, key in zip(stage_leaves, keys, strict=True):
        if key in claimed:
            twin_indexes.append(cl.index)
            twin_keys.append(key)
        else:
            claimed.add(key)
            own.append(cl)
    if twin_keys:
        twins.append((run, tuple(twin_indexes), tuple(twin_keys)))
    return own


def _equality_over_ages(leaf: Leaf, young: Any, old: Any) -> Truth:
    """`==`, `!=` or `in` on an age known only to be a whole number from `young` to `old`: true when every
    possible age meets it, false when none does, else unknown (a band `== 5 years` is false for 6 to 7)."""
    wanted = set(leaf.value) if leaf.op == "in" else {leaf.value}  # type: ignore[arg-type]
    ages = set(range(int(young), int(old) + 1))
    equal = ages & wanted
    if leaf.op == "!=":
        return TRUE if not equal else FALSE if equal == ages else UNKNOWN
    return TRUE if equal == ages else FALSE if not equal else UNKNOWN


def _same_time(readings: Sequence[Reading]) -> list[Reading]:
    """The readings taken at the latest time (several at one time: none is 'the latest' by its id)."""
    last = readings[-1].time
    return [r for r in readings if r.time == last]


def _numeric(readings: Sequence[Reading]) -> bool:
    return all(isinstance(r.value, int | float) and not isinstance(r.value, bool) for r in readings)


def _last_n(readings: Sequence[Reading], n: int | None) -> Sequence[Reading]:
    """The n most recent readings, and any taken at the same time as the n-th (so ids never decide)."""
    if not n or n >= len(readings):
        return readings
    cut = readings[-n].time
    return [r for r in readings if r.time == cut or (r.time is not None and cut is not None and r.time > cut)]


def _part_points(part, outcome: Truth, trace_: ConditionTrace | None) -> tuple[float, tuple[float, float]]:  # noqa: ANN001
    """A part's points (its value when known, else its most) and the (least, most) it may give if unknown."""
    pf = part.points_from
    if pf is None:
        return part.points, (0.0, part.points)
    low, high = sorted((pf.points(pf.range[0]), pf.points(pf.range[1])))
    if outcome is TRUE and trace_ is not None:  # (a part with points_from always has its trace)
        value = next(e.value for e in walk_facts(trace_) if isinstance(e.value, int | float))
        return pf.points(float(value)), (low, high)
    return high, (low, high)


def evaluate_facts(facts: PatientFacts, *, now: dt.datetime, registry: Registry,
                   packs: Sequence[Pack], matcher: Matcher | None = None, index: bool = True) -> Evaluation:
    """Evaluate already-read patient facts with the given packs (matched by durable-rules unless another
    `matcher` is given; every matcher gives the same result). With `index` (the default) only the tests and
    rules on concepts in the record are worked out, the others take their outcome without data
    (`cdss.engine.plan`); `index=False` walks them all, with the same result."""
    if now.tzinfo is None:
        raise ConfigError.one("the evaluation time has no time zone", "naive-time", field="now", got=now.isoformat(),
                              hint="give an offset, e.g. 2026-11-22T09:00:00+08:00")
    stamps = _stamps_of(packs)
    settings = load_safety_settings()
    if population.is_deceased(facts, now):  # no advice for the dead, only why
        return Evaluation(patient=facts.patient, now=now, packs=stamps, suggestions=(), data_gaps=(),
                          notes=(population.deceased_note(settings),))
    facts = population.prepare(facts, now, settings)
    state = _Evaluation(facts, now, registry, matcher or DurableMatcher(), index)
    suggestions: list[Suggestion] = []
    gap_rows: list[GapRow] = []
    notes: list[str] = []
    try:
        s, g, n = state.run_packs(packs)
        suggestions.extend(s)
        gap_rows.extend(g)
        notes.extend(n)
        suggestions, superseded = supersede.apply(suggestions, packs)
        differential = state.differential()
    finally:
        state.release()
    return Evaluation(
        patient=facts.patient, now=now, packs=stamps,
        suggestions=tuple(sorted(suggestions, key=Suggestion.sort_key)),
        data_gaps=_gaps(gap_rows, registry, packs, facts), notes=tuple(sorted(set(notes))),
        superseded=tuple(sorted(superseded, key=Suggestion.sort_key)),
        unrecognised=facts.unrecognised, concept_maps=registry.concepts.maps,
        differential=differential)


SELECTIONS_KEPT = 16
STAMPS_KEPT = 4096
# Per pack (and concept set): what `compile_pack` and `pack_index` give; and the list, per selection of packs.
_prepared: ByIdentity[tuple[CompiledPack, plan.PackIndex]] = ByIdentity(STAMPS_KEPT)
_last_prepared: ByIdentity[list[tuple[CompiledPack, plan.PackIndex]]] = ByIdentity(SELECTIONS_KEPT)
_selections: ByIdentity[plan.Selection] = ByIdentity(SELECTIONS_KEPT)  # per prepared list
_advice: ByIdentity[dict[str, Any]] = ByIdentity(STAMPS_KEPT)  # per rule: the fields of its advice
_population_keys: ByIdentity[str] = ByIdentity(STAMPS_KEPT * 16)  # per population object: its content
_stamps: ByIdentity[PackStamp] = ByIdentity(STAMPS_KEPT)
_selection_stamps: ByIdentity[tuple[PackStamp, ...]] = ByIdentity(SELECTIONS_KEPT)


def _stamps_of(packs: Sequence[Pack]) -> tuple[PackStamp, ...]:
    """The stamps of the selected packs, once per selection (the same tuple of packs)."""
    last = _selection_stamps.get(packs)
    if last is not None:
        return last
    stamps = tuple(_stamps.get_or_make(p, lambda p=p: PackStamp(p.id, p.version, p.sha256)) for p in packs)
    return _selection_stamps.put(packs, stamps) if isinstance(packs, tuple) else stamps


def _gaps(rows: list[GapRow], registry: Registry, packs: Sequence[Pack],
          facts: PatientFacts) -> tuple[DataGap, ...]:
    grouped: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for concept, reason, rule, urgency in rows:
        rules, urgencies = grouped.setdefault((concept, reason), (set(), []))
        rules.add(rule)
        urgencies.append(urgency)
    titles: dict[str, Text] = {}  # the derived facts' titles, gathered only for a gap on no concept of the set
    out = []
    for (concept, reason), (rules, urgencies) in grouped.items():
        c = registry.concepts.by_id.get(concept)
        if c is None and not titles:
            titles = {d.id: d.title for p in packs for d in p.derived}
        title = c.title if c is not None else titles.get(concept)
        detail = "; ".join(n.detail for n in facts.notes if n.concept == concept and n.reason == reason) or None
        out.append(DataGap(concept=concept, title={"zh": title.zh, "en": title.en} if title else
                           {"zh": concept, "en": concept}, reason=reason, rules=tuple(sorted(rules)),
                           urgency=min(urgencies, key=URGENCY_ORDER.index), detail=detail))
    return tuple(sorted(out, key=lambda g: (URGENCY_ORDER.index(g.urgency), g.concept, g.reason)))


def evaluate(bundle: bytes | str | Mapping[str, Any], *, now: dt.datetime, registry: Registry,
             pins: Sequence[str] = (), source_name: str | None = None, matcher: Matcher | None = None) -> Evaluation:
    """Evaluate a FHIR Bundle against the selected packs.

    Args:
        bundle: FHIR Bundle as JSON bytes/text or a parsed mapping.
        now: the evaluation time (aware); ages, windows and staleness count from it.
        registry: loaded concepts, catalogue and packs (see `load_registry`).
        pins: pack pins `id` or `id@version`; default: the newest active version of each pack.
        source_name: shown in error messages (e.g. the file name).
        matcher: which facts meet which tests (default: durable-rules); every matcher gives the same result.

    Raises:
        IntakeError: the bundle is unusable (not JSON, not a Bundle, no Patient ...).
        EngineError: a pin names an unknown pack or version, or the engine failed.
        ConfigError: `now` has no time zone.
    """
    packs = registry.select(pins)
    facts = read_bundle(bundle, registry.concepts, source_name=source_name)
    return evaluate_facts(facts, now=now, registry=registry, packs=packs, matcher=matcher)
