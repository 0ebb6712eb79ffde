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
        return NOT[self]

    def and_(self, other: Truth) -> Truth:
        return all_of((self, other))

    def or_(self, other: Truth) -> Truth:
        return any_of((self, other))


# The members as module constants: read through the class (`Truth.TRUE`) each costs ~0.1 us in Python 3.11
# (EnumType.__getattr__ puts every class attribute lookup on a slow path), and the engine reads them in
# every fold of every condition. Engine modules use these.
TRUE, FALSE, UNKNOWN = Truth.TRUE, Truth.FALSE, Truth.UNKNOWN

NOT = {TRUE: FALSE, FALSE: TRUE, UNKNOWN: UNKNOWN}  # each value negated (Kleene: not unknown is unknown)
WORD = {t: t.value for t in Truth}  # each value's word: `Truth.value` is a Python property call (~0.15 us)


def all_of(items: Iterable[Truth]) -> Truth:
    """True when every item is true; false when one is false; otherwise unknown (true when empty)."""
    seen_unknown = False
    for item in items:
        if item is FALSE:
            return FALSE
        seen_unknown = seen_unknown or item is UNKNOWN
    return UNKNOWN if seen_unknown else TRUE


def any_of(items: Iterable[Truth]) -> Truth:
    """True when one item is true; false when every item is false; otherwise unknown (false when empty)."""
    seen_unknown = False
    for item in items:
        if item is TRUE:
            return TRUE
        seen_unknown = seen_unknown or item is UNKNOWN
    return UNKNOWN if seen_unknown else FALSE
