"""Engine: the matcher port. Which facts meet which tests, and nothing else.

`compile` turns every leaf of a pack into engine-neutral `LeafTest`s, grouped by stage into `StageTests`s; the
evaluation summarises the patient into `Fact`s (one concept summarised one way: a key and a value). A
`Matcher` says which facts meet which tests. Three-valued logic, scores, stages and data gaps are decided
by the engine, not by the matcher.

Two matchers: `DurableMatcher` (`cdss.engine.durable`, the production default, as DESIGN requires) and
`PlainMatcher` below, a few lines of `operator`, the reference that property tests compare it with
(tests/unit/engine/test_matchers.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from cdss.errors import ConfigError
from cdss.packs.schema import Op

Value = float | int | str | bool


class Fact(NamedTuple):
    """A concept summarised one way (`key`, see `compile.measure_key`), with an id unique in the evaluation.

    A derived fact (a score with unknown parts) has bounds: `value` is the lower one, `upper` the upper one.
    """

    id: int
    key: str
    value: Value
    upper: float | None = None


class LeafTestId(NamedTuple):
    """Which test: the pack's leaf index, and whether it is the test of the bound that *may* hold."""

    leaf: int
    possible: bool = False


@dataclass(frozen=True)
class LeafTest:
    """Facts of measure `key` whose `field` meets `op value`; with no `op`, every fact of the key."""

    id: LeafTestId
    key: str
    op: Op | None = None
    value: Value | tuple[Value, ...] | None = None
    field: Literal["value", "upper"] = "value"

    def holds(self, fact: Fact) -> bool:
        if fact.key != self.key:
            return False
        if self.op is None:
            return True
        got = fact.value if self.field == "value" else fact.upper
        if self.op == "in":
            return any(got == v for v in self.value)  # type: ignore[union-attr]
        if self.op == "==":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        try:
            return _ORDER[self.op](got, self.value)
        except TypeError:  # a text fact against a number: no match, as in durable-rules
            return False


_ORDER: Mapping[str, Callable[[object, object], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class StageTests:
    """The tests of one pack at one stage. `name` is unique per pack version, content hash and stage, so a
    matcher may prepare a group once per process and reuse it."""

    name: str
    tests: tuple[LeafTest, ...]
    # Worked out once when made (not functools.cached_property: on Python 3.11 it holds a lock per property
    # that a process forked while another thread fills it could never take; cdss.vocab.locks).
    keys: frozenset[str] = field(init=False, repr=False, compare=False)  # the measure keys the tests need
    by_key: Mapping[str, tuple[LeafTest, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        out: dict[str, list[LeafTest]] = {}
        for test in self.tests:
            out.setdefault(test.key, []).append(test)
        object.__setattr__(self, "keys", frozenset(out))
        object.__setattr__(self, "by_key", {k: tuple(v) for k, v in out.items()})


class Firing(NamedTuple):
    """A fact met a test of a group."""

    group: str
    test: LeafTestId
    fact: int


class Matcher(Protocol):
    """Which facts meet which tests; the facts of each group are those of its keys (others are ignored)."""

    name: str

    def match(self, work: Sequence[tuple[StageTests, Iterable[Fact]]]) -> set[Firing]:
        """Every (group, test, fact) such that the fact meets the test.

        Raises:
            EngineError: the matcher failed.
        """
        ...


class PlainMatcher:
    """The reference matcher: every fact against the tests of its key, in plain Python."""

    name = "plain"

    def match(self, work: Sequence[tuple[StageTests, Iterable[Fact]]]) -> set[Firing]:
        fired: set[Firing] = set()
        for group, facts in work:
            by_key = group.by_key
            for fact in facts:
                for test in by_key.get(fact.key, ()):
                    if test.holds(fact):
                        fired.add(Firing(group.name, test.id, fact.id))
        return fired


MATCHERS = ("durable", "plain")


def matcher_named(name: str) -> Matcher:
    """A matcher by name: `durable` (the default) or `plain`.

    Raises:
        ConfigError: an unknown name [unknown-matcher].
    """
    if name == "plain":
        return PlainMatcher()
    if name == "durable":
        from cdss.engine.durable import DurableMatcher  # imports durable-rules: only when asked for

        return DurableMatcher()
    raise ConfigError.one(f"unknown matcher {name!r}", "unknown-matcher", field="matcher", got=name,
                          expected=" or ".join(MATCHERS))
