"""Engine: identical conditions, in any packs, worked out once per evaluation.

Packs share many tests (`sbp latest >= 140`), derived facts and whole conditions. `cdss.engine.compile`
gives each leaf, derived fact and rule condition a canonical key (`CompiledPack.leaf_keys`, `derived_keys`,
`rule_keys`): its content and the keys of what it depends on, never a pack or rule id. Two equal keys have
equal inputs, so within one evaluation they have equal outcomes, traces and data gaps; the first pack that
needs a key works it out and every other pack takes the result:

- a leaf's outcome (`LeafResult`): matched and worked out for the first pack whose test it is at that stage;
- a derived fact (a score): summed once, its parts' traces shared, its fact renumbered for each further pack
  that tests it (a matcher run needs each fact's id once);
- a rule's condition: decided once; its trace (the rationale) and the (concept, reason) of its data gaps
  are worked out once, the first time a rule with that key needs them, and given to every rule with the key
  under that rule's own id and urgency.

- the differential: a diagnosis rule with the condition and group (disease, syndrome) of an earlier one is
  scored as that one (`differential`).

The population scope, the rule's kind and its `gaps` setting stay per rule (`cdss.engine.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdss.engine.compile import CompiledPack, Node
from cdss.engine.decide import Decided, LeafResult, decide, trace
from cdss.engine.differential import RuleRun, build_differential
from cdss.engine.results import Candidate, ConditionTrace, Criterion, walk_facts
from cdss.packs.registry import Registry


class Condition:
    """One decided condition key: the first rule's decision, with what its trace and gaps are made of.
    (A slotted class with a plain `__init__`: made for every decided key of every evaluation.)"""

    __slots__ = ("decided", "cp", "leaves", "parts", "traced", "gaps", "shown")

    def __init__(self, decided: Decided, cp: CompiledPack, leaves: Mapping[int, LeafResult],
                 parts: Mapping[str, tuple[ConditionTrace, ...]]):
        self.decided = decided
        self.cp = cp
        self.leaves = leaves
        self.parts = parts
        self.traced: ConditionTrace | None = None
        self.gaps: tuple[tuple[str, str], ...] | None = None
        self.shown: tuple[tuple[ConditionTrace, ...], list[tuple[str, str, str]]] | None = None

    def trace(self) -> ConditionTrace:
        """The condition as shown in a rationale (`cdss.engine.decide.trace`), once."""
        if self.traced is None:
            self.traced = trace(self.decided, self.cp, self.leaves, self.parts)
        return self.traced

    def rationale(self) -> tuple[tuple[ConditionTrace, ...], list[tuple[str, str, str]]]:
        """The rationale of a suggestion with this condition, and its evidence key (`evidence_key`), once."""
        if self.shown is None:
            rationale = rationale_of(self.trace())
            self.shown = rationale, evidence_key(rationale)
        return self.shown


def rationale_of(root: ConditionTrace) -> tuple[ConditionTrace, ...]:
    """A suggestion's rationale: the items of its condition's top `all` or `any`, else the condition."""
    return root.parts if root.text in ("all", "any") else (root,)


def evidence_key(rationale: tuple[ConditionTrace, ...]) -> list[tuple[str, str, str]]:
    """The facts behind a rationale, as a suggestion's id counts them: (concept, value, source), sorted."""
    return sorted({(e.concept, str(e.value), e.source) for t in rationale for e in walk_facts(t)})


@dataclass
class Shared:
    """What one evaluation has worked out, by canonical key."""

    leaves: dict[str, LeafResult] = field(default_factory=dict)
    derived: dict[str, tuple[Any, tuple[ConditionTrace, ...] | None]] = field(default_factory=dict)
    conditions: dict[str, Condition] = field(default_factory=dict)

    def condition(self, key: str, node: Node, cp: CompiledPack, leaves: Mapping[int, LeafResult],
                  parts: Mapping[str, tuple[ConditionTrace, ...]]) -> Condition:
        """The decided condition of this key, decided now with these leaves if no rule had it yet."""
        found = self.conditions.get(key)
        if found is None:
            found = self.conditions[key] = Condition(decide(node, leaves), cp, leaves, parts)
        return found

    def gaps(self, c: Condition, rows: Callable[[Decided], list[tuple[str, str]]]) -> tuple[tuple[str, str], ...]:
        """The (concept, reason) data gaps of an unknown condition, once per key."""
        if c.gaps is None:
            c.gaps = tuple(rows(c.decided))
        return c.gaps


def differential(firsts: list[RuleRun], twins: Mapping[str, list[str]], registry: Registry,
                 build: Callable[[list[RuleRun], Registry], tuple[Candidate, ...]] = build_differential,
                 ) -> tuple[Candidate, ...]:
    """`build` (`cdss.engine.differential.build_differential`) of the diagnosis rules `firsts`, each standing
    for itself and for its *twins*: the later rules with its condition key and differential group (disease,
    syndrome), by rule id. A twin's score, criteria and next test are its first's, under its own rule id, so
    only the firsts are scored; then every candidate takes its twins' rule ids and criteria. (The next test
    stays the first's: on a tie the differential keeps the earlier rule.)"""
    out = build(firsts, registry)
    return tuple(_with_twins(c, twins) for c in out) if twins else out


def _with_twins(c: Candidate, twins: Mapping[str, list[str]]) -> Candidate:
    def criteria(items: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        copies = [x.model_copy(update={"rule": t}) for x in items for t in twins.get(x.rule, ())]
        if not copies:
            return items
        kept: dict[tuple[str, str, str, bool], Criterion] = {}
        for x in (*items, *copies):
            kept.setdefault((x.rule, x.concept, x.text, x.exclusion), x)
        return tuple(sorted(kept.values(), key=lambda x: (x.rule, x.concept, x.text, x.exclusion)))

    rules = tuple(sorted((*c.rules, *(t for r in c.rules for t in twins.get(r, ())))))
    return c.model_copy(update={"rules": rules, "for_": criteria(c.for_), "against": criteria(c.against),
                                "unknown": criteria(c.unknown)})
