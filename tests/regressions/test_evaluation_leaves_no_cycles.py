"""An evaluation must be freed by reference counting alone.

Found while profiling round 6: the intake reader held its fast path's bound method, whose object held the
reader, so every bundle's readings (one tuple per Observation) waited for the cyclic collector. At 500
resources that was ~520 objects per evaluation, and the collector's passes cost ~8 % of an evaluation.
"""

import gc

from cdss.engine.evaluate import evaluate
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import default_registry
from cdss.testing.factories import synthetic_bundle


def _cyclic_garbage_of(work) -> int:
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        work()
        return gc.collect()  # the number of unreachable objects found: those only a cycle kept
    finally:
        if enabled:
            gc.enable()


def test_reading_a_bundle_leaves_no_cycles(now):
    registry = default_registry()
    bundle = synthetic_bundle(200, concepts=registry.concepts, now=now)
    read_bundle(bundle, registry.concepts)  # (first use fills per-process memos)
    assert _cyclic_garbage_of(lambda: read_bundle(bundle, registry.concepts)) == 0


def test_an_evaluation_with_every_pack_leaves_no_cycles(now):
    registry = default_registry()
    bundle = synthetic_bundle(200, concepts=registry.concepts, now=now)
    evaluate(bundle, now=now, registry=registry)
    assert _cyclic_garbage_of(lambda: evaluate(bundle, now=now, registry=registry)) == 0
