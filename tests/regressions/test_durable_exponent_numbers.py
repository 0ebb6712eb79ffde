"""Regression (found in review, defect 13 of cdss/engine/durable.py): durable-rules' C core crashes the whole
process (SIGSEGV) on a number written with an exponent and no decimal point, which is how Python's JSON
writes floats such as 0.00001 (`1e-05`) or 1e16 (reproduced with one fact and one rule; whether it crashes
depends on the engine's memory, so an evaluation may survive it or not). Such a value reaches the engine from a
plausible reading: a chest pain lasting 0.00001 min (its plausible range starts at 0) becomes the fact
`"v": 1e-05`. Now facts reach the engine as `1.0e-05`, which it reads correctly."""

from __future__ import annotations

import pytest

from cdss.engine import durable
from cdss.engine.evaluate import evaluate
from cdss.engine.matcher import PlainMatcher
from cdss.packs.registry import default_registry
from cdss.testing.cases import CaseFact
from cdss.testing.factories import bundle_from_facts
from tests.conftest import NOW


@pytest.mark.parametrize(("value", "fires"), [(1e-05, False), (2.5e-04, True), (1e16, True), (-3e-06, False)])
def test_values_python_writes_with_an_exponent_are_matched_not_crashed_on(value, fires):
    rs = durable.Ruleset("t-exponent", {"L0": {"$and": [{"k": "a"}, {"$gte": {"v": 0.0002}}]}})
    assert durable.run([(rs, [{"id": 1, "k": "a", "v": value}])]) == ([("t-exponent", "L0", 1)] if fires else [])


def test_a_tiny_plausible_reading_is_evaluated_as_the_reference_matcher_does():
    registry = default_registry()
    unit = registry.concepts.by_id["chest_pain_duration"].unit
    facts = [CaseFact.model_validate({"concept": "chest_pain_duration", "value": 0.00001, "unit": unit,
                                      "days_ago": 1})]
    bundle = bundle_from_facts(facts, concepts=registry.concepts, now=NOW, age_years=60, sex="male")
    durable_answer = evaluate(bundle, now=NOW, registry=registry)
    plain_answer = evaluate(bundle, now=NOW, registry=registry, matcher=PlainMatcher())
    assert durable_answer.model_dump(mode="json") == plain_answer.model_dump(mode="json")


@pytest.mark.parametrize(("value", "fires"), [(2e-05, True), (5e-06, False), (1e-05, True)])
def test_a_threshold_python_writes_with_an_exponent_is_registered_and_compared(value, fires):
    # Found in review: a rule threshold below 0.0001 (a pack's `>= 0.00001 min`, or a unit conversion) was
    # written 1e-05 when the ruleset was registered: refused (error 204), failing every evaluation of every
    # pack merged with it, although the pack validated.
    rs = durable.Ruleset("t-tiny-threshold", {"L0": {"$and": [{"k": "a"}, {"$gte": {"v": 1e-05}}]}})
    assert durable.run([(rs, [{"id": 1, "k": "a", "v": value}])]) == ([("t-tiny-threshold", "L0", 1)] if fires else [])


def test_text_that_looks_like_an_exponent_inside_a_string_is_left_as_written():
    rs = durable.Ruleset("t-string-exponent", {"L0": {"$and": [{"k": "a"}, {"v": 'x": 1e5'}]}})
    assert durable.run([(rs, [{"id": 1, "k": "a", "v": 'x": 1e5'}])]) == [("t-string-exponent", "L0", 1)]
