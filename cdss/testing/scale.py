"""Testing: synthetic rule content that multiplies today's rules, for `cdss bench --rules-scale`.

`scaled_registry(registry, k)` holds every selected pack of `registry` and k - 1 copies of each: copy c of
pack `htn-community` is pack `htn-community-x<c>`, with the same rules, derived facts and sources, so the
full id of every copied rule is renamed (`htn-community-x2/referral/severe-bp-urgent-care`). A `supersedes`
target in another pack points at that pack's copy of the same number, so each copy behaves exactly like the
original: the same suggestions, data gaps and superseded advice, under renamed rule ids. The copies are
built in memory from the checked packs (no YAML is parsed again) and are never published or written.

Copies are the worst case for the rule index: every copy tests the concepts the original tests, so a record
that touches a rule touches all its copies. `scaled_registry(registry, k, own_concepts=True)` gives each copy
concepts of its own instead: copy c tests `sbp_x<c>` where the original tests `sbp`, a concept like `sbp` but
with no codes, so that no record mentions it. That is what new content for other conditions mostly is; the
demographic concepts (age, sex) and the population scopes (which read pregnancy and lactation) are not
renamed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from cdss.packs.registry import Pack, PackRule, Registry
from cdss.packs.safety_checks import split_target
from cdss.packs.schema import Rule
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.hashing import content_sha256

# The fields that name a concept: of a condition, part or table column, and of a rule's property specs; and
# those that list concepts (the drugs a rule advises, read by the safety checks and property tests).
_CONCEPT_FIELDS = ("concept", "has", "monotone_increasing", "monotone_decreasing")
_CONCEPT_LIST_FIELDS = ("advises",)


def copy_id(pack_id: str, copy: int) -> str:
    """The id of copy `copy` (2, 3, ...) of a pack; copy 1 is the pack itself."""
    return pack_id if copy == 1 else f"{pack_id}-x{copy}"


def copy_pack(pack: Pack, copy: int, copied: frozenset[str], renamed: frozenset[str] = frozenset()) -> Pack:
    """Copy number `copy` of a pack: renamed, with `supersedes` targets in the `copied` packs renamed too, and
    the concepts in `renamed` replaced by the copy's own (`own_concept`)."""
    if copy == 1:
        return pack
    new_id = copy_id(pack.id, copy)

    def target(t: str) -> str:
        parts = split_target(t, pack.id)
        if parts is None or parts[0] not in copied:
            return t
        return "/".join((copy_id(parts[0], copy), parts[1], parts[2]))

    def copied_rule(rule: Rule) -> Rule:
        if rule.supersedes:
            rule = rule.model_copy(update={"supersedes": tuple(target(t) for t in rule.supersedes)})
        return _own_concepts(rule, renamed, copy)

    rules = tuple(PackRule(copied_rule(r.rule), new_id, r.file, r.line) for r in pack.rules)
    meta = _own_concepts(pack.meta.model_copy(update={"id": new_id}), renamed, copy)  # (its derived facts)
    derived = tuple(_own_concepts(d, renamed, copy) for d in pack.derived)
    # (the hash names what was renamed: compiled packs are kept by content hash)
    sha256 = content_sha256(pack.sha256, new_id, *(("own concepts",) if renamed else ()))
    return replace(pack, meta=meta, rules=rules, derived=derived, sha256=sha256)


def own_concept(concept: str, copy: int) -> str:
    """The id of copy `copy`'s own concept for `concept` (a snake_case id, as the dictionary's)."""
    return f"{concept}_x{copy}"


def _own_concepts(value: Any, renamed: frozenset[str], copy: int) -> Any:
    """`value` (a rule, condition, derived fact ...) with every concept in `renamed` it names replaced by the
    copy's own; the same object when it names none. Population scopes are left as they are."""
    if not renamed:
        return value
    if isinstance(value, BaseModel):
        update = {}
        for name in type(value).model_fields:
            if name == "population":
                continue
            old = getattr(value, name)
            if name in _CONCEPT_FIELDS and old in renamed:
                update[name] = own_concept(old, copy)
            elif name in _CONCEPT_LIST_FIELDS and any(c in renamed for c in old):
                update[name] = tuple(own_concept(c, copy) if c in renamed else c for c in old)
            elif name == "requires_within_days" and old is not None and old[0] in renamed:
                update[name] = (own_concept(old[0], copy), old[1])
            elif (new := _own_concepts(old, renamed, copy)) is not old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if isinstance(value, tuple | list):
        items = [_own_concepts(v, renamed, copy) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    return value


def _with_own_concepts(concepts: ConceptSet, renamed: frozenset[str], copies: int) -> ConceptSet:
    """The dictionary with, for each copy, a codeless twin of every concept in `renamed`."""
    extra = tuple(c.model_copy(update={"id": own_concept(c.id, copy), "codes": (), "value_codes": ()})
                  for copy in range(2, copies + 1) for c in concepts.source.concepts if c.id in renamed)
    source = concepts.source.model_copy(update={"concepts": concepts.source.concepts + extra})
    return ConceptSet.build(source, content_sha256(concepts.sha256, f"own concepts x{copies}"))


def scaled_registry(registry: Registry, scale: int, *, own_concepts: bool = False) -> Registry:
    """The registry's selected packs (newest active versions) and `scale - 1` renamed copies of each; with
    `own_concepts`, each copy tests concepts of its own that no record mentions (see the module docstring).

    Raises:
        ValueError: `scale` is below 1.
    """
    if scale < 1:
        raise ValueError(f"a rules scale is a whole number >= 1, got {scale}")
    packs = registry.select()
    copied = frozenset(p.id for p in packs)
    concepts = registry.concepts
    renamed: frozenset[str] = frozenset()
    if own_concepts and scale > 1:
        renamed = frozenset(c.id for c in concepts.source.concepts if c.kind != "demographic")
        concepts = _with_own_concepts(concepts, renamed, scale)
    out = Registry(concepts=concepts, catalogue=registry.catalogue)
    for copy in range(1, scale + 1):
        for pack in packs:
            out.add(copy_pack(pack, copy, copied, renamed))
    return out
