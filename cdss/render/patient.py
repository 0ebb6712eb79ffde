"""Render: who the patient is, for a page header: name, sex and age at the evaluation time (completed years,
and completed months under one year), as the bundle's Patient gives them (never stored: the audit store holds
no patient identifier)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from cdss.intake.facts import completed_months, completed_years


def patient_header(bundle: bytes, now: dt.datetime) -> dict[str, Any]:
    """The Patient's name, sex, age in completed years at `now` and, under one year, `age_months` (what the
    bundle gives; {} if unreadable; no age for a birth date after `now`)."""
    try:
        doc = json.loads(bundle)
        patient = next(e["resource"] for e in doc.get("entry") or () if isinstance(e, dict)
                       and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Patient")
    except (ValueError, StopIteration, AttributeError, TypeError):
        return {}
    out: dict[str, Any] = {}
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    for name in names:
        if isinstance(name, dict):
            text = name.get("text")
            if not isinstance(text, str):
                given = [g for g in name.get("given") or () if isinstance(g, str)]
                family = name.get("family") if isinstance(name.get("family"), str) else ""
                # Chinese names: family name first, no space; others: given names then family.
                text = family + "".join(given) if re.search(r"[\u4e00-\u9fff]", family + "".join(given)) \
                    else " ".join([*given, family]).strip()
            if text:
                out["name"] = text
                break
    if patient.get("gender") in ("male", "female", "other", "unknown"):
        out["sex"] = patient["gender"]
    birth = patient.get("birthDate")
    if isinstance(birth, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth):
        try:
            born = dt.date.fromisoformat(birth)
        except ValueError:
            return out
        if born <= now.date():
            out["age"] = completed_years(born, now.date())
            if out["age"] < 1:
                out["age_months"] = completed_months(born, now.date())  # "0 岁" tells a clinician nothing
    return out


