"""Engine: the differential - catalogue conditions whose `diagnosis` rules are partly or fully met, ranked,
each with the findings for and against it, the criteria still unknown, and the next test that would decide.

Fed by the decided condition nodes of the diagnosis rules (`cdss.engine.decide`); it judges nothing the
rules do not say. The score of a rule is the share of its criteria that are met, from its own tree:

* a leaf scores 1 when true, else 0; a test on N days met on the days measured but on fewer than N scores
  1/2 (partly met); a demographic test scores nothing (it is the patient's context, not a finding);
* `any` scores its best item (one way of meeting it is enough);
* `all` scores the mean of its criteria; its *gates* do not count in the mean but close the rule when
  false: a `not` item (an exclusion: "not already diagnosed") and an item testing demographics only (age,
  sex); an `all` of gates only scores 0;
* a `not` elsewhere scores 1 when true, else 0.

A symptom or finding not in the record counts as not asked (unknown), not as absent (`not_asked_as_unknown`).
A rule whose outcome is false (a criterion or an exclusion decides against it with the data as they are)
takes no part; a condition appears when one of its rules holds (status `met`, score 1) or is undecided
with at least one criterion met (status `possible`, score = the best rule's share) of which at least one is a
finding of the patient's own (a concept, not only a derived fact such as "no red flags" = 0). The next test is the
unknown criterion whose being met would raise the condition's score most (ties: the one that would make a
rule hold, then the rule and criterion order). Deterministic: same facts, same list, same order.

Scope: a rule that does not apply to the patient is excluded by `in_scope` (the population scope, once it
lands on the engine) or by a demographic gate that is false (an age or sex test in the rule itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import fsum
from typing import Any

from cdss.engine.compile import AnyNode, CompiledLeaf, CompiledPack, LeafNode, NotNode
from cdss.engine.decide import Decided, LeafResult, decide
from cdss.engine.memo import ByIdentity
from cdss.engine.results import Candidate, Criterion, DiseaseRef, NextTest, trusted_criterion
from cdss.engine.truth import FALSE, TRUE, UNKNOWN, WORD
from cdss.packs.registry import PackRule, Registry

SCORE_DIGITS = 3
_MAX_CACHED = 100_000  # entries of a per-process cache (packs' nodes); more (tests building packs): start over
PARTLY_MET = 0.5  # a test on N days met on every day measured, but on fewer than N days


@dataclass(frozen=True)
class RuleRun:
    """A diagnosis rule with what it needs to be scored: its compiled pack and its leaves' outcomes."""

    prule: PackRule
    cp: CompiledPack
    node: Any  # cdss.engine.compile.Node
    leaves: Mapping[int, LeafResult]


@dataclass
class _Group:
    disease: str
    syndrome: str | None
    runs: list[tuple[RuleRun, Decided]] = field(default_factory=list)


# --- scoring ---------------------------------------------------------------------------------------------

def _leaf_indexes(d: Decided) -> Iterable[int]:
    if isinstance(d.node, LeafNode):
        yield d.node.index
    for item in d.items:
        yield from _leaf_indexes(item)


_gates: ByIdentity[bool] = ByIdentity(_MAX_CACHED)  # per node (and pack and demographic concepts)
_item_gates: ByIdentity[tuple[bool, ...]] = ByIdentity(_MAX_CACHED)  # per node: which of its items are gates


def _is_gate(item: Decided, cp: CompiledPack, demographic: frozenset[str]) -> bool:
    """An exclusion (`not`) or a test of the patient's demographics only (age, sex): it closes, never scores.
    It depends on the node alone: worked out once per node (and pack and demographic concepts)."""
    node = item.node
    return _gates.get_or_make(node, lambda: isinstance(node, NotNode) or all(
        (cp.leaves[i].leaf.concept or "") in demographic for i in _leaf_indexes(item)), cp, demographic)


def _gate_flags(d: Decided, cp: CompiledPack, demographic: frozenset[str]) -> tuple[bool, ...]:
    """For each item of an `all`, whether it is a gate (`_is_gate`): once per node."""
    return _item_gates.get_or_make(d.node, lambda: tuple(_is_gate(i, cp, demographic) for i in d.items),
                                   cp, demographic)


def score(d: Decided, cp: CompiledPack, demographic: frozenset[str], leaves: Mapping[int, LeafResult]) -> float:
    """The share of a (sub)condition's criteria that are met (see the module docstring)."""
    node = d.node
    if isinstance(node, LeafNode):
        if (cp.leaves[node.index].leaf.concept or "") in demographic:
            return 0.0
        if d.outcome is UNKNOWN and leaves[node.index].missing == "too-few-days":
            return PARTLY_MET
        return 1.0 if d.outcome is TRUE else 0.0
    if isinstance(node, NotNode):
        return 1.0 if d.outcome is TRUE else 0.0
    if isinstance(node, AnyNode):
        return max(score(i, cp, demographic, leaves) for i in d.items)
    items = d.items
    criteria = []
    for item, gate in zip(items, _gate_flags(d, cp, demographic), strict=True):
        if not gate:
            criteria.append(item)
        elif item.outcome is FALSE:
            return 0.0  # a false gate closes the rule
    if not criteria:
        return 0.0
    scores = [score(i, cp, demographic, leaves) for i in criteria]
    return fsum(scores) / len(scores)  # statistics.fmean, without its generator plumbing


def rule_score(d: Decided, cp: CompiledPack, demographic: frozenset[str],
               leaves: Mapping[int, LeafResult]) -> float | None:
    """A rule's score: 1 when it holds, its share when undecided, None when it is decided against."""
    if d.outcome is TRUE:
        return 1.0
    if d.outcome is FALSE:
        return None
    return round(score(d, cp, demographic, leaves), SCORE_DIGITS)


# --- evidence --------------------------------------------------------------------------------------------

def _shown_leaves(d: Decided, run: RuleRun, positive: bool = True) -> Iterable[tuple[CompiledLeaf, LeafResult, bool]]:
    """The leaves of a decided rule that matter to a clinician, each with its result and whether it counts
    for the rule (not under a `not`): an `any` that holds shows what holds."""
    node = d.node
    if isinstance(node, LeafNode):
        yield run.cp.leaves[node.index], run.leaves[node.index], positive
        return
    if isinstance(node, NotNode):
        yield from _shown_leaves(d.items[0], run, not positive)
        return
    items = d.items
    if isinstance(node, AnyNode) and d.outcome is TRUE:
        items = tuple(i for i in items if i.outcome is TRUE)
    for item in items:
        yield from _shown_leaves(item, run, positive)


def _criterion(run: RuleRun, cl: CompiledLeaf, res: LeafResult, positive: bool) -> Criterion:
    return trusted_criterion(cl.text, cl.leaf.subject, WORD[res.outcome], run.prule.full_id, not positive,
                             res.facts, res.missing if res.outcome is UNKNOWN else None)


def _criteria(d: Decided, run: RuleRun) -> Iterable[Criterion]:
    """`_shown_leaves` as the differential's criteria."""
    return (_criterion(run, cl, res, positive) for cl, res, positive in _shown_leaves(d, run))


def _for(cl: CompiledLeaf, res: LeafResult, positive: bool, demographic: frozenset[str]) -> bool:
    """A criterion for the disease: a test of the patient's own data (not age or sex) that counts for it and
    is met, or is met on too few days so far."""
    return positive and cl.leaf.subject not in demographic and (
        res.outcome is TRUE or (res.outcome is UNKNOWN and res.missing == "too-few-days"))


def _sorted_unique(items: Iterable[Criterion]) -> tuple[Criterion, ...]:
    seen: dict[tuple[str, str, str, bool], Criterion] = {}
    for c in items:
        seen.setdefault((c.rule, c.concept, c.text, c.exclusion), c)
    return tuple(sorted(seen.values(), key=lambda c: (c.rule, c.concept, c.text, c.exclusion)))


# --- the next test ---------------------------------------------------------------------------------------

def _phrase(cl: CompiledLeaf, reason: str | None, registry: Registry, cp: CompiledPack) -> dict[str, str]:
    """The next test in words, from the concept's titles and the leaf (Chinese first, English beside)."""
    leaf = cl.leaf
    concept = registry.concepts.by_id.get(leaf.subject)
    derived = next((d for d in cp.pack.derived if d.id == leaf.subject), None)
    title = concept.title if concept else derived.title if derived else None
    zh, en = (title.zh, title.en) if title else (leaf.subject, leaf.subject)
    window_zh = f"（{leaf.within_days} 天内）" if leaf.within_days is not None else ""
    window_en = f" (within {leaf.within_days} d)" if leaf.within_days is not None else ""
    if leaf.has is not None:
        return {"zh": f"询问或检查：{zh}{window_zh}", "en": f"ask or examine: {en}{window_en}"}
    value = ", ".join(str(v) for v in leaf.value) if isinstance(leaf.value, tuple) else \
        f"{leaf.value:g}" if isinstance(leaf.value, float) else str(leaf.value)
    unit = f" {concept.unit}" if concept and concept.unit and not isinstance(leaf.value, str | tuple) else ""
    target = f"{leaf.op} {value}{unit}"
    if derived is not None:
        return {"zh": f"补全评分：{zh}（{target}）", "en": f"complete the score: {en} ({target})"}
    if leaf.on_days is not None:
        if reason == "too-few-days":
            return {"zh": f"另一天再测一次{zh}（需 {leaf.on_days} 天 {target}）{window_zh}",
                    "en": f"another {en} on another day (needs {target} on {leaf.on_days} days){window_en}"}
        return {"zh": f"{zh}：非同日 {leaf.on_days} 天 {target}{window_zh}",
                "en": f"{en} on {leaf.on_days} separate days ({target}){window_en}"}
    return {"zh": f"测量或记录：{zh}（{target}）{window_zh}", "en": f"measure or record: {en} ({target}){window_en}"}


def _positive_unknown_leaves(d: Decided, positive: bool = True) -> Iterable[int]:
    if d.outcome is not UNKNOWN:
        return
    if isinstance(d.node, LeafNode):
        if positive:
            yield d.node.index
        return
    for item in d.items:
        yield from _positive_unknown_leaves(item, positive != isinstance(d.node, NotNode))


def _next_test(group: _Group, current: float, registry: Registry, demographic: frozenset[str]) -> NextTest | None:
    best: tuple[tuple[Any, ...], NextTest] | None = None
    for order, (run, decided) in enumerate(group.runs):
        indexes = sorted(set(_positive_unknown_leaves(decided)))
        for index in indexes:
            cl = run.cp.leaves[index]
            if (cl.leaf.concept or "") in demographic:
                continue
            leaves = dict(run.leaves)
            leaves[index] = LeafResult(TRUE)
            after = decide(run.node, leaves)
            new = rule_score(after, run.cp, demographic, leaves) or 0.0
            gain = new - current
            if gain <= 0:
                continue
            key = (-gain, after.outcome is not TRUE, order, index)
            if best is None or key < best[0]:
                test = NextTest(cl.leaf.subject, cl.text, _phrase(cl, run.leaves[index].missing, registry, run.cp),
                                run.prule.full_id, round(new, SCORE_DIGITS))
                best = (key, test)
    return best[1] if best else None


# --- the differential ------------------------------------------------------------------------------------

NOT_ASKED_KINDS = ("symptom", "finding")


def not_asked_as_unknown(cp: CompiledPack, leaves: Mapping[int, LeafResult],
                         registry: Registry) -> Mapping[int, LeafResult]:
    """A symptom or finding absent from the record is *not asked*, not *absent*, for the differential: its
    test is unknown (reason `not-recorded`) and becomes a question to ask, never a finding against. Concepts
    marked `closed_world: true` keep their absence as "no"; conditions, drugs and allergies (problem and
    drug lists) too."""
    out = dict(leaves)
    for index in _askable_leaves(cp, registry.concepts):
        res = leaves[index]
        if res.outcome is FALSE and not res.facts:
            out[index] = _NOT_RECORDED
    return out


_NOT_RECORDED = LeafResult(UNKNOWN, missing="not-recorded")
_askable_of: ByIdentity[tuple[int, ...]] = ByIdentity(_MAX_CACHED)  # per compiled pack and concept set


def _askable_leaves(cp: CompiledPack, concepts: Any) -> tuple[int, ...]:
    """The `has` leaves of a compiled pack on a symptom or finding not closed-world (the only ones
    `not_asked_as_unknown` may change), once per pack and concept set."""
    def askable() -> tuple[int, ...]:
        out = []
        for cl in cp.leaves:
            concept = concepts.by_id.get(cl.leaf.has) if cl.leaf.has is not None else None
            if concept is not None and concept.kind in NOT_ASKED_KINDS and concept.closed_world is not True:
                out.append(cl.index)
        return tuple(out)
    return _askable_of.get_or_make(cp, askable, concepts)


_demographic_of: ByIdentity[frozenset[str]] = ByIdentity(_MAX_CACHED)  # per concept set


def _demographic(registry: Registry) -> frozenset[str]:
    """The demographic concepts (age, sex ...), once per concept set."""
    concepts = registry.concepts
    return _demographic_of.get_or_make(
        concepts, lambda: frozenset(c.id for c in concepts.by_id.values() if c.kind == "demographic"))


_syndromes: ByIdentity[tuple[str | None]] = ByIdentity(_MAX_CACHED)  # per rule and catalogue


def _syndrome(prule: PackRule, registry: Registry) -> str | None:
    """A TCM rule's syndrome: the catalogue syndrome of its disease that its title names (longest match).
    It depends on the rule and the catalogue alone: worked out once per rule (every evaluation asks)."""
    catalogue = registry.catalogue

    def find() -> tuple[str | None]:
        entry = catalogue.get(prule.rule.then.disease or "") if catalogue is not None else None
        if entry is None or entry.kind != "tcm":
            return (None,)
        named = [s.name for s in entry.syndromes if s.name in prule.rule.then.title.zh]
        return (max(named, key=lambda n: (len(n), n)) if named else None,)
    return _syndromes.get_or_make(prule, find, catalogue)[0]


def differential_group(prule: PackRule, registry: Registry) -> tuple[str, str] | None:
    """The group of a diagnosis rule in the differential (its disease and syndrome); None for other rules."""
    disease = prule.rule.then.disease
    if prule.kind != "diagnosis" or not disease:
        return None
    return disease, _syndrome(prule, registry) or ""


def rule_scores_without_data(cp: CompiledPack, leaves: Mapping[int, LeafResult],
                             registry: Registry) -> tuple[float | None, ...]:
    """The differential score of each rule of a pack (None: not a diagnosis, or decided against) for the leaf
    outcomes of a patient without data."""
    demographic = _demographic(registry)
    asked = not_asked_as_unknown(cp, leaves, registry)
    return tuple(None if differential_group(prule, registry) is None else
                 rule_score(decide(node, asked), cp, demographic, asked)
                 for prule, node in zip(cp.pack.rules, cp.rule_trees, strict=True))


def build_differential(rule_runs: Sequence[RuleRun], registry: Registry,
                       in_scope: Callable[[RuleRun], bool] = lambda run: True) -> tuple[Candidate, ...]:
    """The ranked differential from the diagnosis rules of every pack, decided on the patient's facts.

    Args:
        rule_runs: each diagnosis rule about a catalogue disease, with its pack's leaf outcomes.
        registry: for the catalogue (names, codes, TCM syndromes) and the concepts (titles, units).
        in_scope: whether a rule applies to the patient (its population scope, or its pack's default, as
            `run.prule.rule` / `run.cp.pack.meta` hold them); rules that do not are left out. Once the
            population scope lands on the engine, evaluate passes `check_scope(...).outcome != FALSE` here.
    """
    catalogue = registry.catalogue
    demographic = _demographic(registry)
    groups: dict[tuple[str, str], _Group] = {}
    asked: dict[int, Mapping[int, LeafResult]] = {}
    for run in rule_runs:
        disease = run.prule.rule.then.disease
        if run.prule.kind != "diagnosis" or not disease or not in_scope(run):
            continue
        if id(run.leaves) not in asked:
            asked[id(run.leaves)] = not_asked_as_unknown(run.cp, run.leaves, registry)
        run = RuleRun(run.prule, run.cp, run.node, asked[id(run.leaves)])
        syndrome = _syndrome(run.prule, registry)
        group = groups.setdefault((disease, syndrome or ""), _Group(disease, syndrome))
        group.runs.append((run, decide(run.node, run.leaves)))
    out: list[Candidate] = []
    for (disease, _), group in sorted(groups.items()):
        scores = [(rule_score(d, run.cp, demographic, run.leaves), run, d) for run, d in group.runs]
        live = [(s, run, d) for s, run, d in scores if s is not None]
        best = max((s for s, _, _ in live), default=0.0)
        if best <= 0:
            continue
        holds = any(d.outcome is TRUE for _, _, d in live)
        shown = [(run, cl, res, positive) for _, run, d in live for cl, res, positive in _shown_leaves(d, run)]
        counts = [_for(cl, res, positive, demographic) for _, cl, res, positive in shown]
        findings = (cl.leaf.subject in registry.concepts.by_id for f, (_, cl, _, _) in zip(counts, shown, strict=True)
                    if f)
        if not holds and not any(findings):
            continue  # met only through derived facts (e.g. "no red flags" = 0): no finding of the patient's
        live_criteria = [_criterion(*s) for s in shown]  # (made only now: most groups stop above)
        for_ = [c for c, f in zip(live_criteria, counts, strict=True) if f]
        dead_criteria = [c for s, run, d in scores if s is None for c in _criteria(d, run)]
        against = [c for c in (*live_criteria, *dead_criteria)
                   if (c.outcome == "false" and not c.exclusion) or (c.outcome == "true" and c.exclusion)]
        unknown = [c for c in live_criteria if c.outcome == "unknown"]
        entry = catalogue.get(disease) if catalogue is not None else None
        ref = DiseaseRef(entry.id, entry.code_system, entry.code, entry.name.zh, entry.name.en) if entry else \
            DiseaseRef(disease, "urn:cdss:local", None, disease, disease)
        status = "met" if best >= 1.0 and holds else "possible"
        live_group = _Group(disease, group.syndrome, [(run, d) for _, run, d in live])
        next_test = None if status == "met" else _next_test(live_group, best, registry, demographic)
        out.append(Candidate(ref, entry.kind if entry else "western", status, best,
                             tuple(sorted(run.prule.full_id for _, run, _ in live)), _sorted_unique(for_),
                             _sorted_unique(against), _sorted_unique(unknown), next_test, group.syndrome))
    return tuple(sorted(out, key=Candidate.sort_key))
