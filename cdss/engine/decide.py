"""Engine: a rule's condition, decided. One walk of its nodes gives the outcome, the trace shown as the
rationale, and the leaves whose missing data keep it undecided (the data gaps), together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cdss.engine.compile import AllNode, AnyNode, CompiledPack, LeafNode, Node, NotNode
from cdss.engine.memo import ByIdentity
from cdss.engine.results import ConditionTrace, Evidence, trusted_trace
from cdss.engine.truth import FALSE, NOT, TRUE, UNKNOWN, WORD, Truth


class LeafResult(NamedTuple):
    """A leaf test, decided: its outcome, the facts behind it, and why data are missing when unknown.
    (A named tuple: made hundreds of times per evaluation.)"""

    outcome: Truth
    facts: tuple[Evidence, ...] = ()
    missing: str | None = None  # absent | stale | unknown-unit | implausible | too-few-days | incomplete | imprecise


class _Compiled:
    """A condition node compiled once into a function of the leaves' outcomes, with its items compiled."""

    __slots__ = ("node", "outcome", "items")

    def __init__(self, node: Node, outcome: Callable[[Mapping[int, LeafResult]], Truth],
                 items: tuple[_Compiled, ...]):
        self.node = node
        self.outcome = outcome
        self.items = items


class Decided:
    """A condition node with its outcome and its items, decided. The items are decided when first asked
    for: most rules are only asked for their outcome."""

    __slots__ = ("outcome", "node", "_compiled", "_leaves", "_items")

    def __init__(self, outcome: Truth, compiled: _Compiled, leaves: Mapping[int, LeafResult]):
        self.outcome = outcome
        self.node: Node = compiled.node
        self._compiled = compiled
        self._leaves = leaves
        self._items: tuple[Decided, ...] | None = None

    @property
    def items(self) -> tuple[Decided, ...]:
        if self._items is None:
            leaves = self._leaves
            self._items = tuple(Decided(c.outcome(leaves), c, leaves) for c in self._compiled.items)
        return self._items

    def __repr__(self) -> str:
        return f"Decided({self.outcome!r}, {self.node!r}, {self.items!r})"


def _compile(node: Node) -> _Compiled:
    """A node's outcome as a function of the leaves' outcomes: Kleene's logic (`cdss.engine.truth`),
    short-circuiting. The folds are written out, not `all_of` over a generator, and an item that is a leaf is
    read from the leaves directly: every active rule of every evaluation runs these."""
    if isinstance(node, LeafNode):
        index = node.index
        return _Compiled(node, lambda leaves: leaves[index][0], ())
    if isinstance(node, NotNode):
        inner = _compile(node.item)
        inner_outcome = inner.outcome
        return _Compiled(node, lambda leaves: NOT[inner_outcome(leaves)], (inner,))
    items = tuple(_compile(n) for n in node.items)
    return _Compiled(node, _fold(node, items), items)


def _fold(node: AllNode | AnyNode, items: tuple[_Compiled, ...]) -> Callable[[Mapping[int, LeafResult]], Truth]:
    """`all` (false at the first false item) or `any` (true at the first true item); else unknown if an item
    is unknown. Leaf items are (index, None), other items (None, their outcome function)."""
    stop, otherwise = (FALSE, TRUE) if isinstance(node, AllNode) else (TRUE, FALSE)
    parts = tuple((c.node.index, None) if isinstance(c.node, LeafNode) else (None, c.outcome) for c in items)

    def outcome(leaves: Mapping[int, LeafResult]) -> Truth:
        unknown = False
        for index, inner in parts:
            value = leaves[index][0] if inner is None else inner(leaves)
            if value is stop:
                return stop
            if value is UNKNOWN:
                unknown = True
        return UNKNOWN if unknown else otherwise
    return outcome


_compiled: ByIdentity[_Compiled] = ByIdentity(100_000)  # per condition node of the packs in this process


def decide(node: Node, leaves: Mapping[int, LeafResult]) -> Decided:
    """The outcome of a condition from its leaves' outcomes (three-valued); its items when asked for."""
    found = _compiled.get_alone(node) or _compiled.put(node, _compile(node))
    return Decided(found.outcome(leaves), found, leaves)


class GapRow(NamedTuple):
    """One missing datum of one rule: `concept` is missing for `reason`, so `rule` (of `urgency`) is undecided."""

    concept: str
    reason: str
    rule: str
    urgency: str


def unknown_leaves(decided: Decided) -> list[int]:
    """The leaves whose missing data keep an unknown (sub)condition from being decided."""
    if decided.outcome is not UNKNOWN:
        return []
    if isinstance(decided.node, LeafNode):
        return [decided.node.index]
    return [i for item in decided.items for i in unknown_leaves(item)]


class PartTraces(dict):
    """Derived fact id -> the traces of its parts, as a rationale shows them under the fact's test. A value may
    be put as a `Later` (`put_later`): the traces are then built when first read (`get`, `[]`, `resolved`),
    since most derived facts are summed for their tests and never shown. A `Later` reads leaves decided
    before the fact was summed, which no later stage changes (as `Decided.items` does)."""

    __slots__ = ()

    def put_later(self, did: str, make: Callable[[], tuple[ConditionTrace, ...]]) -> None:
        dict.__setitem__(self, did, Later(make))

    def raw(self, did: str) -> tuple[ConditionTrace, ...] | Later | None:
        """The value as put, unbuilt (to share a `Later` with another pack without building it)."""
        return dict.get(self, did)

    def get(self, did: str, default: Any = None) -> Any:  # type: ignore[override]
        value = dict.get(self, did, default)
        return value() if value.__class__ is Later else value

    def __getitem__(self, did: str) -> tuple[ConditionTrace, ...]:
        value = dict.__getitem__(self, did)
        return value() if value.__class__ is Later else value

    def resolved(self) -> dict[str, tuple[ConditionTrace, ...]]:
        """Every value built (for a baseline kept beyond this evaluation, or stored in the pack cache)."""
        return {did: self[did] for did in self}


class Later:
    """Traces built once, when first asked for."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], tuple[ConditionTrace, ...]]):
        self._make: Callable[[], tuple[ConditionTrace, ...]] | None = make
        self._value: tuple[ConditionTrace, ...] = ()

    def __call__(self) -> tuple[ConditionTrace, ...]:
        if self._make is not None:
            self._value, self._make = self._make(), None
        return self._value


def trace(decided: Decided, cp: CompiledPack, leaves: Mapping[int, LeafResult],
          parts: Mapping[str, tuple[ConditionTrace, ...]]) -> ConditionTrace:
    """The condition as shown in a rationale: an `any` that holds shows only the items that hold."""
    node = decided.node
    if isinstance(node, LeafNode):
        cl = cp.leaves[node.index]
        res = leaves[node.index]
        return trusted_trace(cl.text, WORD[res.outcome], res.facts,
                             parts.get(cl.leaf.concept or "", ()) if cl.derived else ())
    outcome = decided.outcome
    if isinstance(node, AnyNode) and outcome is TRUE:
        shown = tuple(trace(i, cp, leaves, parts) for i in decided.items if i.outcome is TRUE)
    else:
        shown = tuple(trace(i, cp, leaves, parts) for i in decided.items)
    if isinstance(node, NotNode):
        return trusted_trace("not", WORD[outcome], (), shown)
    if isinstance(node, AllNode) and node.name:
        return trusted_trace(node.name, WORD[outcome], (), shown)
    return trusted_trace("any" if isinstance(node, AnyNode) else "all", WORD[outcome], (), shown)
