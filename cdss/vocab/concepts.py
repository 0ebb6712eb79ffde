"""Vocabulary: codes -> concepts, through the value sets of catalogue/concepts.yaml (nothing clinical in here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdss.vocab.dictionary import Concept, ConceptsFile

# Codes looked up are remembered per concept set (a bundle repeats a few codes hundreds of times); codes come
# from outside, so the memo is bounded and long codes are never kept.
MEMO_LIMIT = 20_000
MEMO_CODE_LENGTH = 256
_MEMO_FIELDS = ("_memo", "_value_memo", "_memos")


def remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Store `value` under `key` unless the memo is full."""
    if len(memo) < MEMO_LIMIT:
        memo[key] = value


@dataclass(frozen=True)
class ConceptSet:
    """The concept dictionary with fast code lookup (exact codes and prefixes)."""

    source: ConceptsFile
    by_id: Mapping[str, Concept]
    sha256: str
    _exact: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, repr=False)
    _prefix: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, repr=False)
    _value_exact: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, repr=False)
    _max_prefix: Mapping[str, int] = field(default_factory=dict, repr=False)  # system -> longest prefix
    # Site ConceptMaps applied to this set (cdss/intake/concept_maps.py MapStamp); answers name them.
    maps: tuple[Any, ...] = ()
    # (system as sent, code as sent) -> concept ids, one memo per table; not pickled, not compared, and not
    # carried over by dataclasses.replace (a set with other tables starts with empty memos).
    _memo: dict[tuple[str | None, str], tuple[str, ...]] = field(default_factory=dict, init=False, repr=False,
                                                                 compare=False)
    _value_memo: dict[tuple[str | None, str], tuple[str, ...]] = field(default_factory=dict, init=False,
                                                                       repr=False, compare=False)
    _memos: dict[str, dict[Any, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(cls, source: ConceptsFile, sha256: str) -> ConceptSet:
        exact: dict[tuple[str, str], list[str]] = {}
        prefix: dict[tuple[str, str], list[str]] = {}
        values: dict[tuple[str, str], list[str]] = {}
        for concept in source.concepts:
            for coding in concept.codes:
                table = prefix if coding.match == "prefix" else exact
                table.setdefault((coding.system, coding.code.upper()), []).append(concept.id)
            for coding in concept.value_codes:
                values.setdefault((coding.system, coding.code.upper()), []).append(concept.id)
        longest: dict[str, int] = {}
        for system, code in prefix:
            longest[system] = max(longest.get(system, 0), len(code))
        return cls(
            source=source, by_id={c.id: c for c in source.concepts}, sha256=sha256,
            _exact={k: tuple(v) for k, v in exact.items()}, _prefix={k: tuple(v) for k, v in prefix.items()},
            _value_exact={k: tuple(v) for k, v in values.items()}, _max_prefix=longest,
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _MEMO_FIELDS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in _MEMO_FIELDS:
            object.__setattr__(self, name, {})

    def memo(self, name: str) -> dict[Any, Any]:
        """A dict named `name` that lives as long as this concept set, for a reader to remember answers that
        depend only on the set and its input key (fill it with `remember`, which keeps it bounded)."""
        table = self._memos.get(name)
        if table is None:
            table = self._memos.setdefault(name, {})
        return table

    def exact_table(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """(system, CODE) -> concept ids of the exact codes (site maps add to a copy of it)."""
        return self._exact

    def system(self, uri: str | None) -> str:
        uri = (uri or "").strip()
        return self.source.system_aliases.get(uri, uri)

    def match(self, codings: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
        """Concept ids that any of the FHIR codings maps to, in declaration order, without repeats."""
        return self._lookup(codings, self._exact, self._prefix, self._memo)

    def match_value(self, codings: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
        """Concept ids whose `value_codes` hold one of the codings (a coded Observation value)."""
        return self._lookup(codings, self._value_exact, {}, self._value_memo)

    def _lookup(self, codings: Iterable[Mapping[str, object]], exact: Mapping, prefix: Mapping,
                memo: dict[tuple[str | None, str], tuple[str, ...]]) -> tuple[str, ...]:
        first: tuple[str, ...] = ()
        found: list[str] | None = None  # only when a second coding adds ids
        for coding in codings:
            code = coding.get("code")
            if not isinstance(code, str) or not code:
                continue
            raw_system = coding.get("system")
            key = (raw_system if isinstance(raw_system, str) else None, code)
            ids = memo.get(key)
            if ids is None:
                ids = self._code_ids(key[0], code, exact, prefix)
                if len(memo) < MEMO_LIMIT and len(code) <= MEMO_CODE_LENGTH and len(key[0] or "") <= 1024:
                    memo[key] = ids
            if not ids:
                continue
            if not first:
                first = ids
            else:
                if found is None:
                    found = list(first)
                found.extend(ids)
        return tuple(dict.fromkeys(found)) if found is not None else first

    def _code_ids(self, raw_system: str | None, code: str, exact: Mapping, prefix: Mapping) -> tuple[str, ...]:
        """Concept ids of one coding: its exact code and every prefix of it, without repeats."""
        system = self.system(raw_system)
        code = code.strip().upper()
        found: list[str] = list(exact.get((system, code), ()))
        longest = self._max_prefix.get(system, 0) if prefix else 0
        for end in range(1, min(len(code), longest) + 1):
            found.extend(prefix.get((system, code[:end]), ()))
        return tuple(dict.fromkeys(found)) if len(found) > 1 else tuple(found)
