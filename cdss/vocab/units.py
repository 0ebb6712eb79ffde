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


class UnknownUnit(ValueError):
    """The unit is not UCUM, or cannot be converted to the concept's canonical unit."""


@dataclass(frozen=True)
class Linear:
    """canonical = value * scale + offset."""

    scale: float
    offset: float

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _registry():  # noqa: ANN202 - pint registry type is dynamic
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


@lru_cache(maxsize=4096)
def _pint_unit(code: str):  # noqa: ANN202
    with _lock:  # ucumvert's parser is not documented as thread-safe
        return _registry().from_ucum(code)


def _same_unit(a: str, b: str) -> bool:
    return a.strip() == b.strip()


_conversions: dict[tuple[str, str, str | None], Linear | UnknownUnit] = {}


def conversion(unit: str, concept: Concept) -> Linear:
    """The linear map from `unit` to the concept's canonical unit (worked out once per unit and concept).

    Raises:
        UnknownUnit: the unit is not UCUM or is not convertible for this concept.
    """
    key = (unit, concept.id, concept.unit)
    found = _conversions.get(key)
    if found is None:
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
    linear = conversion(unit, concept)
    if linear.scale == 1.0 and linear.offset == 0.0:
        return float(value)
    return round(linear.apply(value), 4)
