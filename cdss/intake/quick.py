"""Intake: the fast path for the commonest resource, an Observation of one coded quantity.

Most of a large bundle is readings: `status` final, `effectiveDateTime`, a `code` that maps to quantity
concepts, a `valueQuantity` with a number and a unit, nothing else that intake reads. `QuickObservations`
reads exactly that shape with fewer checks than the general reader (`_Reader.observation` in
cdss/intake/bundle.py) and records nothing unless every part of it is plainly usable. Anything else - a
component, a coded or text value, another time field, a non-quantity concept, an unknown or missing unit,
an implausible or odd number, an unparseable time, an unrecognised code - makes it return False with nothing
recorded, and the general reader reads the resource as before, with its errors, notes and tallies. So the
two paths give the same facts; this one only skips work.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from cdss.intake.facts import Reading
from cdss.vocab.concepts import MEMO_CODE_LENGTH, ConceptSet, remember
from cdss.vocab.times import aware
from cdss.vocab.units import Linear, UnitTooComplex, UnknownUnit, conversion

UCUM = "http://unitsofmeasure.org"
_fromisoformat = dt.datetime.fromisoformat
_MISSING = object()
_UNIT_SYSTEMS = (UCUM, None)  # a valueQuantity's code is read as UCUM in these; otherwise its unit text
_ANY_NUMBER = (-math.inf, math.inf)
_tuple_new = tuple.__new__


class QuickObservations:
    """The fast path of one bundle's reader: `read(res, ref)` reads an Observation of the common shape (see
    the module docstring) into the reader's readings; False: nothing was recorded. It holds the readings, not
    the reader: the reader holds `read`, and a cycle would keep every reading alive until the next garbage
    collection."""

    def __init__(self, concepts: ConceptSet, readings: dict[str, list[Reading]], ok: set[str]):
        self.concepts = concepts
        self.readings = readings
        self.ok = ok
        self.memo = concepts.memo("quick-observation")

    def read(self, res: Mapping[str, Any], ref: str) -> bool:
        status = res.get("status")
        if status.__class__ is not str or status not in self.ok:
            return False
        if "component" in res or "valueCodeableConcept" in res or "valueString" in res:
            return False  # more than one quantity: the general reader's
        when = res.get("effectiveDateTime")  # the first of the time fields the general reader tries
        # A dateTime with a time part (no date alone has a "T" at 10), parsed as _Reader.when parses it once
        # stripped: CPython's C fromisoformat refuses surrounding space, so a spaced text, like a time it
        # refuses, is left to `when` (tests/unit/intake/test_quick.py draws such texts).
        if when.__class__ is not str or when[10:11] != "T":
            return False
        try:
            time = _fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return False
        if time.tzinfo is None:
            time = aware(time)
        code = res.get("code")
        codings = code.get("coding") if code.__class__ is dict else None
        q = res.get("valueQuantity")
        if codings.__class__ is not list or q.__class__ is not dict:
            return False
        value = q.get("value")
        if value.__class__ is not float and value.__class__ is not int:
            return False
        try:
            number = float(value)
        except OverflowError:
            return False
        if number - number != 0.0:  # inf or nan
            return False
        unit = q.get("code")
        if not unit or q.get("system") not in _UNIT_SYSTEMS:
            unit = q.get("unit")
        if unit.__class__ is not str or not unit:
            return False
        steps = _MISSING
        if len(codings) == 1 and codings[0].__class__ is dict:
            coding = codings[0]
            try:
                steps = self.memo.get((coding.get("system"), coding.get("code"), unit), _MISSING)
            except TypeError:  # an unhashable system or code (a list, an object): the general reader's
                return False
        if steps is _MISSING:
            steps = _steps(self.concepts, codings, unit, self.memo)
        if steps is None:
            return False
        readings = self.readings
        if len(steps) == 1:  # the usual case, without the list of found readings
            cid, linear, canonical_unit, low, high = steps[0]
            canonical = number if linear is None else linear.canonical(number)
            if not (low <= canonical <= high):
                return False
            # Reading(...) without the Python frame of a NamedTuple's __new__ (the same tuple)
            reading = _tuple_new(Reading, (cid, canonical, canonical_unit, time, ref))
            same = readings.get(cid)
            if same is None:
                readings[cid] = [reading]
            else:
                same.append(reading)
            return True
        found = []
        for cid, linear, canonical_unit, low, high in steps:
            canonical = number if linear is None else linear.canonical(number)
            if not (low <= canonical <= high):
                return False
            found.append(_tuple_new(Reading, (cid, canonical, canonical_unit, time, ref)))
        for reading in found:
            same = readings.get(reading[0])
            if same is None:
                readings[reading[0]] = [reading]
            else:
                same.append(reading)
        return True


_Step = tuple[str, "Linear | None", "str | None", float, float]


def _steps(concepts: ConceptSet, codings: list[Any], unit: str, memo: dict[Any, Any]) -> tuple[_Step, ...] | None:
    """What a value in `unit` coded by `codings` becomes: per concept, its conversion (None: unchanged), unit
    and plausible range (from -inf to inf when the concept has none); None when some concept is not a quantity
    or the unit does not convert (the general reader says why). Remembered for a single coding (the usual
    case): it depends on nothing else."""
    ids = concepts.match([c for c in codings if isinstance(c, dict)])
    steps = _work_out(concepts, ids, unit) if ids else None
    if len(codings) == 1 and codings[0].__class__ is dict:
        system, code = codings[0].get("system"), codings[0].get("code")
        if code.__class__ is str and (system is None or system.__class__ is str) and \
                len(code) + len(unit) + len(system or "") <= MEMO_CODE_LENGTH:
            remember(memo, (system, code, unit), steps)
    return steps


def _work_out(concepts: ConceptSet, ids: tuple[str, ...], unit: str) -> tuple[_Step, ...] | None:
    steps = []
    for cid in ids:
        concept = concepts.by_id[cid]
        if concept.kind != "quantity":
            return None
        try:
            linear = conversion(unit, concept)
        except (UnknownUnit, UnitTooComplex):
            return None
        identity = linear.scale == 1.0 and linear.offset == 0.0  # Linear.canonical would return float(value)
        low, high = concept.plausible or _ANY_NUMBER
        steps.append((cid, None if identity else linear, concept.unit, low, high))
    return tuple(steps)
