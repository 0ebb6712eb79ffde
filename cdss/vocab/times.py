"""Vocabulary: the naive-time policy - how a date-time written without a UTC offset is read.

One rule, one place: a time without an offset is read in a stated zone, never in the machine's local
zone. Data and API input (FHIR dateTimes, `cdss evaluate --now`, CDS Hooks feedback, population periods)
are read as UTC (`DATA_ZONE`): FHIR requires an offset when a time is given, and UTC is the reading that
does not guess. A clinician typing a time into the panel types Beijing time (`CLINIC_ZONE`, +08:00), and
the panel says so next to the field. An offset that is given is always kept.
"""

from __future__ import annotations

import calendar
import datetime as dt

DATA_ZONE: dt.tzinfo = dt.UTC
CLINIC_ZONE: dt.tzinfo = dt.timezone(dt.timedelta(hours=8))  # Shanghai: no daylight saving time


def aware(t: dt.datetime, zone: dt.tzinfo = DATA_ZONE) -> dt.datetime:
    """`t` itself when it has an offset; else `t` read in `zone`."""
    return t if t.tzinfo is not None else t.replace(tzinfo=zone)


def parse_time(text: str, zone: dt.tzinfo = DATA_ZONE) -> dt.datetime:
    """An ISO-8601 date or date-time (`Z` allowed) as an aware datetime; a date alone is midnight in `zone`.

    Raises:
        ValueError: not ISO-8601.
    """
    return aware(dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")), zone)


def last_day(year: int, month: int | None = None) -> dt.date:
    """The last day of a year, or of one of its months: the latest a partial FHIR date (YYYY, YYYY-MM) may mean.

    Raises:
        ValueError: no such month.
    """
    return dt.date(year, 12, 31) if month is None else dt.date(year, month, calendar.monthrange(year, month)[1])
