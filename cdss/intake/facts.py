"""Intake: PatientFacts, what the engine sees of a patient (never a FHIR resource)."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple, TypeVar

from cdss.intake.unrecognised import UnrecognisedCoding

Timed = TypeVar("Timed", "Reading", "Presence")


# Readings, presences and notes are NamedTuples: immutable like the frozen dataclasses elsewhere, and
# several times cheaper to create, which matters at thousands per bundle.
class Reading(NamedTuple):
    """One value of a concept: a measurement in the canonical unit, or a coded/boolean value."""

    concept: str
    value: float | str | bool
    unit: str | None
    time: dt.datetime | None
    source: str  # "Observation/123"

    @property
    def day(self) -> dt.date | None:
        return self.time.date() if self.time else None


class Presence(NamedTuple):
    """A coded concept present in the record (a condition, drug, allergy, symptom or finding)."""

    concept: str
    time: dt.datetime | None
    source: str


UNDATED = dt.datetime.min.replace(tzinfo=dt.UTC)  # where a reading or presence without a time sorts
_TIME_THEN_SOURCE = attrgetter("time", "source")


def sort_time(item: Reading | Presence) -> dt.datetime:
    """The time an item sorts by: its own, or `UNDATED` (first, unless a time of year 1 with a positive offset
    is earlier still)."""
    return item.time or UNDATED


def time_order(item: Reading | Presence) -> tuple[dt.datetime, str]:
    """The order of a concept's readings and presences in PatientFacts: by `sort_time`, then source."""
    return (sort_time(item), item.source)


def recorded_in_window(items: Sequence[Timed], now: dt.datetime, cutoff: dt.datetime | None) -> Sequence[Timed]:
    """The items of a concept (in `time_order`) recorded by `now` (a later one is not yet known then) and, with
    a cutoff, at or after it; an undated one only without a cutoff. Bisections, not a test of every item: a
    concept with years of readings is measured for many tests."""
    if now < UNDATED or (cutoff is not None and cutoff <= UNDATED):  # (a window reaching year 1: each item)
        return tuple(i for i in items if (cutoff is None and i.time is None) or
                     (i.time is not None and i.time <= now and (cutoff is None or i.time >= cutoff)))
    # Here an undated item sorts as UNDATED, which is within the window exactly when there is no cutoff.
    end = bisect_right(items, now, key=sort_time)
    start = 0 if cutoff is None else bisect_left(items, cutoff, 0, end, key=sort_time)
    return items[start:end]


def in_time_order(items: Iterable[Timed]) -> tuple[Timed, ...]:
    """`items` sorted by `time_order`. Sorted by (time, source) in C first, without a Python call per item:
    that order is the same when every item has a time, and when one has none a comparison sort must compare
    it with a dated one, which raises TypeError; then by `time_order`."""
    listed = list(items)
    try:
        return tuple(sorted(listed, key=_TIME_THEN_SOURCE))
    except TypeError:
        return tuple(sorted(listed, key=time_order))


class IntakeNote(NamedTuple):
    """A value that was read but could not be used: it becomes a data gap if a rule needs the concept."""

    concept: str
    reason: str  # unknown-unit | implausible | no-value
    source: str
    detail: str


@dataclass(frozen=True)
class PatientFacts:
    """Everything the rules may use about one patient, keyed by concept id. Each concept's readings and
    presences are in `time_order` (the engine bisects them: `recorded_in_window`)."""

    patient: str  # "Patient/<id>"
    birth_date: dt.date | None
    sex: str | None
    readings: Mapping[str, tuple[Reading, ...]] = field(default_factory=dict)
    present: Mapping[str, tuple[Presence, ...]] = field(default_factory=dict)
    notes: tuple[IntakeNote, ...] = ()
    resource_count: int = 0
    deceased: bool | dt.datetime | None = None  # Patient.deceased[x]: True, the time of death, or None
    unrecognised: tuple[UnrecognisedCoding, ...] = ()  # codings no concept recognised, sorted
    # A partial birthDate (YYYY or YYYY-MM) is read as its first day (`birth_date`); this is its last.
    birth_date_latest: dt.date | None = None

    def ages(self, count: Callable[[dt.date, dt.date], int], now: dt.datetime) -> tuple[int, int] | None:
        """The youngest and the oldest the patient may be at `now`, counted by `count` (`completed_years`,
        `completed_months`): equal for a full birth date; for a partial one (a year or a month alone), from
        its last and its first possible day, never from its first day alone, which would make a patient
        older (an infant over 6 months, a 17-year-old an adult). None without a birth date."""
        if self.birth_date is None:
            return None
        today = now.date()
        oldest = count(self.birth_date, today)
        latest = self.birth_date_latest
        # (born this month or year: the youngest is a newborn, not a negative age)
        return (oldest if latest is None else count(min(latest, today), today)), oldest

    def age_years(self, now: dt.datetime) -> int | None:
        """Completed years of age at `now`; None without a birth date or when a partial one leaves it open."""
        ages = self.ages(completed_years, now)
        return ages[0] if ages is not None and ages[0] == ages[1] else None

    def age_months(self, now: dt.datetime) -> int | None:
        """Completed calendar months of age at `now`; None as `age_years`."""
        ages = self.ages(completed_months, now)
        return ages[0] if ages is not None and ages[0] == ages[1] else None


def completed_years(born: dt.date, today: dt.date) -> int:
    """Age in completed years on `today` (the one home of this count: the engine, the panel's header). A
    birthday on 29 February is reached on 1 March in other years."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def completed_months(born: dt.date, today: dt.date) -> int:
    """Age in completed calendar months on `today`: a month is completed on the day of the month of birth (a
    day the month lacks: on the 1st of the next), so `completed_months // 12 == completed_years` always."""
    return (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)


# The age concepts, read from the Patient's birth date (not from readings): concept id -> how it counts.
AGE_CONCEPTS: Mapping[str, Callable[[dt.date, dt.date], int]] = {
    "age_years": completed_years, "age_months": completed_months}
