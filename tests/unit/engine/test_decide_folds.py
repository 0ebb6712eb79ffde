"""Engine: a condition decided by its compiled folds (`cdss.engine.decide`) gives Kleene's outcome, the one
`truth.all_of` / `any_of` define, for any tree of all / any / not over leaves, and its items agree too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cdss.engine.compile import AllNode, AnyNode, LeafNode, Node, NotNode
from cdss.engine.decide import LeafResult, decide
from cdss.engine.truth import FALSE, TRUE, UNKNOWN, Truth, all_of, any_of

LEAVES = 6

trees = st.recursive(
    st.integers(0, LEAVES - 1).map(LeafNode),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: AllNode(tuple(items))),
        st.lists(inner, max_size=4).map(lambda items: AnyNode(tuple(items))),
        inner.map(NotNode)),
    max_leaves=12)
outcomes = st.lists(st.sampled_from((TRUE, FALSE, UNKNOWN)), min_size=LEAVES, max_size=LEAVES)


def kleene(node: Node, values: list[Truth]) -> Truth:
    if isinstance(node, LeafNode):
        return values[node.index]
    if isinstance(node, NotNode):
        return kleene(node.item, values).not_()
    fold = all_of if isinstance(node, AllNode) else any_of
    return fold([kleene(i, values) for i in node.items])


@given(trees, outcomes)
def test_a_decided_condition_has_kleenes_outcome_and_so_have_its_items(node, values):
    leaves = {i: LeafResult(v) for i, v in enumerate(values)}
    decided = decide(node, leaves)
    assert decided.outcome is kleene(node, values)
    for item in decided.items:
        assert item.outcome is kleene(item.node, values)


def test_an_empty_all_holds_and_an_empty_any_does_not():
    assert decide(AllNode(()), {}).outcome is TRUE
    assert decide(AnyNode(()), {}).outcome is FALSE
