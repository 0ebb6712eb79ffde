"""Intake: the codings a bundle sent that no concept (and no site ConceptMap) recognised.

Silent non-recognition is a safety defect: a doctor who sees no advice believes the patient was checked.
Intake therefore counts every coding it read but could not map, per resource type, and the evaluation
lists them (`unrecognised` in the JSON contract, the text output, the panel and the FHIR output).

Counted: the `code` of a Condition, Observation (and each Observation.component), MedicationRequest /
MedicationStatement (`medicationCodeableConcept` or R5 `medication.concept`) and AllergyIntolerance that
intake read (the status filters of intake apply first) and where no coding of the CodeableConcept matched
a concept. A CodeableConcept of which one coding matched is understood: its other codings are not listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cdss.vocab.record import Record


class UnrecognisedCoding(Record):
    """One coding no concept recognised, with how often it occurred in the input."""

    resource_type: str  # Condition | Observation | Observation.component | MedicationRequest | ...
    system: str  # as sent ("" when the coding had none)
    code: str
    display: str | None  # the display most often sent with it (ties: the first in sort order)
    count: int


class Tally:
    """Counts unrecognised codings; `result()` is sorted, so the order of resources does not matter."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], int] = {}
        self._displays: dict[tuple[str, str, str], dict[str, int]] = {}

    def add(self, resource_type: str, codings: Iterable[Mapping[str, Any]]) -> None:
        """Count each coding of one CodeableConcept that nothing recognised (codings without a code: skipped)."""
        for coding in codings:
            code = coding.get("code")
            if not isinstance(code, str) or not code.strip():
                continue
            system = coding.get("system")
            key = (resource_type, system.strip() if isinstance(system, str) else "", code.strip())
            self._counts[key] = self._counts.get(key, 0) + 1
            display = coding.get("display")
            if isinstance(display, str) and display.strip():
                shown = self._displays.setdefault(key, {})
                shown[display.strip()] = shown.get(display.strip(), 0) + 1

    def merge(self, other: Iterable[UnrecognisedCoding]) -> None:
        """Add the counts of an earlier result (e.g. one bundle of many)."""
        for item in other:
            key = (item.resource_type, item.system, item.code)
            self._counts[key] = self._counts.get(key, 0) + item.count
            if item.display:
                shown = self._displays.setdefault(key, {})
                shown[item.display] = shown.get(item.display, 0) + item.count

    def __len__(self) -> int:
        return len(self._counts)

    def result(self) -> tuple[UnrecognisedCoding, ...]:
        out = []
        for key in sorted(self._counts):
            shown = self._displays.get(key)
            display = min(shown.items(), key=lambda kv: (-kv[1], kv[0]))[0] if shown else None
            out.append(UnrecognisedCoding(*key, display, self._counts[key]))
        return tuple(out)
