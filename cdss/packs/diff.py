"""Packs: the one structural diff of two packs (usually two versions of one pack).

Metadata, derived facts and rules added, removed and changed, field by field (dotted paths over the
pack's content as hashed, `dump_for_hash`: YAML layout, comments and fields left at their default do not
count). The editor's `cdss pack diff` (cdss.testing.diff, which adds the behaviour) and the panel's
version comparison (cdss.render.html) both show this diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from cdss.packs.registry import Pack, PackRule
from cdss.packs.schema import dump_for_hash


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its dotted path and its values as JSON data (None: absent on that side)."""

    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ItemChange:
    """A rule or derived fact present on both sides: its id and the fields that differ."""

    id: str
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ItemsDiff:
    """Items (rules or derived facts) by id: added, removed (sorted ids) and changed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ItemChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class ContentDiff:
    """What differs in content between two packs (`old`, `new`: their `id@version`)."""

    old: str
    new: str
    meta: tuple[FieldChange, ...]  # pack.yaml, without its derived facts
    rules: ItemsDiff  # by rule slug (unique in a pack, check.py; a changed kind is a `then.kind` change)
    derived: ItemsDiff  # by derived fact id
    old_rules: Mapping[str, PackRule]  # rule slug -> the rule on each side (to show added or removed rules)
    new_rules: Mapping[str, PackRule]

    @property
    def changed(self) -> bool:
        return bool(self.meta or self.rules or self.derived)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON as dotted paths; a list of scalars stays whole, a list with objects is indexed."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k in value:
            out.update(_flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def field_changes(old: BaseModel, new: BaseModel) -> tuple[FieldChange, ...]:
    """Fields that differ between two models (dotted paths, sorted)."""
    a, b = _flatten(dump_for_hash(old)), _flatten(dump_for_hash(new))
    return tuple(FieldChange(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def _items(old: Mapping[str, BaseModel], new: Mapping[str, BaseModel]) -> ItemsDiff:
    changed = tuple(ItemChange(k, fc) for k in sorted(set(old) & set(new)) if (fc := field_changes(old[k], new[k])))
    return ItemsDiff(tuple(sorted(set(new) - set(old))), tuple(sorted(set(old) - set(new))), changed)


def content_diff(old: Pack, new: Pack) -> ContentDiff:
    """Metadata, derived facts and rules that differ between two packs."""
    old_rules = {r.rule.id: r for r in old.rules}
    new_rules = {r.rule.id: r for r in new.rules}
    return ContentDiff(
        old=old.key, new=new.key,
        meta=field_changes(old.meta.model_copy(update={"derived": ()}), new.meta.model_copy(update={"derived": ()})),
        rules=_items({k: r.rule for k, r in old_rules.items()}, {k: r.rule for k, r in new_rules.items()}),
        derived=_items({d.id: d for d in old.derived}, {d.id: d for d in new.derived}),
        old_rules=old_rules, new_rules=new_rules)
