"""Engine: work done once per object in a process (a pack, a rule, a condition node, a selection of packs).

Packs, their rules and their compiled forms are immutable and live as long as the process, so what the
engine works out from one of them alone is kept by the object's identity. An entry holds the object and
the other objects its value depends on (e.g. the concept set), so a recycled `id()` or another dependency
is a miss, never a wrong answer; a full cache starts over (tests build many short-lived packs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class ByIdentity(Generic[V]):
    """Values kept per object and per the identity of the objects they depend on, at most `limit`."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int):
        self._entries: dict[int, tuple[object, tuple[object, ...], V]] = {}
        self._limit = limit

    def get(self, owner: object, *depends_on: object) -> V | None:
        found = self._entries.get(id(owner))
        if found is None or found[0] is not owner:
            return None
        kept = found[1]
        if kept or depends_on:  # (many owners have none)
            if len(kept) != len(depends_on):
                return None
            for one, given in zip(kept, depends_on, strict=True):  # a loop, not any(): no generator
                if one is not given:
                    return None
        return found[2]

    def get_alone(self, owner: object) -> V | None:
        """`get` for an owner whose value depends on no other object (a condition node, looked up for every
        rule of every evaluation): without packing and comparing dependencies."""
        found = self._entries.get(id(owner))
        return found[2] if found is not None and found[0] is owner and not found[1] else None

    def put(self, owner: object, value: V, *depends_on: object) -> V:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[id(owner)] = (owner, depends_on, value)
        return value

    def get_or_make(self, owner: object, make: Callable[[], V], *depends_on: Any) -> V:
        """The kept value, else `make()` kept."""
        found = self.get(owner, *depends_on)
        return self.put(owner, make(), *depends_on) if found is None else found
