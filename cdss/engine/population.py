"""Engine: who a rule is for (population scope), the patient's pregnancy and lactation status, and death.

Semantics (docs/editor/population.md):

* A rule outside its population does not fire and reports no data gap.
* A bound the patient's data cannot decide (no birth date against an age band, no sex against a sex list)
  makes the rule unknown: a data gap `age_years` / `sex`, never advice - reported even by a rule with `gaps:
  silent` once its condition holds (K+ 7.0 or qSOFA 3 without a birth date must not be silent). An emergency
  does not fire outside a population it may not be in: its thresholds and doses are for that population (a
  child's normal heart rate is an adult's emergency); the data-gap card names it instead.
* Pregnancy is read from the `pregnancy` concept (conditions, status observations, an expected delivery
  date in the future) within `pregnancy_current_days` of its date, unless a later record of a
  `pregnancy_ended_by` concept (postpartum) ends it; an explicit `not_pregnant` status more
  recent than any pregnancy record says "not pregnant". A woman (or a patient of unknown sex) of
  childbearing age with neither is of *unknown* status: a rule with `pregnant: exclude` still fires, and
  its suggestion carries the `pregnancy_unknown` caution (never shown as safe, never silently withheld).
* A deceased patient (`deceasedBoolean: true`, or `deceasedDateTime` at or before `now`) gets no advice.

Every number and text used here comes from `catalogue/safety.yaml` (``SafetySettings``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from cdss.engine.truth import FALSE, TRUE, UNKNOWN, Truth
from cdss.intake.facts import PatientFacts, Presence, completed_years, sort_time, time_order
from cdss.packs.scope import AgeBand, Population, SafetySettings

PREGNANCY, NOT_PREGNANT, LACTATION, DELIVERY_DATE = "pregnancy", "not_pregnant", "lactation", \
    "expected_delivery_date"
UNKNOWN_SEX = (None, "unknown")


@dataclass(frozen=True)
class ScopeResult:
    """A rule's population against one patient."""

    outcome: Truth
    gaps: tuple[str, ...] = ()  # concepts whose absence leaves the scope undecided
    cautions: tuple[dict[str, str], ...] = ()


def _in_band(age: float, band: AgeBand) -> bool:
    return (band.min is None or age >= band.min) and (band.max is None or age < band.max)


def _current(items: tuple[Presence, ...], now: dt.datetime, days: int) -> list[Presence]:
    """Records dated within `days` before `now` (undated ones count: the record does not say when)."""
    start = now - dt.timedelta(days=days)
    return [p for p in items if p.time is None or start <= p.time <= now]


def prepare(facts: PatientFacts, now: dt.datetime, settings: SafetySettings) -> PatientFacts:
    """The facts with `pregnancy` and `lactation` reduced to current records (an expected delivery date in
    the future counts as a pregnancy record), so that rules testing `has: pregnancy` and population scopes
    read the same status."""
    present = dict(facts.present)
    changed = False
    pregnancy = list(_current(present.get(PREGNANCY, ()), now, settings.pregnancy_current_days))
    for r in facts.readings.get(DELIVERY_DATE, ()):
        try:
            due = dt.datetime.fromisoformat(str(r.value))
        except ValueError:
            continue
        recorded = r.time is None or r.time <= now
        if recorded and due > now:
            pregnancy.append(Presence(PREGNANCY, r.time, r.source))
    ended = _ended_at(facts, now, settings)
    if ended is not None:  # birth ends every pregnancy record dated on or before it (undated ones stay)
        pregnancy = [p for p in pregnancy if p.time is None or p.time > ended]
    if PREGNANCY in present or pregnancy:
        changed = True
        if pregnancy:
            present[PREGNANCY] = tuple(sorted(pregnancy, key=time_order))
        else:
            present.pop(PREGNANCY, None)
    if LACTATION in present:
        changed = True
        lactation = _current(present[LACTATION], now, settings.lactation_current_days)
        if lactation:
            present[LACTATION] = tuple(lactation)
        else:
            present.pop(LACTATION)
    return replace(facts, present=present) if changed else facts


def _ended_at(facts: PatientFacts, now: dt.datetime, settings: SafetySettings) -> dt.datetime | None:
    """The date of the latest dated record (up to `now`) of a `pregnancy_ended_by` concept, if any."""
    times = [p.time for cid in settings.pregnancy_ended_by for p in facts.present.get(cid, ())
             if p.time is not None and p.time <= now]
    return max(times, default=None)


def pregnancy_status(facts: PatientFacts, now: dt.datetime, settings: SafetySettings) -> str:
    """pregnant | not-pregnant | unknown (facts already `prepare`d)."""
    pregnant = facts.present.get(PREGNANCY, ())
    negative = _current(facts.present.get(NOT_PREGNANT, ()), now, settings.not_pregnant_current_days)
    latest_neg = max((sort_time(p) for p in negative), default=None)
    if pregnant:
        latest_pos = max(sort_time(p) for p in pregnant)
        return "not-pregnant" if latest_neg is not None and latest_neg > latest_pos else "pregnant"
    if negative or facts.sex == "male":
        return "not-pregnant"
    return "unknown"


def could_be_pregnant(facts: PatientFacts, now: dt.datetime, settings: SafetySettings) -> bool:
    """A woman (or a patient of unknown sex) of childbearing age, or of unknown age."""
    if facts.sex not in ("female", "other", *UNKNOWN_SEX):
        return False
    ages = facts.ages(completed_years, now)
    return ages is None or any(_in_band(age, settings.childbearing_age_years) for age in ages)


def check_scope(pop: Population | None, facts: PatientFacts, now: dt.datetime,
                settings: SafetySettings) -> ScopeResult:
    """Whether the patient is in a rule's population (facts already `prepare`d)."""
    if pop is None:
        return ScopeResult(TRUE)
    gaps: list[str] = []
    if pop.age_years is not None:
        ages = facts.ages(completed_years, now)  # (youngest, oldest): both in or both out decides
        inside = None if ages is None else {_in_band(age, pop.age_years) for age in ages}
        if inside is None or len(inside) > 1:
            gaps.append("age_years")
        elif inside == {False}:
            return ScopeResult(FALSE)
    if pop.sex is not None:
        if facts.sex in UNKNOWN_SEX and "unknown" not in pop.sex:
            gaps.append("sex")
        elif facts.sex not in UNKNOWN_SEX and facts.sex not in pop.sex:
            return ScopeResult(FALSE)
    cautions: list[dict[str, str]] = []
    if pop.pregnant != "any":
        status = pregnancy_status(facts, now, settings)
        if pop.pregnant == "exclude" and status == "pregnant":
            return ScopeResult(FALSE)
        if pop.pregnant == "only" and status != "pregnant":
            return ScopeResult(FALSE)
        if pop.pregnant == "exclude" and status == "unknown" and could_be_pregnant(facts, now, settings):
            text = settings.pregnancy_unknown
            cautions.append({"zh": text.zh, "en": text.en})
    if pop.lactating != "any":
        lactating = bool(facts.present.get(LACTATION))
        if lactating != (pop.lactating == "only"):
            return ScopeResult(FALSE)
    if gaps:
        return ScopeResult(UNKNOWN, tuple(gaps))
    return ScopeResult(TRUE, (), tuple(cautions))


def is_deceased(facts: PatientFacts, now: dt.datetime) -> bool:
    """deceasedBoolean true, or a deceasedDateTime at or before `now`."""
    if facts.deceased is True:
        return True
    return isinstance(facts.deceased, dt.datetime) and facts.deceased <= now


def deceased_note(settings: SafetySettings) -> str:
    return f"{settings.deceased.zh} / {settings.deceased.en}"
