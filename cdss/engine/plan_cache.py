"""Engine: the bundled registry ready to evaluate, from the pack cache: packs compiled, indexed, stages merged.

A process that evaluates first loads the registry (`cdss.packs.cache`), then compiles every selected pack,
builds each pack's rule index (its baseline: the pack evaluated on a patient with no data,
`cdss.engine.plan`) and merges the packs' test groups stage by stage. That work is the same in every
process, so `ready_registry()` stores its result beside the registry in the pack cache, in one entry: the
registry, the compiled packs, their indexes and the merged stages (pickled together, so they share their
objects exactly as in the process that built them).

The entry's key is the pack cache's (every bundled concept, catalogue and pack file, path and bytes; the
Python and pydantic versions; the working directory) plus the source of every module of the `cdss`
package (the engine, intake, packs and vocabulary code the index depends on) and `FORMAT`. So a changed
pack, concept, catalogue entry or engine module gives a new key, and the entry is rebuilt; an entry that
cannot be read (truncated, corrupted, from another version) is ignored and rebuilt, never used. The index
is a shortcut that gives the same result as walking every rule (tests/regressions/test_rule_index.py), and
the ready registry gives the same answers, byte for byte, as one loaded and indexed afresh
(tests/regressions/test_plan_cache.py).

Only the default selection (the newest active version of each bundled pack) is stored; a pinned version,
`--packs-dir` or a site ConceptMap (a new concept set) is compiled and indexed in the process, as before.
The durable-rules rulesets are registered in each process (they live in its C core, not in Python).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from cdss.packs.registry import Registry
from cdss.vocab.locks import module_lock

FORMAT = "1"  # bump when the stored state's shape changes
_CODE = Path(__file__).resolve().parent.parent  # the cdss package
_lock = module_lock(globals(), "_lock")
_ready: Registry | None = None
_digest: str | None = None


def code_digest() -> str:
    """sha256 of the source of every module of the cdss package (path and bytes), once per process."""
    global _digest
    if _digest is None:
        digest = hashlib.sha256()
        for path in sorted(_CODE.rglob("*.py")):
            digest.update(str(path.relative_to(_CODE)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        _digest = digest.hexdigest()
    return _digest


def ready_registry() -> Registry:
    """The bundled registry (as `default_registry()` loads it), with the default selection of packs compiled,
    indexed and merged, from the pack cache when nothing changed; once per process.

    Raises:
        PackError: a bundled pack, the catalogue or the concepts file is invalid.
    """
    global _ready
    with _lock:
        if _ready is None:
            from cdss.packs.cache import cache_dir
            from cdss.packs.registry import default_registry

            if cache_dir() is None:  # the cache is off: the work is done by the first evaluation, as it needs it
                _ready = default_registry()
            else:
                registry, state = load_ready()
                install(state)
                _ready = registry
        return _ready


def load_ready() -> tuple[Registry, dict[str, Any]]:
    """The stored (registry, engine state) when its key is unchanged, else built (and stored)."""
    from cdss.packs.cache import cached
    from cdss.packs.registry import _bundled_inputs

    return cached("ready", _bundled_inputs(), _build, FORMAT, code_digest())


def _build() -> tuple[Registry, dict[str, Any]]:
    """Load the registry and do, once, the work every evaluation of the default selection needs."""
    from cdss.engine import compile as compile_
    from cdss.engine import plan
    from cdss.engine.evaluate import evaluate_facts
    from cdss.engine.matcher import PlainMatcher
    from cdss.intake.facts import PatientFacts
    from cdss.packs.registry import load_registry

    registry = load_registry()
    packs = registry.select()
    # An evaluation of a patient without data compiles, indexes and merges every pack of the selection (the
    # plain matcher: nothing is registered with durable-rules here, each process registers its own).
    evaluate_facts(PatientFacts(patient="Patient/-", birth_date=None, sex=None),
                   now=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), registry=registry, packs=packs,
                   matcher=PlainMatcher())
    keys = {f"{p.key}#{p.sha256}" for p in packs}
    with compile_._cache_lock:
        compiled = {k: cp for k, cp in compile_._cache.items() if k in keys}
    groups = {g.name for cp in compiled.values() for g in cp.groups.values()}
    with plan._lock:
        indexes = [(name, found) for (name, _), found in plan._indexes.items()
                   if name in keys and found[0] is registry.concepts]
        merged = {names: m for names, m in plan._merged.items() if groups.issuperset(names[:-1])}
    return registry, {"compiled": compiled, "indexes": indexes, "merged": merged}


def install(state: dict[str, Any]) -> None:
    """Put the stored compiled packs, indexes and merged stages where the engine looks for them."""
    from cdss.engine import compile as compile_
    from cdss.engine import plan

    with compile_._cache_lock:
        for key, cp in state["compiled"].items():
            compile_._cache.setdefault(key, cp)
    with plan._lock:
        for name, (concepts, ix) in state["indexes"]:
            plan._indexes.setdefault((name, id(concepts)), (concepts, ix))
        for names, merged in state["merged"].items():
            if names in plan._merged or len(plan._merged) >= plan.MERGED_KEPT:
                continue
            plan._merged[names] = merged
            plan._selections.add(names)
