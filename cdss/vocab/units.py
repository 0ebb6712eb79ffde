"""Vocabulary: convert quantities to each concept's canonical UCUM unit.

UCUM codes are parsed by ucumvert into pint units; pint does the arithmetic (including offset units such
as [degF] -> Cel). Mass <-> substance conversions (mg/dL <-> mmol/L) use the concept's molar mass, and
units that no library relates (HbA1c % <-> mmol/mol) use the formula declared in the concept's
`alt_units`. Each (unit, concept) pair is worked out once and cached as `canonical = value * a + b`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from cdss.vocab.dictionary import Concept
from cdss.vocab.locks import module_lock


class UnknownUnit(ValueError):
    """The unit is not UCUM, or cannot be converted to the concept's canonical unit."""


class UnitTooComplex(ValueError):
    """The unit string is longer or more deeply nested than any real UCUM code: refused before parsing
    (the parser's cost grows faster than the length of its input)."""


# Bounds of a unit string (the longest UCUM code the concepts use is 16 characters, e.g.
# "mL/min/{1.73_m2}"); parsing a string within them takes milliseconds.
MAX_UNIT_LENGTH = 64
MAX_UNIT_NESTING = 3


def check_unit(code: str) -> None:
    """Refuse a unit string that is too long or too deeply nested to be parsed cheaply.

    Raises:
        UnitTooComplex: more than MAX_UNIT_LENGTH characters or MAX_UNIT_NESTING levels of brackets.
    """
    if len(code) > MAX_UNIT_LENGTH:
        raise UnitTooComplex(f"a unit of {len(code)} characters is longer than the limit of "
                             f"{MAX_UNIT_LENGTH}")
    depth = deepest = 0
    for ch in code:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > MAX_UNIT_NESTING:
        raise UnitTooComplex(f"a unit nested {deepest} levels deep is more than the limit of "
                             f"{MAX_UNIT_NESTING}")


@dataclass(frozen=True)
class Linear:
    """canonical = value * scale + offset."""

    scale: float
    offset: float

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset

    def canonical(self, value: float) -> float:
        """`value` converted, rounded as `to_canonical` says (unchanged when the map is the identity)."""
        if self.scale == 1.0 and self.offset == 0.0:
            return float(value)
        return round(self.apply(value), 4)


# pint's registry is shared, so the (fast) arithmetic on its units is serialised; parsing a code is not:
# each thread parses with its own parser, so one slow unit never makes other requests wait.
_lock = module_lock(globals(), "_lock")
_local = threading.local()


_init_lock = module_lock(globals(), "_init_lock")


_built: list = []


def _registry():  # noqa: ANN202 - pint registry type is dynamic
    if not _built:
        with _init_lock:  # built once: the units of two registries could not be combined
            if not _built:
                from ucumvert import PintUcumRegistry

                _built.append(PintUcumRegistry())
    return _built[0]


def _parser():  # noqa: ANN202 - a lark parser
    parser = getattr(_local, "parser", None)
    if parser is None:
        from ucumvert.parser import get_ucum_parser

        parser = _local.parser = get_ucum_parser()
    return parser


@lru_cache(maxsize=4096)
def _pint_unit(code: str):  # noqa: ANN202
    from ucumvert.parser import parse_ucum

    check_unit(code)
    ureg = _registry()
    tree = parse_ucum(code, _parser())  # no lock: ucumvert's parser is not documented as thread-safe
    with _lock:
        return ureg._from_ucum_transformer(tree)


def _same_unit(a: str, b: str) -> bool:
    return a.strip() == b.strip()


_conversions: dict[tuple[str, str, str | None], Linear | UnknownUnit] = {}


def conversion(unit: str, concept: Concept) -> Linear:
    """The linear map from `unit` to the concept's canonical unit (worked out once per unit and concept).

    Raises:
        UnknownUnit: the unit is not UCUM or is not convertible for this concept.
        UnitTooComplex: the unit string is over the length or nesting bound (checked first).
    """
    key = (unit, concept.id, concept.unit)
    found = _conversions.get(key)  # only units that passed check_unit are stored
    if found is None:
        check_unit(unit)
        try:
            found = _conversion(unit, concept)
        except UnknownUnit as exc:
            found = exc
        if len(_conversions) < 100_000:  # bounded: units come from outside
            _conversions[key] = found
    if isinstance(found, UnknownUnit):
        raise found
    return found


def _conversion(unit: str, concept: Concept) -> Linear:
    canonical = concept.unit
    if canonical is None:
        raise UnknownUnit(f"concept {concept.id!r} has no canonical unit")
    if _same_unit(unit, canonical):
        return Linear(1.0, 0.0)
    for alt in concept.alt_units:
        if _same_unit(unit, alt.unit):
            return Linear(alt.scale, alt.offset)
    try:
        src = _pint_unit(unit)
        dst = _pint_unit(canonical)
    except UnitTooComplex:
        raise
    except Exception as exc:  # ucumvert raises lark and pint errors of many kinds
        raise UnknownUnit(f"{unit!r} is not a UCUM unit") from exc
    ureg = _registry()
    with _lock:
        try:
            return _linear(lambda v: ureg.Quantity(v, src).to(dst).magnitude)
        except Exception:
            pass
        if concept.molar_mass_g_per_mol:
            molar = ureg.Quantity(concept.molar_mass_g_per_mol, "g/mol")
            for convert in (
                lambda v: (ureg.Quantity(v, src) / molar).to(dst).magnitude,
                lambda v: (ureg.Quantity(v, src) * molar).to(dst).magnitude,
            ):
                try:
                    return _linear(convert)
                except Exception:
                    continue
    raise UnknownUnit(f"{unit!r} cannot be converted to {canonical!r}")


def _linear(convert) -> Linear:  # noqa: ANN001
    at0, at1 = float(convert(0.0)), float(convert(1.0))
    return Linear(at1 - at0, at0)


def to_canonical(value: float, unit: str, concept: Concept) -> float:
    """`value` in `unit`, expressed in the concept's canonical unit, rounded to 4 decimal places (finer
    than any threshold or laboratory precision), so that float noise of a conversion never decides one."""
    return conversion(unit, concept).canonical(value)
