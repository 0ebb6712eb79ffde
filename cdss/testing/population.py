"""Testing kit: generated populations as a FHIR Bulk Data export (one NDJSON file per resource type), for
the batch tests and `cdss bench --batch`. Residents are drawn deterministically from a seed: ages 30-90,
some with hypertension / type 2 diabetes and follow-up visits, some signed with a family doctor (a
CareTeam), spread over centres, teams and doctors. Codes come from the concepts' value sets; the values are
arbitrary, not clinical scenarios.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from cdss.testing.factories import CaseFact, bundle_from_facts
from cdss.vocab.concepts import ConceptSet


def _coding(concepts: ConceptSet, concept_id: str) -> dict[str, str]:
    first = concepts.by_id[concept_id].codes[0]
    return {"system": first.system, "code": first.code}


def resident_facts(rnd: random.Random, concepts: ConceptSet) -> tuple[int, str, list[CaseFact]]:
    """One generated resident: age, sex and facts."""
    age = rnd.randint(30, 90)
    facts: list[CaseFact] = []
    for disease, visit, measures in (("hypertension", "htn_followup_visit", ("sbp", "dbp")),
                                     ("t2dm", "t2dm_followup_visit", ("fpg",))):
        if disease not in concepts.by_id or rnd.random() > 0.35:
            continue
        facts.append(CaseFact(has=disease, days_ago=rnd.uniform(400, 3000)))
        day = rnd.uniform(0, 120)
        for _ in range(rnd.randint(0, 6)):
            facts.append(CaseFact(has=visit, days_ago=round(day, 2)))
            for m in measures:
                low, high = concepts.by_id[m].plausible or (0.0, 100.0)
                mid = low + (high - low) * 0.35  # arbitrary: a third of the way up the plausible range
                facts.append(CaseFact(concept=m, value=round(rnd.gauss(mid, mid * 0.1), 1), days_ago=round(day, 2)))
            day += rnd.uniform(30, 120)
    if age >= 65 and rnd.random() < 0.6:
        facts.append(CaseFact(has="annual_health_check", days_ago=round(rnd.uniform(0, 500), 2)))
    if rnd.random() < 0.5:
        facts.append(CaseFact(has="family_doctor_contact", days_ago=round(rnd.uniform(0, 200), 2)))
    return age, rnd.choice(["male", "female"]), facts


def write_bulk_export(folder: Path, residents: int, *, concepts: ConceptSet, now: dt.datetime, seed: int = 0,
                      centres: int = 2, teams_per_centre: int = 2) -> Path:
    """Write a Bulk Data export of `residents` generated residents into `folder`; return the folder."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[str]] = {}

    def emit(res: dict[str, Any]) -> None:
        out.setdefault(res["resourceType"], []).append(json.dumps(res, ensure_ascii=False, sort_keys=True))

    for c in range(centres):
        emit({"resourceType": "Organization", "id": f"centre-{c}", "name": f"社区卫生服务中心{c + 1}"})
        for t in range(teams_per_centre):
            emit({"resourceType": "Practitioner", "id": f"doctor-{c}-{t}",
                  "name": [{"family": "医生", "given": [f"{c + 1}-{t + 1}"]}]})
            emit({"resourceType": "CareTeam", "id": f"team-{c}-{t}", "status": "active",
                  "name": f"家庭医生团队{c + 1}-{t + 1}",
                  "managingOrganization": [{"reference": f"Organization/centre-{c}"}],
                  "participant": [{"member": {"reference": f"Practitioner/doctor-{c}-{t}"}}]})
    contract = _coding(concepts, "family_doctor_contract") if "family_doctor_contract" in concepts.by_id else None
    for i in range(residents):
        pid = f"p{seed:02d}-{i:06d}"
        age, sex, facts = resident_facts(rnd, concepts)
        bundle = bundle_from_facts(facts, concepts=concepts, now=now, age_years=age, sex=sex, patient_id=pid)
        c, t = rnd.randrange(centres), rnd.randrange(teams_per_centre)
        for entry in bundle["entry"]:
            res = dict(entry["resource"])
            if res["resourceType"] == "Patient":
                res["managingOrganization"] = {"reference": f"Organization/centre-{c}"}
            else:
                res["id"] = f"{pid}-{res['id']}"
                res.pop("patient", None)
                key = "patient" if res["resourceType"] == "AllergyIntolerance" else "subject"
                res[key] = {"reference": f"Patient/{pid}"}
            emit(res)
        if contract and rnd.random() < 0.6:
            emit({"resourceType": "CareTeam", "id": f"{pid}-contract", "status": "active",
                  "category": [{"coding": [contract]}], "subject": {"reference": f"Patient/{pid}"},
                  "period": {"start": (now - dt.timedelta(days=rnd.randint(100, 900))).date().isoformat()},
                  "managingOrganization": [{"reference": f"Organization/centre-{c}"}],
                  "participant": [{"member": {"reference": f"Practitioner/doctor-{c}-{t}"}},
                                  {"member": {"reference": f"CareTeam/team-{c}-{t}"}}]})
    for rtype, lines in sorted(out.items()):
        (folder / f"{rtype}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
