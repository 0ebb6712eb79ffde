"""Engine: which tests and rules an evaluation must work out, and what the others give without work.

Most of a pack's tests are on data the patient does not have. A test on a concept absent from the record
(no reading, no presence, no intake note) is decided exactly as it would be for a patient with no data at
all: unknown (a data gap, open world), false (a closed-world concept), or a count of 0. So each compiled
pack is evaluated once, on a patient with no data, by the ordinary code path: its *baseline*. Then, in an
evaluation:

- a leaf test is *active* when a concept it depends on is in the record, or it reads the Patient resource
  itself (age, sex); a derived fact (a score) depends on every concept its parts test. Inactive tests take
  their baseline outcome: no measure is computed and no fact is matched for them;
- a rule is active when one of its tests is, or when its baseline outcome is *true* (e.g. "no visit
  recorded this year"): only active rules are decided and traced;
- an inactive rule whose baseline is *false* gives nothing and is skipped; one whose baseline is *unknown*
  still gives its data gaps, the baseline's, after its population check, exactly as the full walk would;
- a diagnosis rule enters the differential when it is active, when its baseline score is positive, or when
  another rule of its group (the same disease and syndrome) is: a group of inactive rules that score
  nothing without data would be dropped by the differential anyway;
- a group none of whose rules tests a touched concept but the Patient's own is *quiet* (`QuietGroup`):
  whether it gives a candidate depends only on its `silent_key` (which of its rules the population scopes
  exclude, and the outcomes of its age and sex tests), so the answer is kept per `Selection` and a group
  known to give none is not scored. A group that gives a candidate is always scored from the patient's facts.

So skipping never drops a data gap nor changes a result: `evaluate_facts(..., index=False)` walks every test
and rule, and tests compare the two (tests/regressions/test_rule_index.py) on every pack case and on
generated patients. The index of a pack is built once per process per pack version, content hash and
concept set; what one patient activates (`active`) depends only on which of the pack's concepts the record
touches, and is kept per index for the last ACTIVE_KEPT such sets; a `Selection` of packs keeps what a
record activates in all of them (every pack's Active, the differential's groups and rules) in the same way.
Within an evaluation, identical leaves, derived facts and conditions of different packs are worked out once
(`cdss.engine.shared`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, NamedTuple

from cdss.engine.compile import CompiledLeaf, CompiledPack, leaves_of
from cdss.engine.decide import GapRow, LeafResult, decide, unknown_leaves
from cdss.engine.matcher import Fact, Firing, LeafTest, LeafTestId, StageTests
from cdss.engine.results import ConditionTrace
from cdss.engine.truth import TRUE, UNKNOWN, Truth
from cdss.intake.facts import AGE_CONCEPTS, PatientFacts
from cdss.packs.schema import Derived
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.locks import module_lock

# Concepts read from the Patient resource itself, not from readings or presences (see evaluate.measure):
# their tests are always worked out.
FROM_PATIENT = frozenset({*AGE_CONCEPTS, "sex"})


@dataclass(frozen=True)
class Baseline:
    """A pack evaluated on a patient with no data: every leaf's outcome, the derived facts' part traces,
    and for each rule its outcome, its data gaps (concept, reason) and its differential score."""

    leaves: Mapping[int, LeafResult]
    parts_trace: Mapping[str, tuple[ConditionTrace, ...]]
    rule_outcomes: tuple[Truth, ...]  # aligned with pack.rules
    rule_gaps: tuple[tuple[tuple[str, str], ...], ...]  # aligned with pack.rules
    rule_scores: tuple[float | None, ...]  # aligned with pack.rules: the differential score (None: against)


@dataclass(frozen=True)
class PackIndex:
    """A compiled pack's tests and rules by the concepts they depend on, and its baseline."""

    cp: CompiledPack
    baseline: Baseline
    leaves_by_concept: Mapping[str, tuple[int, ...]]
    always_leaves: frozenset[int]
    rules_by_concept: Mapping[str, tuple[int, ...]]
    always_rules: frozenset[int]
    derived_concepts: Mapping[str, frozenset[str]]  # derived id -> concepts its parts depend on
    groups: tuple[tuple[str, str] | None, ...]  # aligned with pack.rules: differential group of diagnosis rules
    scoring_groups: frozenset[tuple[str, str]]  # groups of the rules that score above 0 without data
    diagnosis: tuple[int, ...] = ()  # the rules with a differential group, in pack order
    unknown_rules: tuple[int, ...] = ()  # the rules whose baseline is unknown, in pack order
    concepts: frozenset[str] = frozenset()  # every concept of leaves_by_concept and rules_by_concept
    rows: tuple[RuleRow, ...] = ()  # aligned with pack.rules
    excludes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (rule id, the rule ids it excludes), in pack order
    gap_rows: tuple[tuple[GapRow, ...], ...] = ()  # aligned with pack.rules: the baseline's gaps as rows
    patient_leaves: tuple[tuple[int, ...], ...] = ()  # aligned with pack.rules: its leaves in always_leaves
    other_concepts: tuple[frozenset[str], ...] = ()  # aligned with pack.rules: what its other leaves depend on


class RuleRow(NamedTuple):
    """What deciding one rule reads, looked up once per process: its population scope (its own or the pack's),
    condition key (`CompiledPack.rule_keys`), whether it reports data gaps, full id and urgency."""

    population: Any
    key: str
    report: bool
    full_id: str
    urgency: str


@dataclass(frozen=True)
class Active:
    """What one evaluation works out for one pack."""

    leaves: frozenset[int]
    rules: tuple[int, ...]  # in pack order
    quiet_rules: tuple[int, ...]  # inactive rules whose baseline is unknown that report gaps, in pack order
    by_stage: Mapping[int, tuple[CompiledLeaf, ...]] | None = None  # the active leaves of each stage, in pack order
    derived: Mapping[int, tuple[Derived, ...]] | None = None  # the derived facts to compute at each stage, in order
    groups: frozenset[tuple[str, str]] = frozenset()  # differential groups of the active rules, and scoring ones
    stage_keys: Mapping[int, tuple[tuple[int, ...], tuple[str, ...]]] | None = None  # by_stage's indexes and keys
    busy: frozenset[int] | None = None  # the stages with an active leaf or derived fact (None: every stage)

    def stage_leaves(self, cp: CompiledPack, stage: int) -> Sequence[CompiledLeaf]:
        if self.by_stage is not None:
            return self.by_stage.get(stage, ())
        return [cp.leaves[i] for i in sorted(self.leaves) if cp.leaves[i].stage == stage]


def touched(facts: PatientFacts) -> frozenset[str]:
    """The concepts the record says anything about (a reading, a presence, a note), and the Patient's own."""
    return frozenset((*facts.readings, *facts.present, *(n.concept for n in facts.notes), *FROM_PATIENT))


def _concepts(cp: CompiledPack) -> tuple[tuple[frozenset[str], ...], dict[str, frozenset[str]]]:
    """Per leaf, and per derived fact, the concepts of the record its outcome depends on."""
    by_id = {d.id: d for d in cp.pack.derived}
    derived: dict[str, frozenset[str]] = {}

    def of_leaf(cl_concept: str | None, has: str | None) -> frozenset[str]:
        if has is not None:
            return frozenset({has})
        concept = cl_concept or ""
        if concept in by_id:
            return of_derived(concept)
        return frozenset({concept})

    def of_derived(did: str) -> frozenset[str]:
        if did not in derived:  # compile has refused cycles
            derived[did] = frozenset().union(*(of_leaf(leaf.concept, leaf.has) for part in by_id[did].parts
                                               for leaf in leaves_of(part.when)))
        return derived[did]

    per_leaf = tuple(of_leaf(cl.leaf.concept, cl.leaf.has) if not cl.derived else of_derived(cl.leaf.concept or "")
                     for cl in cp.leaves)
    for did in by_id:
        of_derived(did)
    return per_leaf, derived


def _rule_leaves(node) -> set[int]:  # noqa: ANN001 - a compile.Node
    from cdss.engine.compile import LeafNode

    if isinstance(node, LeafNode):
        return {node.index}
    items = (node.item,) if hasattr(node, "item") else node.items
    return set().union(*(_rule_leaves(n) for n in items))


def build_index(cp: CompiledPack, baseline: Baseline,
                group_of: Callable[[int], tuple[str, str] | None]) -> PackIndex:
    per_leaf, derived = _concepts(cp)
    leaves_by: dict[str, list[int]] = {}
    always_leaves = set()
    for index, concepts in enumerate(per_leaf):
        if concepts & FROM_PATIENT:
            always_leaves.add(index)
        for c in concepts:
            leaves_by.setdefault(c, []).append(index)
    rules_by: dict[str, list[int]] = {}
    always_rules = set()
    patient_leaves, other_concepts = [], []
    for r, node in enumerate(cp.rule_trees):
        indexes = _rule_leaves(node)
        if indexes & always_leaves or baseline.rule_outcomes[r] is TRUE:
            always_rules.add(r)
        for c in sorted(frozenset().union(*(per_leaf[i] for i in indexes))):
            rules_by.setdefault(c, []).append(r)
        patient_leaves.append(tuple(sorted(indexes & always_leaves)))
        other_concepts.append(frozenset().union(*(per_leaf[i] for i in indexes - always_leaves)))
    groups = tuple(group_of(r) for r in range(len(cp.pack.rules)))
    scoring = frozenset(g for g, s in zip(groups, baseline.rule_scores, strict=True)
                        if g is not None and s is not None and s > 0)
    return PackIndex(cp, baseline, {c: tuple(v) for c, v in leaves_by.items()}, frozenset(always_leaves),
                     {c: tuple(v) for c, v in rules_by.items()}, frozenset(always_rules), derived, groups, scoring,
                     tuple(r for r, g in enumerate(groups) if g is not None),
                     tuple(r for r, o in enumerate(baseline.rule_outcomes) if o is UNKNOWN),
                     frozenset((*leaves_by, *rules_by)),
                     tuple(RuleRow(p.rule.population or cp.pack.meta.population, key, p.rule.gaps == "report",
                                   p.full_id, p.urgency) for p, key in zip(cp.pack.rules, cp.rule_keys, strict=True)),
                     tuple((p.rule.id, tuple(p.rule.excludes)) for p in cp.pack.rules if p.rule.excludes),
                     tuple(tuple(GapRow(c, reason, p.full_id, p.urgency) for c, reason in gaps)
                           for p, gaps in zip(cp.pack.rules, baseline.rule_gaps, strict=True)),
                     tuple(patient_leaves), tuple(other_concepts))


ACTIVE_KEPT = 64  # per pack index, and per Selection: what this many sets of touched concepts activate is kept
SILENT_KEPT = 4096  # per Selection: whether a quiet group gives no candidate, for this many silent keys


def active(ix: PackIndex, seen: Set[str]) -> Active:
    """The leaves and rules of a pack that an evaluation of a patient whose record touches `seen` works out.

    It depends only on which of the pack's own concepts are touched, so it is kept per pack index for the
    last ACTIVE_KEPT such sets (most packs see none of their concepts in a record, or the same few)."""
    hits = ix.concepts.intersection(seen)
    memo = _active_memo.get(id(ix))
    if memo is None or memo[0] is not ix:
        with _lock:
            memo = _active_memo[id(ix)] = (ix, {})
    found = memo[1].get(hits)
    if found is None:
        found = _active(ix, hits)
        with _lock:
            if len(memo[1]) >= ACTIVE_KEPT:
                memo[1].pop(next(iter(memo[1])), None)
            memo[1][hits] = found
    return found


_active_memo: dict[int, tuple[PackIndex, dict[frozenset[str], Active]]] = {}


def _active(ix: PackIndex, hits: frozenset[str]) -> Active:
    leaves = set(ix.always_leaves)
    rules = set(ix.always_rules)
    for concept in hits:
        leaves.update(ix.leaves_by_concept.get(concept, ()))
        rules.update(ix.rules_by_concept.get(concept, ()))
    quiet = tuple(r for r in ix.unknown_rules if r not in rules and ix.rows[r].report)  # (only they give gaps)
    by_stage: dict[int, list[CompiledLeaf]] = {}
    for i in sorted(leaves):
        cl = ix.cp.leaves[i]
        by_stage.setdefault(cl.stage, []).append(cl)
    derived: dict[int, list[Derived]] = {}
    for d in ix.cp.derived_order:
        if not ix.derived_concepts[d.id].isdisjoint(hits):
            derived.setdefault(ix.cp.derived_stage[d.id], []).append(d)
    groups = frozenset(g for r in rules if (g := ix.groups[r]) is not None) | ix.scoring_groups
    return Active(frozenset(leaves), tuple(sorted(rules)), quiet, {s: tuple(v) for s, v in by_stage.items()},
                  {s: tuple(v) for s, v in derived.items()}, groups,
                  {s: (tuple(cl.index for cl in v), tuple(ix.cp.leaf_keys[cl.index] for cl in v))
                   for s, v in by_stage.items()}, frozenset((*by_stage, *derived)))


DiagnosisRule = tuple[int, int, tuple[str, str], RuleRow]  # (pack position, rule index, group, row)


class QuietGroup(NamedTuple):
    """A differential group none of whose rules tests a concept the record touches, except the Patient's own
    (age, sex): every other test keeps its baseline outcome. So whether the group gives a candidate depends
    only on which of its rules the patient's population scopes exclude and on the outcomes (and reasons
    missing) of `leaves`, its rules' tests that read the Patient, as (pack position, leaf index)."""

    group: tuple[str, str]
    rules: tuple[DiagnosisRule, ...]  # in pack order
    leaves: tuple[tuple[int, int], ...]


class SelectionActive(NamedTuple):
    """What one evaluation works out across a selection of packs: each pack's `Active` (aligned with the
    selection's indexes), the differential groups that may give a candidate (those of the active rules, and
    the scoring ones), the diagnosis rules in those groups, in pack order, and which of those groups are
    quiet (`QuietGroup`)."""

    actives: tuple[Active, ...]
    groups: frozenset[tuple[str, str]]
    diagnosis: tuple[DiagnosisRule, ...]
    quiet: tuple[QuietGroup, ...] = ()


def silent_key(q: QuietGroup, excluded: Sequence[bool], leaves: Sequence[Mapping[int, LeafResult]]) -> tuple[Any, ...]:
    """What a quiet group's differential depends on for one patient: which of its rules the population
    scopes exclude (`excluded`, aligned with `q.rules`), and the outcome and reason missing of each of its
    tests that read the Patient (from `leaves`, each pack's outcomes by pack position). Never evidence: a
    group with a candidate is always worked out from the patient's own facts."""
    return (q.group, tuple(excluded), tuple((res.outcome, res.missing) for i, leaf in q.leaves
                                            for res in (leaves[i][leaf],)))


def quiet_groups(indexes: Sequence[PackIndex], diagnosis: Sequence[DiagnosisRule],
                 hits: Set[str]) -> tuple[QuietGroup, ...]:
    """The quiet groups among the diagnosis rules' groups, for a record that touches `hits`."""
    members: dict[tuple[str, str], list[DiagnosisRule]] = {}
    for d in diagnosis:
        members.setdefault(d[2], []).append(d)
    return tuple(QuietGroup(g, tuple(rules), tuple((i, leaf) for i, r, _, _ in rules
                                                   for leaf in indexes[i].patient_leaves[r]))
                 for g, rules in members.items()
                 if all(indexes[i].other_concepts[r].isdisjoint(hits) for i, r, _, _ in rules))


class Selection:
    """The indexes of a selection of packs; their stages in order, each with the packs' tests merged
    (`merged_stage`; None: matched per pack); and what a record activates in all of them (`active`): worked
    out once per set of touched concepts of any of the packs, kept for the last ACTIVE_KEPT such sets, so that
    an evaluation does not ask every pack in turn; and, by `silent_key`, whether a quiet group gave no
    candidate (`silent`, SILENT_KEPT entries)."""

    __slots__ = ("indexes", "concepts", "stages", "_kept", "silent")

    def __init__(self, indexes: Sequence[PackIndex]):
        self.indexes = tuple(indexes)
        self.concepts: frozenset[str] = frozenset().union(*(ix.concepts for ix in self.indexes))
        groups = [ix.cp.groups for ix in self.indexes]  # (a pack's stages are its groups' keys)
        self.stages: tuple[tuple[int, MergedStage | None], ...] = tuple(
            (stage, merged_stage([g[stage] for g in groups if stage in g], stage > 0))
            for stage in sorted({s for g in groups for s in g}))
        self._kept: dict[frozenset[str], SelectionActive] = {}
        self.silent: dict[tuple[Any, ...], bool] = {}

    def remember_silent(self, key: tuple[Any, ...], silent: bool) -> None:
        with _lock:
            if len(self.silent) >= SILENT_KEPT:
                self.silent.pop(next(iter(self.silent)), None)
            self.silent[key] = silent

    def active(self, seen: Set[str]) -> SelectionActive:
        hits = self.concepts.intersection(seen)  # (each pack's Active depends only on its share of these)
        found = self._kept.get(hits)
        if found is None:
            actives = tuple(active(ix, hits) for ix in self.indexes)
            groups = frozenset().union(*(a.groups for a in actives))
            diagnosis = tuple((i, r, g, ix.rows[r]) for i, ix in enumerate(self.indexes) for r in ix.diagnosis
                              if (g := ix.groups[r]) in groups)
            found = SelectionActive(actives, groups, diagnosis, quiet_groups(self.indexes, diagnosis, hits))
            with _lock:
                if len(self._kept) >= ACTIVE_KEPT:
                    self._kept.pop(next(iter(self._kept)), None)
                self._kept[hits] = found
        return found


def derived_active(ix: PackIndex, did: str, seen: Set[str]) -> bool:
    """Whether a derived fact must be computed (a concept its parts depend on is in the record)."""
    return not ix.derived_concepts[did].isdisjoint(seen)


def make_baseline(cp: CompiledPack, leaves: Mapping[int, LeafResult],
                  parts_trace: Mapping[str, tuple[ConditionTrace, ...]],
                  gap_rows: Callable[[int, list[int]], list[tuple[str, str]]],
                  scores: tuple[float | None, ...]) -> Baseline:
    """The baseline from an unindexed run of the pack on a patient with no data."""
    outcomes, gaps = [], []
    for r, node in enumerate(cp.rule_trees):
        decided = decide(node, leaves)
        outcomes.append(decided.outcome)
        gaps.append(tuple(gap_rows(r, unknown_leaves(decided))) if decided.outcome is UNKNOWN else ())
    return Baseline(dict(leaves), dict(parts_trace), tuple(outcomes), tuple(gaps), scores)


_indexes: dict[tuple[str, int], tuple[ConceptSet, PackIndex]] = {}
_lock = module_lock(globals(), "_lock")


def index_for(cp: CompiledPack, concepts: ConceptSet, build: Callable[[], PackIndex]) -> PackIndex:
    """The index of a compiled pack under a concept set, built once per process."""
    key = (f"{cp.pack.key}#{cp.pack.sha256}", id(concepts))
    with _lock:
        found = _indexes.get(key)
        if found is not None and found[0] is concepts:
            return found[1]
    ix = build()
    with _lock:
        _indexes[key] = (concepts, ix)
    return ix


@dataclass(frozen=True)
class MergedStage:
    """The tests of one stage of several packs as one group, so that the matcher runs few rulesets.

    At stage 0 (tests on the record, whose facts all packs share) a test that several packs share
    (`sbp latest >= 140` in many packs) is matched once, and its firings go to every pack that has it. At
    later stages the facts (derived scores) belong to one pack: each test and fact key is `qualified` by
    its pack's group name, so a pack's facts meet only its own tests."""

    group: StageTests
    owners: tuple[tuple[tuple[str, LeafTestId], ...], ...]  # per merged test: (pack group, the pack's test)
    qualified: bool = False

    def facts(self, group: StageTests, facts: Sequence[Fact]) -> list[Fact]:
        """A pack's facts as the merged group's (their keys qualified when the stage is)."""
        if not self.qualified:
            return list(facts)
        return [f._replace(key=f"{group.name}|{f.key}") for f in facts]

    def expand(self, firing: Firing) -> list[Firing]:
        return [Firing(name, test, firing.fact) for name, test in self.owners[firing.test.leaf]]


_merged: dict[tuple[str, ...], MergedStage] = {}
MERGED_KEPT = 16  # selections of packs whose merged stage is kept per process
# A matcher may register each merged group for good (durable-rules cannot unregister a ruleset): past this many
# distinct selections of packs in one process, stages are matched per pack, as without the index.
MAX_MERGED_SELECTIONS = 256  # (each stage of a selection counts once)
_selections: set[tuple[str, ...]] = set()


def merged_stage(groups: Sequence[StageTests], qualified: bool = False) -> MergedStage | None:
    """The merged group of these groups of one stage, built once per process per selection of packs; None
    once MAX_MERGED_SELECTIONS other selections were merged (match per pack then)."""
    names = (*(g.name for g in groups), str(qualified))
    with _lock:
        found = _merged.get(names)
        if found is None and names not in _selections:
            if len(_selections) >= MAX_MERGED_SELECTIONS:
                return None
            _selections.add(names)
    if found is not None:
        return found
    owners: dict[tuple, list[tuple[str, LeafTestId]]] = {}
    for g in groups:
        for t in g.tests:
            key = f"{g.name}|{t.key}" if qualified else t.key
            owners.setdefault((key, t.op, t.value, t.field), []).append((g.name, t.id))
    signatures = sorted(owners, key=repr)  # by measure key first: a ruleset then covers few keys
    tests = tuple(LeafTest(LeafTestId(i), key, op, value, fld) for i, (key, op, value, fld) in enumerate(signatures))
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    stage = groups[0].name.rsplit(":", 1)[-1] if groups else "s0"
    merged = MergedStage(StageTests(f"merged#{digest}:{stage}", tests), tuple(tuple(owners[s]) for s in signatures),
                         qualified)
    with _lock:
        while len(_merged) >= MERGED_KEPT:
            _merged.pop(next(iter(_merged)))
        _merged[names] = merged
    return merged
