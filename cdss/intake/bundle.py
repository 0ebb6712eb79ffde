"""Intake: FHIR Bundle (R4 / R4B / R5 JSON) -> PatientFacts.

Reads plain JSON with targeted checks of the fields it uses (full fhir.resources validation costs ~50x
json.loads and stays off this hot path). Everything wrong with the bundle that makes it unusable raises
IntakeError naming the FHIR path; a value that is merely unusable (unknown unit, implausible number) is
kept as an IntakeNote and becomes a data gap when a rule needs it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from cdss.errors import IntakeError, Problem
from cdss.intake import identity
from cdss.intake.careteam import read_careteam
from cdss.intake.dose import read_dose
from cdss.intake.encounter import read_encounter
from cdss.intake.facts import IntakeNote, PatientFacts, Presence, Reading, in_time_order
from cdss.intake.questionnaire import read_questionnaire_response
from cdss.intake.quick import QuickObservations
from cdss.intake.supply import read_supply
from cdss.intake.tcm_text import read_tcm_text
from cdss.intake.unrecognised import Tally
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.times import aware, last_day
from cdss.vocab.units import UnitTooComplex, UnknownUnit, to_canonical

BUNDLE_TYPES = {"collection", "transaction", "batch", "searchset", "transaction-response", "batch-response",
                "history", "document", "message"}
OBSERVATION_OK = {"final", "amended", "corrected"}
CONDITION_SKIP_CLINICAL = {"inactive", "resolved", "remission"}
SKIP_VERIFICATION = {"refuted", "entered-in-error"}
MEDICATION_OK = {"active", "draft", "on-hold", "recorded", "intended"}
UCUM = "http://unitsofmeasure.org"

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class _Reader:
    def __init__(self, concepts: ConceptSet, source_name: str | None, now: dt.datetime | None):
        self.concepts = concepts
        self.source_name = source_name
        self.now = now
        self.readings: dict[str, list[Reading]] = {}
        self.present: dict[str, list[Presence]] = {}
        self.notes: list[IntakeNote] = []
        self.unknown = Tally()  # codings no concept recognised (cdss/intake/unrecognised.py)
        self.quick = QuickObservations(concepts, self.readings, OBSERVATION_OK).read  # the common Observation

    def add_presence(self, concept: str, time: dt.datetime | None, ref: str) -> None:
        self.present.setdefault(concept, []).append(Presence(concept, time, ref))

    def fail(self, path: str, message: str, code: str, **extra: Any) -> IntakeError:
        return IntakeError(Problem(message, code, file=self.source_name, field=path, **extra))

    # --- times ---------------------------------------------------------------------------------
    def when(self, value: Any, path: str) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(path, "not a FHIR date or dateTime", "bad-date", got=value,
                            expected="YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz")
        text = value.strip()
        try:
            if len(text) <= 10 and _DATE.match(text):  # (a longer text is never a date alone)
                parts = [int(p) for p in text.split("-")] + [1, 1]
                return dt.datetime(parts[0], parts[1], parts[2], tzinfo=dt.UTC)
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(path, "not a FHIR date or dateTime", "bad-date", got=value,
                            expected="YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz") from None
        # FHIR requires a zone when a time is given; without one we read UTC rather than guess local time.
        return aware(parsed)

    def effective(self, res: Mapping[str, Any], path: str, *keys: str) -> dt.datetime | None:
        for key in keys:
            if key in res:
                value = res[key]
                if key.endswith("Period") and isinstance(value, dict):
                    return self.when(value.get("start") or value.get("end"), f"{path}.{key}.start")
                return self.when(value, f"{path}.{key}")
        return None

    # --- resources -----------------------------------------------------------------------------
    def codings(self, concept: Any) -> list[Mapping[str, Any]]:
        if isinstance(concept, dict):
            codings = concept.get("coding")
            if isinstance(codings, list):
                return [c for c in codings if isinstance(c, dict)]
        return []

    def code(self, res: Mapping[str, Any], key: str, path: str) -> str | None:
        """A FHIR `code` element: a string or absent; any other JSON type is an error at its path."""
        value = res.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{path}.{key}", "not a FHIR code (a JSON string)", "bad-type",
                            got=type(value).__name__)
        return value

    def status(self, res: Mapping[str, Any], key: str, path: str) -> str | None:
        """The code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
        concept = res.get(key)
        if concept is None:
            return None
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not isinstance(concept, dict) or not isinstance(codings, list | None):
            where = f"{path}.{key}" if not isinstance(concept, dict) else f"{path}.{key}.coding"
            raise self.fail(where, "not a FHIR CodeableConcept (an object with a coding list)", "bad-type",
                            got=type(concept if not isinstance(concept, dict) else codings).__name__)
        return _status(concept)

    def observation(self, res: Mapping[str, Any], path: str, ref: str) -> None:
        """An Observation that the fast path (`self.quick`, tried first by `read_bundle`) left alone."""
        if self.code(res, "status", path) not in OBSERVATION_OK:
            return
        time = self.effective(res, path, "effectiveDateTime", "effectiveInstant", "effectivePeriod", "issued")
        understood = self.observed(res, path, ref, time)
        components = res.get("component")
        if isinstance(components, list):
            for i, comp in enumerate(components):
                if isinstance(comp, dict):
                    if self.observed(comp, f"{path}.component[{i}]", ref, time):
                        understood = True
                    else:
                        self.unknown.add("Observation.component", self.codings(comp.get("code")))
        if not understood:
            self.unknown.add("Observation", self.codings(res.get("code")))

    def observed(self, item: Mapping[str, Any], path: str, ref: str, time: dt.datetime | None) -> bool:
        """One Observation (or component): its code, and its value if it has one; False: nothing recognised."""
        ids = self.concepts.match(self.codings(item.get("code")))
        value_ids = ()
        if "valueCodeableConcept" in item:
            value_ids = self.concepts.match_value(self.codings(item["valueCodeableConcept"]))
            value_ids += self.concepts.match(self.codings(item["valueCodeableConcept"]))
        for cid in value_ids:
            self.present.setdefault(cid, []).append(Presence(cid, time, ref))
        if ids and isinstance(item.get("valueString"), str):
            read_tcm_text(self, ids, item["valueString"], ref, time)  # 中医四诊 free text -> findings
        for cid in ids:
            concept = self.concepts.by_id[cid]
            if concept.kind == "quantity":
                self.quantity(item, path, ref, time, cid)
            elif "valueDateTime" in item:  # a date-valued finding (e.g. an expected delivery date)
                value = self.when(item["valueDateTime"], f"{path}.valueDateTime")
                if value is not None:
                    self.readings.setdefault(cid, []).append(Reading(cid, value.isoformat(), None, time, ref))
            elif concept.kind != "demographic":
                # A coded symptom/finding observed: present unless the value says no.
                if item.get("valueBoolean") is False:
                    continue
                self.present.setdefault(cid, []).append(Presence(cid, time, ref))
        return bool(ids or value_ids)

    def quantity(self, item: Mapping[str, Any], path: str, ref: str, time: dt.datetime | None, cid: str) -> None:
        concept = self.concepts.by_id[cid]
        q = item.get("valueQuantity")
        if isinstance(q, dict):
            value, vpath = q.get("value"), f"{path}.valueQuantity"
            if not isinstance(value, int | float) or isinstance(value, bool):
                if value is None:
                    return  # a quantity without a value (e.g. dataAbsentReason) says nothing
                raise self.fail(f"{vpath}.value", "not a number", "bad-quantity", got=value)
            unit = q.get("code") if q.get("system") in (UCUM, None) and q.get("code") else q.get("unit")
            if not isinstance(unit, str) or not unit:
                unit = ""
            if not _finite(value):
                raise self.fail(f"{vpath}.value", "not a usable number (too large)", "bad-quantity")
            try:
                canonical = to_canonical(float(value), unit, concept) if unit else None
            except UnitTooComplex as exc:
                raise self.fail(f"{vpath}.code", str(exc), "unit-too-complex",
                                hint="send a UCUM code such as 'mm[Hg]'") from exc
            except UnknownUnit as exc:
                self.notes.append(IntakeNote(cid, "unknown-unit", ref, f"{vpath}: {exc}"))
                return
            if canonical is None:
                self.notes.append(IntakeNote(cid, "unknown-unit", ref, f"{vpath}: no unit given"))
                return
        elif isinstance(item.get("valueInteger"), int) or isinstance(item.get("valueDecimal"), int | float):
            key = "valueInteger" if "valueInteger" in item else "valueDecimal"
            if not _finite(item[key]):
                raise self.fail(f"{path}.{key}", "not a usable number (too large)", "bad-quantity")
            canonical = float(item[key])
        else:
            return
        if concept.plausible and not (concept.plausible[0] <= canonical <= concept.plausible[1]):
            self.notes.append(IntakeNote(cid, "implausible", ref, f"{path}: {canonical:g} {concept.unit} is "
                                         f"outside {concept.plausible[0]:g}-{concept.plausible[1]:g}"))
            return
        self.readings.setdefault(cid, []).append(Reading(cid, canonical, concept.unit, time, ref))

    def condition(self, res: Mapping[str, Any], path: str, ref: str) -> None:
        if self.status(res, "verificationStatus", path) in SKIP_VERIFICATION:
            return
        if self.status(res, "clinicalStatus", path) in CONDITION_SKIP_CLINICAL:
            return
        time = self.effective(res, path, "onsetDateTime", "onsetPeriod", "recordedDate")
        ids = self.concepts.match(self.codings(res.get("code")))
        if not ids:
            self.unknown.add("Condition", self.codings(res.get("code")))
        for cid in ids:
            self.present.setdefault(cid, []).append(Presence(cid, time, ref))

    def medication(self, res: Mapping[str, Any], path: str, ref: str) -> None:
        if self.code(res, "status", path) not in MEDICATION_OK:
            return
        med = res.get("medicationCodeableConcept")
        if med is None and isinstance(res.get("medication"), dict):  # R5 CodeableReference
            med = res["medication"].get("concept")
        time = self.effective(res, path, "authoredOn", "effectiveDateTime", "effectivePeriod", "dateAsserted")
        ids = self.concepts.match(self.codings(med))
        if not ids:
            self.unknown.add(str(res.get("resourceType")), self.codings(med))
        for cid in ids:
            if self.concepts.by_id[cid].kind == "quantity":
                read_dose(self, res, path, ref, time, cid)  # the order's dose (e.g. a herb's grams per 剂)
                continue
            self.present.setdefault(cid, []).append(Presence(cid, time, ref))

    def allergy(self, res: Mapping[str, Any], path: str, ref: str) -> None:
        if self.status(res, "verificationStatus", path) in SKIP_VERIFICATION:
            return
        if self.status(res, "clinicalStatus", path) in CONDITION_SKIP_CLINICAL:
            return
        time = self.effective(res, path, "recordedDate", "onsetDateTime")
        ids = self.concepts.match(self.codings(res.get("code")))
        if not ids:
            self.unknown.add("AllergyIntolerance", self.codings(res.get("code")))
        for cid in ids:
            self.present.setdefault(cid, []).append(Presence(cid, time, ref))


def _finite(value: float) -> bool:
    """False for a number no float holds (a JSON integer of hundreds of digits)."""
    try:
        return float(value) not in (float("inf"), float("-inf"))
    except OverflowError:
        return False


def _status(concept: Any) -> str | None:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return coding["code"]
    return None


def _last_day(text: str, first: dt.date) -> dt.date | None:
    """The last day a partial FHIR date (YYYY or YYYY-MM, read as `first`) may mean; None for a full date."""
    size = len(text.strip())
    return last_day(first.year) if size == 4 else last_day(first.year, first.month) if size == 7 else None


def parse_json(data: bytes | str | Mapping[str, Any], source_name: str | None = None) -> Mapping[str, Any]:
    """The bundle as a mapping; raises IntakeError when the bytes are not JSON."""
    if isinstance(data, Mapping):
        return data
    try:
        return orjson.loads(data)  # several times faster than json.loads; same errors (a subclass)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "encoding"
        raise IntakeError(Problem(f"not valid JSON ({where}: {getattr(exc, 'msg', exc)})", "not-json",
                                  file=source_name, hint="send a FHIR Bundle as JSON")) from exc


def read_bundle(data: bytes | str | Mapping[str, Any], concepts: ConceptSet, *,
                source_name: str | None = None) -> PatientFacts:
    """Read a FHIR Bundle into PatientFacts.

    Args:
        data: the bundle as JSON bytes/text or an already parsed mapping.
        concepts: the concept dictionary whose value sets map codes to concepts.
        source_name: shown in error messages (a file name, or None).

    Raises:
        IntakeError: not JSON, not a Bundle, no Patient or two, an unparseable date or number.
    """
    doc = parse_json(data, source_name)
    reader = _Reader(concepts, source_name, None)
    if not isinstance(doc, Mapping) or doc.get("resourceType") != "Bundle":
        got = doc.get("resourceType") if isinstance(doc, Mapping) else type(doc).__name__
        raise reader.fail("resourceType", "not a FHIR Bundle", "not-a-bundle", got=got, expected="'Bundle'")
    if not isinstance(doc.get("type"), str) or doc["type"] not in BUNDLE_TYPES:
        raise reader.fail("Bundle.type", "unsupported bundle type", "bad-bundle-type", got=doc.get("type"),
                          expected=" | ".join(sorted(BUNDLE_TYPES)))
    entries = doc.get("entry") or []
    if not isinstance(entries, list):
        raise reader.fail("Bundle.entry", "must be a list", "bad-bundle", got=type(entries).__name__)
    patients: list[tuple[str, Mapping[str, Any]]] = []
    patient_urls: list[str | None] = []
    refs: list[tuple[int, str, str]] = []  # (entry index, key, reference): the FHIR path only on an error
    count = 0
    for i, entry in enumerate(entries):
        res = entry.get("resource") if type(entry) is dict or isinstance(entry, Mapping) else None
        if type(res) is not dict and not isinstance(res, Mapping):  # (a dict is checked first: cheaper)
            if isinstance(entry, Mapping) and "request" in entry and "resource" not in entry:
                continue  # a DELETE in a transaction carries no resource
            raise reader.fail(_entry_path(i), "entry has no resource", "bad-entry")
        count += 1
        rtype = res.get("resourceType")
        rid = res.get("id")
        if not (rtype.__class__ is str and rtype.isascii() and rid.__class__ is str and rid.isascii()):
            for key in ("resourceType", "id"):  # (ASCII text of both, the usual case, needs no closer look)
                if key in res and not _text(res[key]):
                    raise reader.fail(f"{_entry_path(i)}.{key}", "must be a JSON string of valid Unicode text",
                                      "bad-type", got=ascii(res[key])[:40] if isinstance(res[key], str)
                                      else type(res[key]).__name__)
        ref = f"{rtype}/{rid or _full_url_id(entry) or i}"
        if rtype != "Patient" and ("subject" in res or "patient" in res):  # identity.SUBJECT_KEYS
            refs.extend((i, key, reference) for key, reference in identity.references(res))
        if rtype == "Observation" and reader.quick(res, ref):
            continue  # the common reading, read by the fast path (cdss.intake.quick)
        path = _entry_path(i)
        if rtype == "Patient":
            patients.append((path, res))
            patient_urls.append(entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None)
        elif rtype == "Observation":
            reader.observation(res, path, ref)
        elif rtype == "Condition":
            reader.condition(res, path, ref)
        elif rtype in ("MedicationStatement", "MedicationRequest"):
            reader.medication(res, path, ref)
            if rtype == "MedicationRequest":
                read_supply(reader, res, path, ref, MEDICATION_OK)
        elif rtype == "AllergyIntolerance":
            reader.allergy(res, path, ref)
        elif rtype == "Encounter":
            read_encounter(reader, res, path, ref)
        elif rtype == "QuestionnaireResponse":
            read_questionnaire_response(reader, res, path, ref)
        elif rtype == "CareTeam":
            read_careteam(reader, res, path, ref)
    if not patients:
        raise reader.fail("Bundle.entry", "no Patient resource in the bundle", "no-patient",
                          hint="include the Patient the data belong to")
    if len(patients) > 1:
        raise reader.fail(patients[1][0], "a second Patient in the bundle", "two-patients",
                          hint="send one patient's data per bundle")
    path, patient = patients[0]
    pid = patient.get("id") if isinstance(patient.get("id"), str) else None
    identity.check_references(refs, pid, patient_urls[0], reader.fail, _entry_path)
    birth = reader.when(patient.get("birthDate"), f"{path}.birthDate")
    return PatientFacts(
        patient=f"Patient/{patient.get('id') or 'unknown'}",
        birth_date=birth.date() if birth else None,
        birth_date_latest=_last_day(patient["birthDate"], birth.date()) if birth else None,
        sex=patient.get("gender") if _text(patient.get("gender")) else None,
        readings={k: in_time_order(v) for k, v in sorted(reader.readings.items())},
        present={k: in_time_order(v) for k, v in sorted(reader.present.items())},
        notes=tuple(reader.notes),
        resource_count=count,
        deceased=identity.deceased(patient, path, reader.when),
        unrecognised=reader.unknown.result(),
    )


def _entry_path(i: int) -> str:
    return f"Bundle.entry[{i}].resource"


def _text(value: Any) -> bool:
    """A JSON string that is also valid Unicode text (a lone surrogate escape such as "\\udc00" is not)."""
    if not isinstance(value, str):
        return False
    if value.isascii():  # the common case, no encoding needed
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _full_url_id(entry: Mapping[str, Any]) -> str | None:
    url = entry.get("fullUrl")
    return url.rsplit("/", 1)[-1].removeprefix("urn:uuid:") if _text(url) and url else None
