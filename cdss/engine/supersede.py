"""Engine: `supersedes` between rules, across packs.

When a rule fires together with a rule it supersedes (`kind/slug` in its own pack, `pack-id/kind/slug` in
another), the superseded suggestion leaves the advice list and goes to `Evaluation.superseded`, with the
rules that replaced it in `superseded_by`. Rules of packs that are not running are simply absent.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdss.engine.memo import ByIdentity
from cdss.engine.results import Suggestion
from cdss.packs.registry import Pack
from cdss.packs.safety_checks import split_target
from cdss.vocab.locks import module_lock

TARGETS_KEPT = 16  # selections of packs whose targets are kept per process
_targets: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
_by_selection: ByIdentity[dict[str, tuple[str, ...]]] = ByIdentity(TARGETS_KEPT)
_lock = module_lock(globals(), "_lock")


def targets(packs: Sequence[Pack]) -> dict[str, tuple[str, ...]]:
    """Full rule id -> full ids of the rules it supersedes (worked out once per selection of packs: looked up
    by the selection object, as `Registry.select` keeps it, then by the packs' keys and hashes)."""
    found = _by_selection.get(packs)
    if found is not None:
        return found
    key = tuple(f"{p.key}#{p.sha256}" for p in packs)
    found = _targets.get(key)
    if found is None:
        found = _targets_of(packs)
        with _lock:  # evaluations run in threads (the service's threadpool)
            while len(_targets) >= TARGETS_KEPT:
                _targets.pop(next(iter(_targets)), None)
            _targets[key] = found
    return _by_selection.put(packs, found) if isinstance(packs, tuple) else found  # (a list may change)


def _targets_of(packs: Sequence[Pack]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for pack in packs:
        for prule in pack.rules:
            resolved = [split_target(t, pack.id) for t in prule.rule.supersedes]
            if resolved:
                out[prule.full_id] = tuple("/".join(t) for t in resolved if t is not None)
    return out


def apply(suggestions: Sequence[Suggestion], packs: Sequence[Pack]) -> tuple[list[Suggestion], list[Suggestion]]:
    """(advice kept, advice superseded with `superseded_by` set)."""
    by_target: dict[str, set[str]] = {}
    fired = {s.rule_id: s for s in suggestions}
    replaces = targets(packs)
    for rule_id, fired_rule in fired.items():  # (the fired rules, not every rule that supersedes)
        for t in replaces.get(rule_id, ()):
            by_target.setdefault(t, set()).add(fired_rule.rule)
    kept, superseded = [], []
    for s in suggestions:
        if s.rule_id in by_target:
            superseded.append(s.model_copy(update={"superseded_by": tuple(sorted(by_target[s.rule_id]))}))
        else:
            kept.append(s)
    return kept, superseded
