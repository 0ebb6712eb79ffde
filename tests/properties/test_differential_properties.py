"""Properties of the differential over every bundled pack's diagnosis rules, on generated leaf outcomes:
a criterion met never lowers its condition's score; the next test, once met, raises it; a rule out of the
patient's scope (or decided against, e.g. by an age or sex test) never takes part."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdss.engine.compile import AllNode, CompiledPack, LeafNode, Node, NotNode, compile_pack
from cdss.engine.decide import LeafResult, decide
from cdss.engine.differential import RuleRun, build_differential, not_asked_as_unknown
from cdss.engine.truth import Truth
from cdss.packs.registry import default_registry

REGISTRY = default_registry()
DEMOGRAPHIC = {c.id for c in REGISTRY.concepts.by_id.values() if c.kind == "demographic"}
PACKS = [cp for cp in (compile_pack(p) for p in REGISTRY.select())
         if any(r.kind == "diagnosis" and r.rule.then.disease for r in cp.pack.rules)]


def polar_leaves(node: Node, positive: bool = True) -> Iterator[tuple[int, bool]]:
    if isinstance(node, LeafNode):
        yield node.index, positive
    elif isinstance(node, NotNode):
        yield from polar_leaves(node.item, not positive)
    else:
        for item in node.items:
            yield from polar_leaves(item, positive)


def runs(cp: CompiledPack, leaves: dict[int, LeafResult]) -> list[RuleRun]:
    return [RuleRun(r, cp, n, leaves) for r, n in zip(cp.pack.rules, cp.rule_trees, strict=True)
            if r.kind == "diagnosis" and r.rule.then.disease]


def scores(cp: CompiledPack, leaves: dict[int, LeafResult], **kw: Any) -> dict[str, float]:
    """Each condition's score: its best candidate (a TCM disease has one candidate per syndrome)."""
    out: dict[str, float] = {}
    for c in build_differential(runs(cp, leaves), REGISTRY, **kw):
        out[c.disease.id] = max(out.get(c.disease.id, 0.0), c.score)
    return out


def candidate_scores(cp: CompiledPack, leaves: dict[int, LeafResult]) -> dict[tuple[str, str | None], float]:
    return {(c.disease.id, c.syndrome): c.score for c in build_differential(runs(cp, leaves), REGISTRY)}


OUTCOMES = [LeafResult(Truth.TRUE), LeafResult(Truth.FALSE), LeafResult(Truth.UNKNOWN, missing="absent"),
            LeafResult(Truth.UNKNOWN, missing="too-few-days")]


@st.composite
def situations(draw: Any) -> tuple[CompiledPack, dict[int, LeafResult]]:
    cp = draw(st.sampled_from(PACKS))
    leaves = {}
    for cl in cp.leaves:
        choices = OUTCOMES if cl.leaf.on_days is not None else OUTCOMES[:3]
        leaves[cl.index] = draw(st.sampled_from(choices))
    return cp, leaves


@settings(max_examples=150, deadline=None)
@given(situations(), st.data())
def test_a_criterion_met_never_lowers_its_conditions_score(situation: Any, data: Any) -> None:
    cp, leaves = situation
    diag = [(r, n) for r, n in zip(cp.pack.rules, cp.rule_trees, strict=True) if r.kind == "diagnosis"]
    rule, node = data.draw(st.sampled_from(diag))
    disease = rule.rule.then.disease
    positive = sorted({i for i, pos in polar_leaves(node) if pos})
    index = data.draw(st.sampled_from(positive))
    # the leaf must be a criterion (never an exclusion) in every rule of this condition
    same = [n for r, n in diag if r.rule.then.disease == disease]
    if any(i == index and not pos for n in same for i, pos in polar_leaves(n)):
        return
    before = scores(cp, leaves).get(disease, 0.0)
    after = scores(cp, {**leaves, index: LeafResult(Truth.TRUE)}).get(disease, 0.0)
    assert after >= before, (disease, cp.leaves[index].text)


@settings(max_examples=150, deadline=None)
@given(situations())
def test_the_next_test_once_met_raises_the_score(situation: Any) -> None:
    cp, leaves = situation
    asked = not_asked_as_unknown(cp, leaves, REGISTRY)  # what the differential decides on
    for c in build_differential(runs(cp, leaves), REGISTRY):
        if c.next_test is None:
            continue
        node = next(n for r, n in zip(cp.pack.rules, cp.rule_trees, strict=True) if r.full_id == c.next_test.rule)
        index = next(i for i, pos in polar_leaves(node) if pos and cp.leaves[i].text == c.next_test.criterion
                     and asked[i].outcome is Truth.UNKNOWN)
        after = candidate_scores(cp, {**leaves, index: LeafResult(Truth.TRUE)})[(c.disease.id, c.syndrome)]
        assert after > c.score
        assert after == c.next_test.score_if_met or after >= c.next_test.score_if_met


@settings(max_examples=150, deadline=None)
@given(situations(), st.data())
def test_nothing_out_of_scope_or_decided_against_takes_part(situation: Any, data: Any) -> None:
    cp, leaves = situation
    ids = sorted(r.full_id for r in cp.pack.rules if r.kind == "diagnosis")
    out_of_scope = set(data.draw(st.lists(st.sampled_from(ids), unique=True)))
    trees = {r.full_id: n for r, n in zip(cp.pack.rules, cp.rule_trees, strict=True)}
    asked = not_asked_as_unknown(cp, leaves, REGISTRY)
    for c in build_differential(runs(cp, leaves), REGISTRY, in_scope=lambda r: r.prule.full_id not in out_of_scope):
        assert c.score > 0
        for rule in c.rules:
            assert rule not in out_of_scope
            assert decide(trees[rule], asked).outcome is not Truth.FALSE
            # an age or sex test of the rule itself that is false excludes the rule
            top = trees[rule].items if isinstance(trees[rule], AllNode) else (trees[rule],)
            assert not any(isinstance(n, LeafNode) and cp.leaves[n.index].leaf.concept in DEMOGRAPHIC
                           and asked[n.index].outcome is Truth.FALSE for n in top)


def test_every_pack_with_diagnosis_rules_is_covered() -> None:
    assert len(PACKS) >= 10
