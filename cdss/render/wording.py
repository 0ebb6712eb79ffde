"""Render: the words that phrase a rule condition in Chinese and English (cdss.render.conditions).

The words live in the project's one labels home (`cdss/vocab/labels.yaml`, groups `condition_*` and
`unit_display`): nothing clinical (no threshold, code or advice), only how a comparison, a statistic, a time
window or a unit is said. `{x}` marks are filled by `cdss.render.conditions`.
"""

from __future__ import annotations

from collections.abc import Mapping

from cdss.vocab.labels import table

# Comparison signs, the same in both languages (symbols, not words).
OP_SIGN: Mapping[str, str] = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "==": "=", "!=": "≠"}

# Phrases with marks: {subject} the concept's name, {n} a count of readings or days, {days} a time window.
PHRASES: Mapping[str, Mapping[str, str]] = table("condition_phrase")
# How a list of values is joined.
JOIN: Mapping[str, str] = table("condition_join")["values"]
# The tree's combinators (the panel's own `combinator` labels say the same with "以下").
COMBINATOR: Mapping[str, Mapping[str, str]] = table("condition_combinator")
# Code-like values a rule compares with (the only string values the packs use are sexes).
VALUES: Mapping[str, Mapping[str, str]] = table("condition_value")
# Canonical UCUM units as a reader writes them; an empty string: the unit is not written (a grade, an index).
UNITS: Mapping[str, Mapping[str, str]] = table("unit_display")
# The unit of a `days_since` test.
DAYS: Mapping[str, str] = UNITS["d"]
