"""Testing: synthetic rule content that multiplies today's rules, for `cdss bench --rules-scale`.

`scaled_registry(registry, k)` holds every selected pack of `registry` and k - 1 copies of each: copy c of
pack `htn-community` is pack `htn-community-x<c>`, with the same rules, derived facts and sources, so the
full id of every copied rule is renamed (`htn-community-x2/referral/severe-bp-urgent-care`). A `supersedes`
target in another pack points at that pack's copy of the same number, so each copy behaves exactly like the
original: the same suggestions, data gaps and superseded advice, under renamed rule ids. The copies are
built in memory from the checked packs (no YAML is parsed again) and are never published or written.
"""

from __future__ import annotations

from dataclasses import replace

from cdss.packs.registry import Pack, PackRule, Registry
from cdss.packs.safety_checks import split_target
from cdss.vocab.hashing import content_sha256


def copy_id(pack_id: str, copy: int) -> str:
    """The id of copy `copy` (2, 3, ...) of a pack; copy 1 is the pack itself."""
    return pack_id if copy == 1 else f"{pack_id}-x{copy}"


def copy_pack(pack: Pack, copy: int, copied: frozenset[str]) -> Pack:
    """Copy number `copy` of a pack: renamed, with `supersedes` targets in the `copied` packs renamed too."""
    if copy == 1:
        return pack
    new_id = copy_id(pack.id, copy)

    def target(t: str) -> str:
        parts = split_target(t, pack.id)
        if parts is None or parts[0] not in copied:
            return t
        return "/".join((copy_id(parts[0], copy), parts[1], parts[2]))

    rules = tuple(PackRule(r.rule.model_copy(update={"supersedes": tuple(target(t) for t in r.rule.supersedes)})
                           if r.rule.supersedes else r.rule, new_id, r.file, r.line) for r in pack.rules)
    meta = pack.meta.model_copy(update={"id": new_id})
    return replace(pack, meta=meta, rules=rules, sha256=content_sha256(pack.sha256, new_id))


def scaled_registry(registry: Registry, scale: int) -> Registry:
    """The registry's selected packs (newest active versions) and `scale - 1` renamed copies of each.

    Raises:
        ValueError: `scale` is below 1.
    """
    if scale < 1:
        raise ValueError(f"a rules scale is a whole number >= 1, got {scale}")
    packs = registry.select()
    copied = frozenset(p.id for p in packs)
    out = Registry(concepts=registry.concepts, catalogue=registry.catalogue)
    for copy in range(1, scale + 1):
        for pack in packs:
            out.add(copy_pack(pack, copy, copied))
    return out
