"""Engine: a derived fact's part traces are built when first shown, once, and never kept unbuilt."""

from __future__ import annotations

import pickle

from cdss.engine.decide import Later, PartTraces
from cdss.engine.results import trusted_trace


def test_part_traces_are_built_once_when_first_read_and_shared_unbuilt():
    built = []

    def make():
        built.append(1)
        return (trusted_trace("BMI >= 28", "true"),)

    traces = PartTraces()
    traces.put_later("score", make)
    assert isinstance(traces.raw("score"), Later) and built == []  # summed, not shown: nothing built
    other = PartTraces()
    other["score"] = traces.raw("score")  # another pack with the same definition shares it, unbuilt
    assert [t.text for t in other.get("score")] == ["BMI >= 28"]
    assert traces["score"] is other["score"] and built == [1]  # built once for both
    assert traces.get("absent", ()) == ()


def test_resolved_part_traces_hold_only_built_traces_so_a_baseline_can_be_cached():
    traces = PartTraces()
    traces.put_later("score", lambda: (trusted_trace("age >= 65", "unknown"),))
    traces["table"] = (trusted_trace("row 1", "false"),)
    kept = pickle.loads(pickle.dumps(traces.resolved()))  # the pack cache pickles each pack's baseline
    assert {k: [t.text for t in v] for k, v in kept.items()} == {"score": ["age >= 65"], "table": ["row 1"]}


def test_an_evaluation_leaves_no_unbuilt_part_traces_for_the_cyclic_collector(now):
    # Found in review: an unbuilt Later holds its pack's PartTraces, which holds the Later: each evaluation's
    # leaves and decisions were freed by the cyclic collector only. Refcounting alone must free them.
    import gc

    from cdss.engine.evaluate import evaluate
    from cdss.packs.registry import default_registry
    from cdss.testing.factories import synthetic_bundle

    registry = default_registry()  # every pack: many scores

    bundle = synthetic_bundle(50, concepts=registry.concepts, now=now)  # scores summed, most never shown
    evaluate(bundle, now=now, registry=registry)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            evaluate(bundle, now=now, registry=registry)
        assert not [o for o in gc.get_objects() if type(o) is Later]
    finally:
        if enabled:
            gc.enable()
