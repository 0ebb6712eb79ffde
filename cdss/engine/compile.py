"""Engine: rules -> engine-neutral tests, grouped by stage, for a matcher (`cdss.engine.matcher`).

Every distinct leaf test of a pack (``sbp latest >= 180``, ``has diabetes``, ``crb65 >= 2``) becomes one
`LeafTest` on facts of one *measure* (a concept summarised one way: latest value, mean of the last 3, day
means within 365 days ...). The matcher decides which facts meet which tests; the engine then combines
the outcomes of a rule's tests with three-valued logic, so that a test on absent data is *unknown* and
yields a data gap instead of advice.

Derived facts (scores, grades) are computed from the outcomes of their parts, then matched in a later
stage: stage 0 holds the tests on patient data, stage n the tests on derived facts of depth n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from cdss.engine.matcher import LeafTest, LeafTestId, StageTests
from cdss.errors import PackError
from cdss.intake.facts import AGE_CONCEPTS
from cdss.packs.registry import Pack, walk_leaves
from cdss.packs.schema import AllOf, AnyOf, Condition, Derived, Leaf, NotOf
from cdss.vocab.locks import module_lock


def measure_key(leaf: Leaf) -> str:
    """The measure a leaf tests: which concept, summarised how, over which readings."""
    if leaf.has is not None:
        return f"has|{leaf.has}|w{leaf.within_days}"
    if leaf.on_days is not None:
        direction = "hi" if leaf.op in (">", ">=") else "lo"
        return f"{leaf.concept}|day{leaf.on_days}{direction}|w{leaf.within_days}"
    return f"{leaf.concept}|{leaf.stat}|n{leaf.last_n}|w{leaf.within_days}"


def derived_key(derived_id: str) -> str:
    """The measure of a derived fact (a score, a grade): its latest and only value."""
    return f"{derived_id}|latest|nNone|wNone"


@dataclass(frozen=True)
class CompiledLeaf:
    index: int
    leaf: Leaf
    key: str
    stage: int
    derived: bool  # tests a derived fact (has lower and upper bounds)
    text: str = ""  # the leaf as a clinician reads it (`describe`)
    ranged: bool = False  # its fact has lower and upper bounds: a derived fact, or an age (a partial birth date)
    # Its tests' ids in a matcher's firings (`possible`: a ranged fact that may meet it), made once here: every
    # evaluation looks its firings up by them.
    test: LeafTestId = field(init=False, repr=False, compare=False)
    possible_test: LeafTestId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", LeafTestId(self.index))
        object.__setattr__(self, "possible_test", LeafTestId(self.index, possible=True))


@dataclass
class CompiledPack:
    """A pack ready to run: its leaves, derived facts in dependency order, and its tests by stage."""

    pack: Pack
    leaves: list[CompiledLeaf] = field(default_factory=list)
    leaf_index: dict[Leaf, int] = field(default_factory=dict)
    derived_order: list[Derived] = field(default_factory=list)
    derived_stage: dict[str, int] = field(default_factory=dict)
    groups: dict[int, StageTests] = field(default_factory=dict)  # stage -> the tests of that stage
    rule_trees: list[Node] = field(default_factory=list)  # aligned with pack.rules
    part_trees: dict[str, list[Node]] = field(default_factory=dict)  # derived id -> one per part
    # Canonical keys (`cdss.engine.shared`): equal keys, in any packs, give equal outcomes, traces and gaps.
    leaf_keys: list[str] = field(default_factory=list)  # aligned with leaves
    derived_keys: dict[str, str] = field(default_factory=dict)  # derived id -> its definition's key
    rule_keys: list[str] = field(default_factory=list)  # aligned with rule_trees


@dataclass(frozen=True)
class LeafNode:
    """A leaf of a condition: the index of its test in `CompiledPack.leaves`."""

    index: int


@dataclass(frozen=True)
class AllNode:
    items: tuple[Node, ...]
    name: str | None = None  # a named definition (`{use: NAME}`, pack format v2): the trace shows the name


@dataclass(frozen=True)
class AnyNode:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class NotNode:
    item: Node


# A condition with its leaves replaced by leaf indexes, walked once per rule by `cdss.engine.decide`.
Node = LeafNode | AllNode | AnyNode | NotNode


def to_node(cond: Condition, index: dict[Leaf, int]) -> Node:
    if isinstance(cond, AllOf):
        return AllNode(tuple(to_node(c, index) for c in cond.all), getattr(cond, "name", None))
    if isinstance(cond, AnyOf):
        return AnyNode(tuple(to_node(c, index) for c in cond.any))
    if isinstance(cond, NotOf):
        return NotNode(to_node(cond.not_, index))
    return LeafNode(index[cond])


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def node_key(node: Node, leaf_keys: list[str]) -> str:
    """A condition tree's canonical text: its structure (and definition names) over its leaves' keys."""
    if isinstance(node, LeafNode):
        return leaf_keys[node.index]
    if isinstance(node, NotNode):
        return f"not({node_key(node.item, leaf_keys)})"
    items = ",".join(node_key(n, leaf_keys) for n in node.items)
    return f"any({items})" if isinstance(node, AnyNode) else f"all{node.name!r}({items})"


def _keys(out: CompiledPack) -> None:
    """The canonical keys of a compiled pack's derived facts, leaves and rules (see `CompiledPack`).

    A derived fact's key is its whole definition (id, parts, title ...) and the keys of the derived facts its
    parts test; a leaf's key is the leaf itself, and for a test on a derived fact that fact's key too; a
    rule's key is its condition's structure over its leaves' keys. So two keys are equal only when every input
    of the outcome, the trace and the data gaps is: nothing of the pack's own (id, rule ids) is in them."""
    by_id = {d.id: d for d in out.pack.derived}
    for d in out.derived_order:  # dependencies first (by stage)
        deps = sorted({leaf.concept for part in d.parts for leaf in leaves_of(part.when) if leaf.concept in by_id})
        out.derived_keys[d.id] = _digest("|".join((repr(d), *(out.derived_keys[x] for x in deps))))
    out.leaf_keys = [_digest(f"d:{out.derived_keys[cl.leaf.concept]}|{cl.leaf!r}" if cl.derived else  # type: ignore[index]
                             f"l:{cl.leaf!r}") for cl in out.leaves]
    out.rule_keys = [_digest(node_key(node, out.leaf_keys)) for node in out.rule_trees]


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


def leaves_of(cond: Condition) -> Iterator[Leaf]:
    """Every leaf of a condition tree (the registry's walk, without positions)."""
    return (leaf for leaf, _ in walk_leaves(cond))


def _derived_stages(derived: tuple[Derived, ...]) -> dict[str, int]:
    """Stage of each derived fact: 1 + the deepest derived fact its parts test."""
    by_id = {d.id: d for d in derived}
    stage: dict[str, int] = {}

    def visit(d: Derived, path: tuple[str, ...]) -> int:
        if d.id in stage:
            return stage[d.id]
        if d.id in path:
            raise PackError.one(f"derived facts depend on each other in a cycle: {' -> '.join((*path, d.id))}",
                                "derived-cycle", field=f"derived.{d.id}")
        deepest = 0
        for part in d.parts:
            for leaf in leaves_of(part.when):
                if leaf.concept in by_id:
                    deepest = max(deepest, visit(by_id[leaf.concept], (*path, d.id)))
        stage[d.id] = deepest + 1
        return stage[d.id]

    for d in derived:
        visit(d, ())
    return stage


_cache: dict[str, CompiledPack] = {}
_cache_lock = module_lock(globals(), "_cache_lock")


def compile_pack(pack: Pack) -> CompiledPack:
    """Compile a pack, once per process per version and content hash.

    Raises:
        PackError: derived facts that depend on each other in a cycle.
    """
    key = f"{pack.key}#{pack.sha256}"
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _compile(pack)
        return _cache[key]


def _compile(pack: Pack) -> CompiledPack:
    out = CompiledPack(pack=pack)
    out.derived_stage = _derived_stages(pack.derived)
    out.derived_order = sorted(pack.derived, key=lambda d: (out.derived_stage[d.id], d.id))

    def add(leaf: Leaf) -> None:
        if leaf in out.leaf_index:
            return
        is_derived = leaf.concept in out.derived_stage
        stage = out.derived_stage[leaf.concept] if is_derived else 0  # type: ignore[index]
        compiled = CompiledLeaf(len(out.leaves), leaf, measure_key(leaf), stage, is_derived, describe(leaf),
                                is_derived or leaf.concept in AGE_CONCEPTS)
        out.leaf_index[leaf] = compiled.index
        out.leaves.append(compiled)

    for d in out.derived_order:
        for part in d.parts:
            for leaf in leaves_of(part.when):
                add(leaf)
    for rule in pack.rules:
        for leaf in leaves_of(rule.rule.when):
            add(leaf)

    out.rule_trees = [to_node(r.rule.when, out.leaf_index) for r in pack.rules]
    out.part_trees = {d.id: [to_node(p.when, out.leaf_index) for p in d.parts] for d in pack.derived}
    _keys(out)

    by_stage: dict[int, list[LeafTest]] = {}
    for cl in out.leaves:
        tests = by_stage.setdefault(cl.stage, [])
        leaf = cl.leaf
        if leaf.has is not None:
            tests.append(LeafTest(cl.test, cl.key))
            continue
        if cl.ranged:
            # Lower and upper bounds (a score with unknown parts, an age): "sure" uses the bound that must hold,
            # "possible" the one that may (see evaluate._Evaluation.leaf_result).
            sure, possible = ("value", "upper") if leaf.op in (">", ">=") else ("upper", "value")
            if leaf.op in ("==", "!=", "in"):
                sure = possible = "value"
            tests.append(LeafTest(cl.test, cl.key, leaf.op, leaf.value, sure))
            tests.append(LeafTest(cl.possible_test, cl.key, leaf.op, leaf.value, possible))
        else:
            tests.append(LeafTest(cl.test, cl.key, leaf.op, leaf.value))
    base = f"{pack.id}@{pack.version}#{pack.sha256[:12]}"
    out.groups = {stage: StageTests(f"{base}:s{stage}", tuple(tests)) for stage, tests in sorted(by_stage.items())}
    return out
