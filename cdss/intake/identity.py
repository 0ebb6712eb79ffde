"""Intake: whose data a bundle holds, and whether the patient is alive.

Every resource that names a patient (its `subject` or `patient` reference) must name the bundle's one
Patient, by `Patient/<id>` (relative or absolute URL, with or without `_history`) or by the fullUrl of the
Patient's entry. A resource about anyone else makes the bundle unusable ([other-patient], with its FHIR
path): mixing two people's records silently would put one person's findings into another's advice. A
resource with no such reference is taken to be the bundle's patient's (a bundle holds one patient).

`deceased` reads `Patient.deceasedBoolean` / `deceasedDateTime`; the engine gives a deceased patient no
advice (see ``cdss.engine.population``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cdss.errors import IntakeError

SUBJECT_KEYS = ("subject", "patient")
_HISTORY = re.compile(r"/_history/[^/]+$")


def references(res: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, reference) of each patient reference of a resource (its FHIR path is `<resource>.<key>.reference`)."""
    out = []
    for key in SUBJECT_KEYS:
        ref = res.get(key)
        if ref is None:  # the common case, checked first (isinstance of an ABC is slow)
            continue
        if (type(ref) is dict or isinstance(ref, Mapping)) and isinstance(ref.get("reference"), str) and \
                ref["reference"].strip():
            out.append((key, ref["reference"].strip()))
    return out


def names_patient(reference: str, patient_id: str | None, full_url: str | None) -> bool:
    """True when `reference` points at the Patient with this id or entry fullUrl."""
    if full_url and reference == full_url:
        return True
    if not patient_id:
        return False
    ref = _HISTORY.sub("", reference)
    return ref == f"Patient/{patient_id}" or ref.endswith(f"/Patient/{patient_id}") or \
        ref == f"urn:uuid:{patient_id}"


def check_references(refs: Iterable[tuple[int, str, str]], patient_id: str | None, full_url: str | None,
                     fail: Callable[..., IntakeError], resource_path: Callable[[int], str]) -> None:
    """Raise IntakeError [other-patient] at the first reference that names someone else. `refs`: (entry index,
    key, reference); `resource_path(index)` gives the resource's FHIR path, for the error only."""
    named: set[str] = set()  # references already found to name the patient (a bundle repeats one or two)
    for index, key, ref in refs:
        if ref in named:
            continue
        if names_patient(ref, patient_id, full_url):
            named.add(ref)
        else:
            shown = f"Patient/{patient_id}" if patient_id else (full_url or "the bundle's Patient")
            where = f"{resource_path(index)}.{key}.reference"
            raise fail(where, "this resource is about another patient", "other-patient", got=ref,
                       expected=f"a reference to {shown}",
                       hint="send one patient's data per request; remove or correct the resource")


def deceased(patient: Mapping[str, Any], path: str,
             when: Callable[[Any, str], dt.datetime | None]) -> bool | dt.datetime | None:
    """True, the time of death, or None (alive or not recorded)."""
    flag = patient.get("deceasedBoolean")
    if flag is True:
        return True
    if "deceasedDateTime" in patient:
        return when(patient["deceasedDateTime"], f"{path}.deceasedDateTime")
    return None
