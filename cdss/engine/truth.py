"""Engine: three-valued logic. A test on absent data is *unknown*, never false; `all` is false as soon as one
item is false, `any` true as soon as one is true, and otherwise unknown if any item is unknown (Kleene's
strong logic, as in CQL's ThreeValuedLogic)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Truth(StrEnum):
    """The outcome of a condition; its value is the word of the JSON contract."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    def not_(self) -> Truth:
        return _NOT[self]

    def and_(self, other: Truth) -> Truth:
        return all_of((self, other))

    def or_(self, other: Truth) -> Truth:
        return any_of((self, other))


_NOT = {Truth.TRUE: Truth.FALSE, Truth.FALSE: Truth.TRUE, Truth.UNKNOWN: Truth.UNKNOWN}


def all_of(items: Iterable[Truth]) -> Truth:
    """True when every item is true; false when one is false; otherwise unknown (true when empty)."""
    seen_unknown = False
    for item in items:
        if item is Truth.FALSE:
            return Truth.FALSE
        seen_unknown = seen_unknown or item is Truth.UNKNOWN
    return Truth.UNKNOWN if seen_unknown else Truth.TRUE


def any_of(items: Iterable[Truth]) -> Truth:
    """True when one item is true; false when every item is false; otherwise unknown (false when empty)."""
    seen_unknown = False
    for item in items:
        if item is Truth.TRUE:
            return Truth.TRUE
        seen_unknown = seen_unknown or item is Truth.UNKNOWN
    return Truth.UNKNOWN if seen_unknown else Truth.FALSE
