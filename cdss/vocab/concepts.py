"""Vocabulary: codes -> concepts, through the value sets of catalogue/concepts.yaml (nothing clinical in here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdss.vocab.dictionary import Concept, ConceptsFile


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

    def exact_table(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """(system, CODE) -> concept ids of the exact codes (site maps add to a copy of it)."""
        return self._exact

    def system(self, uri: str | None) -> str:
        uri = (uri or "").strip()
        return self.source.system_aliases.get(uri, uri)

    def match(self, codings: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
        """Concept ids that any of the FHIR codings maps to, in declaration order, without repeats."""
        return self._lookup(codings, self._exact, self._prefix)

    def match_value(self, codings: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
        """Concept ids whose `value_codes` hold one of the codings (a coded Observation value)."""
        return self._lookup(codings, self._value_exact, {})

    def _lookup(self, codings: Iterable[Mapping[str, object]], exact: Mapping, prefix: Mapping) -> tuple[str, ...]:
        found: list[str] = []
        for coding in codings:
            code = coding.get("code")
            if not isinstance(code, str) or not code:
                continue
            raw_system = coding.get("system")
            system = self.system(raw_system if isinstance(raw_system, str) else None)
            code = code.strip().upper()
            found.extend(exact.get((system, code), ()))
            longest = self._max_prefix.get(system, 0) if prefix else 0
            for end in range(1, min(len(code), longest) + 1):
                found.extend(prefix.get((system, code[:end]), ()))
        return tuple(dict.fromkeys(found)) if len(found) > 1 else tuple(found)
