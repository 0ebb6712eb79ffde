"""Engine: a rule's condition, decided. One walk of its nodes gives the outcome, the trace shown as the
rationale, and the leaves whose missing data keep it undecided (the data gaps), together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from cdss.engine.compile import AllNode, AnyNode, CompiledPack, LeafNode, Node, NotNode
from cdss.engine.results import ConditionTrace, Evidence
from cdss.engine.truth import Truth, all_of, any_of


@dataclass(frozen=True)
class LeafResult:
    """A leaf test, decided: its outcome, the facts behind it, and why data are missing when unknown."""

    outcome: Truth
    facts: tuple[Evidence, ...] = ()
    missing: str | None = None  # absent | stale | unknown-unit | implausible | too-few-days | incomplete


class Decided(NamedTuple):
    """A condition node with its outcome and its items, decided."""

    outcome: Truth
    node: Node
    items: tuple[Decided, ...] = ()


class GapRow(NamedTuple):
    """One missing datum of one rule: `concept` is missing for `reason`, so `rule` (of `urgency`) is undecided."""

    concept: str
    reason: str
    rule: str
    urgency: str


def decide(node: Node, leaves: Mapping[int, LeafResult]) -> Decided:
    """The outcome of a condition from its leaves' outcomes (three-valued), each node once."""
    if isinstance(node, LeafNode):
        return Decided(leaves[node.index].outcome, node)
    if isinstance(node, NotNode):
        inner = decide(node.item, leaves)
        return Decided(inner.outcome.not_(), node, (inner,))
    items = tuple(decide(n, leaves) for n in node.items)
    combine = all_of if isinstance(node, AllNode) else any_of
    return Decided(combine(i.outcome for i in items), node, items)


def unknown_leaves(decided: Decided) -> list[int]:
    """The leaves whose missing data keep an unknown (sub)condition from being decided."""
    if decided.outcome is not Truth.UNKNOWN:
        return []
    if isinstance(decided.node, LeafNode):
        return [decided.node.index]
    return [i for item in decided.items for i in unknown_leaves(item)]


def trace(decided: Decided, cp: CompiledPack, leaves: Mapping[int, LeafResult],
          parts: Mapping[str, tuple[ConditionTrace, ...]]) -> ConditionTrace:
    """The condition as shown in a rationale: an `any` that holds shows only the items that hold."""
    node = decided.node
    if isinstance(node, LeafNode):
        cl = cp.leaves[node.index]
        res = leaves[node.index]
        return ConditionTrace(cl.text, res.outcome.value, res.facts,
                              parts.get(cl.leaf.concept or "", ()) if cl.derived else ())
    items = [trace(i, cp, leaves, parts) for i in decided.items]
    if isinstance(node, NotNode):
        return ConditionTrace("not", decided.outcome.value, (), tuple(items))
    if isinstance(node, AnyNode) and decided.outcome is Truth.TRUE:
        items = [t for t in items if t.outcome == Truth.TRUE]
    if isinstance(node, AllNode) and node.name:
        return ConditionTrace(node.name, decided.outcome.value, (), tuple(items))
    return ConditionTrace("any" if isinstance(node, AnyNode) else "all", decided.outcome.value, (), tuple(items))
