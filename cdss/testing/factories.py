"""Testing kit: build FHIR bundles from compact fact lists, so cases and properties go through real intake.

    bundle = bundle_from_facts(
        [CaseFact(concept="sbp", value=195, days_ago=0), CaseFact(has="hypertension")],
        concepts=registry.concepts, now=now, age_years=60, sex="male")

Each fact becomes the resource an EHR would send: a quantity an Observation with a UCUM valueQuantity
(coded with the concept's first code), a condition or symptom a Condition, a drug a MedicationStatement,
an allergy an AllergyIntolerance, an encounter concept an Encounter, a questionnaire item's
concept a QuestionnaireResponse. Codes come from the concept's value set, never from this module.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from cdss.errors import PackError
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.model import Model
from cdss.vocab.times import last_day

UCUM = "http://unitsofmeasure.org"


class CaseFact(Model):
    """One fact of a compact patient: a measurement (`concept` + `value`) or a coded item (`has`)."""

    concept: str | None = Field(default=None, description="Quantity concept, e.g. `sbp`.")
    value: float | None = Field(default=None, description="The value, in `unit`.")
    unit: str | None = Field(default=None, description="UCUM unit; default: the concept's canonical unit.")
    has: str | None = Field(default=None, description="Coded concept present, e.g. `diabetes`.")
    days_ago: float = Field(default=0, ge=0, description="When, counted back from the case's `now`.")
    status: str | None = Field(default=None, description="Override the resource status (e.g. `preliminary`).")


def _coding(concepts: ConceptSet, concept_id: str) -> dict[str, str]:
    concept = concepts.by_id.get(concept_id)
    if concept is None:
        raise PackError.one(f"unknown concept {concept_id!r}", "unknown-concept", field="facts")
    if not concept.codes:
        raise PackError.one(f"concept {concept_id!r} has no code to build a resource with", "no-code",
                            field="facts", hint="give the concept a code in catalogue/concepts/")
    first = concept.codes[0]
    return {"system": first.system, "code": first.code, **({"display": first.display} if first.display else {})}


def _time(now: dt.datetime, days_ago: float) -> str:
    return (now - dt.timedelta(days=days_ago)).isoformat()


def birth_date(age_years: float, now: dt.datetime) -> dt.date:
    """The birth date of a patient `age_years` old at `now`: the whole years, and the fraction as completed
    months (`floor(fraction x 12)`: 0.5 is 6 months, 0.85 is 10), so that both `age_years` and `age_months`
    of the patient are what the case means. A day of birth the month lacks falls on its last day."""
    years = int(age_years)
    months = years * 12 + math.floor(round((age_years - years) * 12, 9))
    today = now.date()
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(today.day, last_day(year, month + 1).day))


def bundle_from_facts(facts: Iterable[CaseFact], *, concepts: ConceptSet, now: dt.datetime,
                      age_years: float | None = None, sex: str | None = None,
                      patient_id: str = "case") -> dict[str, Any]:
    """A FHIR R4 collection Bundle holding one Patient and a resource per fact.

    Raises:
        PackError: a fact names an unknown concept or one without a code [unknown-concept, no-code].
    """
    patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    if age_years is not None:
        patient["birthDate"] = birth_date(age_years, now).isoformat()
    if sex is not None:
        patient["gender"] = sex
    entries = [{"fullUrl": f"urn:uuid:{patient_id}", "resource": patient}]
    for i, fact in enumerate(facts):
        rid = f"f{i}"
        when = _time(now, fact.days_ago)
        if fact.concept is not None and "/Questionnaire/" in _coding(concepts, fact.concept)["system"]:
            # A questionnaire item's concept (code system = the Questionnaire's URL, code = linkId): the
            # value arrives as a scored answer of a QuestionnaireResponse, as a form would send it.
            item = _coding(concepts, fact.concept)
            res = {"resourceType": "QuestionnaireResponse", "id": rid, "status": fact.status or "completed",
                   "questionnaire": item["system"], "authored": when,
                   "subject": {"reference": f"Patient/{patient_id}"},
                   "item": [{"linkId": item["code"], "answer": [{"valueDecimal": fact.value}]}]}
        elif fact.concept is not None:
            concept = concepts.by_id.get(fact.concept)
            unit = fact.unit or (concept.unit if concept else None)
            res: dict[str, Any] = {
                "resourceType": "Observation", "id": rid, "status": fact.status or "final",
                "code": {"coding": [_coding(concepts, fact.concept)]}, "effectiveDateTime": when,
                "valueQuantity": {"value": fact.value, "unit": unit, "system": UCUM, "code": unit},
            }
        else:
            concept = concepts.by_id.get(fact.has or "")
            coding = _coding(concepts, fact.has or "")
            kind = concept.kind if concept else "condition"
            if kind == "medication":
                res = {"resourceType": "MedicationStatement", "id": rid, "status": fact.status or "active",
                       "medicationCodeableConcept": {"coding": [coding]}, "effectiveDateTime": when,
                       "subject": {"reference": f"Patient/{patient_id}"}}
            elif kind == "allergy":
                res = {"resourceType": "AllergyIntolerance", "id": rid, "code": {"coding": [coding]},
                       "recordedDate": when, "patient": {"reference": f"Patient/{patient_id}"}}
            elif kind == "encounter":
                # A class code (v3 ActCode) goes in `class`, anything else in `type`; the visit ends at `when`.
                place = {"class": coding} if coding["system"].endswith("v3-ActCode") else \
                    {"type": [{"coding": [coding]}]}
                res = {"resourceType": "Encounter", "id": rid, "status": fact.status or "finished", **place,
                       "period": {"start": when, "end": when}, "subject": {"reference": f"Patient/{patient_id}"}}
            elif kind == "finding":
                res = {"resourceType": "Observation", "id": rid, "status": fact.status or "final",
                       "code": {"coding": [coding]}, "effectiveDateTime": when, "valueBoolean": True}
            else:
                res = {"resourceType": "Condition", "id": rid, "code": {"coding": [coding]},
                       "onsetDateTime": when, "subject": {"reference": f"Patient/{patient_id}"}}
        entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": res})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def synthetic_bundle(resources: int, *, concepts: ConceptSet, now: dt.datetime, seed: int = 0) -> dict[str, Any]:
    """A deterministic bundle of about `resources` resources for benchmarks: a patient with years of blood
    pressure, glucose and weight readings (values drawn from the concepts' plausible ranges), a few
    conditions and drugs. Values are arbitrary, not clinical scenarios."""
    import random

    rnd = random.Random(seed)
    measured = [c for c in ("sbp", "dbp", "glucose", "body_weight", "heart_rate", "egfr") if c in concepts.by_id]
    coded = [c.id for c in concepts.source.concepts if c.kind in ("condition", "medication") and c.codes][:8]
    facts: list[CaseFact] = [CaseFact(has=c, days_ago=rnd.uniform(0, 2000)) for c in coded[: max(0, resources // 50)]]
    while len(facts) < resources - 1:
        cid = rnd.choice(measured)
        low, high = concepts.by_id[cid].plausible or (0.0, 100.0)
        mid, spread = (low + high) / 2, (high - low) / 6
        facts.append(CaseFact(concept=cid, value=round(min(high, max(low, rnd.gauss(mid, spread))), 1),
                              days_ago=round(rnd.uniform(0, 1500), 2)))
    return bundle_from_facts(facts, concepts=concepts, now=now, age_years=rnd.randint(30, 90),
                             sex=rnd.choice(["male", "female"]), patient_id=f"bench-{seed}")
