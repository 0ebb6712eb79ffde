"""Engine: the two matchers agree. `PlainMatcher` is the reference; `DurableMatcher` (durable-rules, the
production default) must give the same firings on any facts, and every pack's example cases must pass
with either."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdss.engine.durable import MAX_RULES_PER_MEASURE, DurableMatcher
from cdss.engine.matcher import Fact, Firing, LeafTest, LeafTestId, PlainMatcher, StageTests, matcher_named
from cdss.errors import ConfigError
from cdss.packs.registry import default_registry
from cdss.testing.cases import read_pack_cases, run_case

_names = itertools.count()
KEYS = ("a|latest|nNone|wNone", "b|mean|n3|w90", "has|c|wNone", "sex|latest|nNone|wNone")
TEXT_KEY = "sex|latest|nNone|wNone"
WORDS = ("female", "male", "other")
numbers = st.one_of(st.integers(-300, 300), st.floats(-300, 300, allow_nan=False).map(lambda v: round(v, 3)))


@st.composite
def leaf_tests_of(draw: st.DrawFn, key: str, leaf: int) -> list[LeafTest]:
    if key.startswith("has|"):
        return [LeafTest(LeafTestId(leaf), key)]
    if key == TEXT_KEY:
        op = draw(st.sampled_from(["==", "!=", "in"]))
        value = tuple(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))) if op == "in" else \
            draw(st.sampled_from(WORDS))
        return [LeafTest(LeafTestId(leaf), key, op, value)]
    op = draw(st.sampled_from([">", ">=", "<", "<=", "==", "!=", "in"]))
    value = tuple(draw(st.lists(numbers, min_size=1, max_size=3))) if op == "in" else draw(numbers)
    if draw(st.booleans()):  # a derived fact's test: both bounds
        sure, possible = ("value", "upper") if op in (">", ">=") else ("upper", "value")
        return [LeafTest(LeafTestId(leaf), key, op, value, sure),
                LeafTest(LeafTestId(leaf, True), key, op, value, possible)]
    return [LeafTest(LeafTestId(leaf), key, op, value)]


@st.composite
def work(draw: st.DrawFn) -> list[tuple[StageTests, list[Fact]]]:
    out = []
    fact_ids = itertools.count(1)
    for _ in range(draw(st.integers(1, 3))):
        tests: list[LeafTest] = []
        for leaf in range(draw(st.integers(1, 12))):
            tests += draw(leaf_tests_of(draw(st.sampled_from(KEYS)), leaf))
        facts = []
        for _ in range(draw(st.integers(0, 8))):
            key = draw(st.sampled_from([*KEYS, "unused|latest|nNone|wNone"]))
            if key == TEXT_KEY:
                facts.append(Fact(next(fact_ids), key, draw(st.sampled_from(WORDS))))
            elif key.startswith("has|"):
                facts.append(Fact(next(fact_ids), key, True))
            else:
                low = draw(numbers)
                upper = draw(st.one_of(st.none(), numbers.map(lambda v, lo=low: max(lo, v))))
                facts.append(Fact(next(fact_ids), key, low, upper))
        out.append((StageTests(f"prop-{next(_names)}", tuple(tests)), facts))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(work())
def test_plain_and_durable_matchers_give_the_same_firings(groups):
    # Tests of the upper bound only ever see facts that have one (derived facts); the others never reach them.
    groups = [(g, [f for f in facts if f.upper is not None or not any(
        t.field == "upper" and t.key == f.key for t in g.tests)]) for g, facts in groups]
    assert DurableMatcher().match(groups) == PlainMatcher().match(groups)


def test_matchers_fire_on_the_test_that_holds():
    tests = (LeafTest(LeafTestId(0), "k", ">=", 180), LeafTest(LeafTestId(1), "k", "<", 90),
             LeafTest(LeafTestId(2), "p"))
    group = StageTests(f"prop-{next(_names)}", tests)
    facts = [Fact(1, "k", 185.0), Fact(2, "k", 80), Fact(3, "p", True), Fact(4, "other", 200)]
    expected = {Firing(group.name, LeafTestId(i), fact) for i, fact in ((0, 1), (1, 2), (2, 3))}
    for matcher in (PlainMatcher(), DurableMatcher()):
        assert matcher.match([(group, facts)]) == expected, matcher.name


def test_durable_matcher_splits_a_wide_group_within_its_limits():
    """More tests on one measure than one durable-rules ruleset may hold for one fact (defect 10)."""
    tests = tuple(LeafTest(LeafTestId(i), "k", ">=", i) for i in range(MAX_RULES_PER_MEASURE * 2 + 5))
    group = StageTests(f"prop-{next(_names)}", tests)
    fired = DurableMatcher().match([(group, [Fact(1, "k", 1000)])])
    assert fired == PlainMatcher().match([(group, [Fact(1, "k", 1000)])])
    assert len(fired) == len(tests)


def test_unknown_matcher_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown matcher"):
        matcher_named("drools")


def test_every_pack_case_passes_with_the_plain_matcher():
    registry = default_registry()
    failures = []
    for pack in registry.all():
        files, problems = read_pack_cases(pack)
        assert not problems
        for f in files:
            for case, line in f.cases:
                result = run_case(case, f.path, line, pack, registry, matcher=PlainMatcher())
                if not result.passed:
                    failures.append(f"{f.path}:{line}: {case.id}: {result.failures}")
    assert not failures, "\n".join(failures)
