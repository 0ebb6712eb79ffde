"""Population: the per-patient job both engines run. One patient's resources -> one record (a JSON line):
its evaluation line (exactly `cdss evaluate --format json`, on one line), the rules that fired, its
centre / team / doctor, or the one-line reason it could not be evaluated.

A worker (a process of the pool, a Spark executor's Python worker) loads the registry and compiles the
packs once (`worker`), then evaluates any number of patients.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cdss.engine.compile import compile_pack
from cdss.engine.evaluate import evaluate_facts
from cdss.errors import CdssError
from cdss.intake.bundle import read_bundle
from cdss.intake.facts import PatientFacts, completed_years
from cdss.packs.registry import Pack, Registry, default_registry, load_registry
from cdss.vocab.collector import settle_long_lived


@dataclass(frozen=True)
class JobConfig:
    """What every worker needs to evaluate alike: the time, the pack pins and extra pack folders."""

    now: str  # ISO-8601, aware
    pins: tuple[str, ...] = ()
    packs_dirs: tuple[str, ...] = ()
    contract_concept: str | None = None  # the concept an active contract CareTeam maps to (from indicators)

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now, "pins": list(self.pins), "packs_dirs": list(self.packs_dirs),
                "contract_concept": self.contract_concept}


class Worker:
    """A worker's state: the registry, the selected packs (compiled once) and the evaluation time."""

    def __init__(self, config: JobConfig):
        self.config = config
        self.registry: Registry = load_registry([Path(p) for p in config.packs_dirs]) if config.packs_dirs \
            else default_registry()
        self.packs: tuple[Pack, ...] = self.registry.select(list(config.pins))
        for pack in self.packs:
            compile_pack(pack)
        self.now = dt.datetime.fromisoformat(config.now)

    def record(self, key: str, resources: Iterable[bytes]) -> str:
        """One patient's record as one JSON line (no newline)."""
        docs = _ordered(resources)
        patients = [d for d in docs if d.get("resourceType") == "Patient"]
        if not patients:
            return _error_record(key, "no Patient resource for these resources", "no-patient",
                                 count=len(docs))
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": d} for d in docs]}
        try:
            facts = read_bundle(bundle, self.registry.concepts, source_name=f"Patient/{key}")
            result = evaluate_facts(facts, now=self.now, registry=self.registry, packs=self.packs)
        except CdssError as exc:
            problem = exc.problems[0] if exc.problems else None
            return _error_record(key, str(problem) if problem else "unusable data",
                                 problem.code if problem else "unusable")
        data = result.model_dump(mode="json")
        line = json.dumps(data, ensure_ascii=False)
        fired = sorted({s.rule_id for s in result.suggestions})
        record = {"key": key, "patient": result.patient, "line": line, "fired": fired,
                  "suggestions": [_suggestion_row(s) for s in data["suggestions"]],
                  "gaps": [_gap_row(g, data["packs"]) for g in data["data_gaps"]],
                  "age": listed_age(facts, self.now), "name": _name(patients[0]),
                  **self.groups(patients[0], docs)}
        return json.dumps(record, ensure_ascii=False, sort_keys=True)

    def groups(self, patient: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, str | None]:
        """Centre, family-doctor team and doctor: from the resident's active contract CareTeam (the latest
        signed: its managingOrganization, its first Practitioner member, and its first CareTeam member, the
        team), else from Patient.managingOrganization / generalPractitioner (no team)."""
        centre = _ref(patient.get("managingOrganization"))
        doctor = next((r for r in map(_ref, _list(patient.get("generalPractitioner")))
                       if r and r.startswith("Practitioner/")), None)
        team = None
        concept = self.config.contract_concept
        contracts = []
        if concept:
            for d in docs:
                if d.get("resourceType") != "CareTeam" or d.get("status") != "active":
                    continue
                codings = [c for cc in _list(d.get("category")) if isinstance(cc, dict)
                           for c in _list(cc.get("coding")) if isinstance(c, dict)]
                if concept in self.registry.concepts.match(codings):
                    start = (d.get("period") or {}).get("start") if isinstance(d.get("period"), dict) else None
                    contracts.append((str(start or ""), str(d.get("id") or ""), d))
        if contracts:
            _, cid, ct = max(contracts, key=lambda c: (c[0], c[1]))
            centre = next(filter(None, map(_ref, _list(ct.get("managingOrganization")))), centre)
            members = [_ref(p.get("member")) for p in _list(ct.get("participant")) if isinstance(p, dict)]
            doctor = next((m for m in members if m and m.startswith("Practitioner/")), doctor)
            # The family-doctor team: a CareTeam (without subject) that is a member of the contract.
            team = next((m for m in members if m and m.startswith("CareTeam/")), None)
        return {"centre": centre, "team": team, "doctor": doctor}

    def records(self, groups: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[tuple[str, str]]:
        for key, resources in groups:
            yield key, self.record(key, resources)


_workers: dict[str, Worker] = {}


def worker(config: JobConfig) -> Worker:
    """This process's worker for the config (created, and the packs compiled, on first use).

    It lives as long as the process: its registry is kept out of the cyclic collector's passes
    (`cdss.vocab.collector`)."""
    key = json.dumps(config.to_json(), sort_keys=True)
    if key not in _workers:
        _workers[key] = Worker(config)
        settle_long_lived()
    return _workers[key]


def _ordered(resources: Iterable[bytes]) -> list[dict[str, Any]]:
    """The patient's resources in an order that does not depend on the input's: by type, id, content;
    an exact duplicate (the same resource twice) is kept once."""
    unique = sorted(set(resources))
    docs = [orjson.loads(r) for r in unique]
    return [d for _, d in sorted(zip(unique, docs, strict=True),
                                 key=lambda p: (str(p[1].get("resourceType")), str(p[1].get("id")), p[0]))]


def _error_record(key: str, message: str, code: str, **extra: Any) -> str:
    error = {"patient": f"Patient/{key}", "source": None, "code": code, "message": message, **extra}
    return json.dumps({"key": key, "patient": f"Patient/{key}", "error": error}, ensure_ascii=False,
                      sort_keys=True)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _ref(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return value["reference"]
    return None


def listed_age(facts: PatientFacts, now: dt.datetime) -> int | None:
    """The age a population listing shows: completed years, read from the birth date as the engine reads it;
    for a year or a month alone, the youngest the resident may be (as the engine's ranges); a birth date
    after `now` is 0, not negative."""
    ages = facts.ages(completed_years, now)
    return None if ages is None else max(ages[0], 0)


def _name(patient: dict[str, Any]) -> str | None:
    for name in _list(patient.get("name")):
        if isinstance(name, dict):
            if isinstance(name.get("text"), str):
                return name["text"]
            family = name.get("family") if isinstance(name.get("family"), str) else ""
            given = "".join(g for g in _list(name.get("given")) if isinstance(g, str))
            if family or given:
                return f"{family}{given}"
    return None


def _suggestion_row(s: dict[str, Any]) -> dict[str, Any]:
    pack_version, rule = s["rule"].split("#", 1)
    pack, version = pack_version.split("@", 1)
    return {"suggestion_id": s["id"], "pack": pack, "pack_version": version, "rule": rule, "kind": s["kind"],
            "urgency": s["urgency"], "disease": (s.get("disease") or {}).get("id"),
            "title_zh": s["title"]["zh"], "title_en": s["title"]["en"], "evidence": s["evidence"],
            # what to check before acting on it (e.g. a pregnancy status to confirm), as the evaluation says
            "cautions_zh": [c["zh"] for c in s.get("cautions", ())],
            "cautions_en": [c["en"] for c in s.get("cautions", ())]}


def _gap_row(g: dict[str, Any], packs: list[dict[str, Any]]) -> dict[str, Any]:
    versions = {p["id"]: p["version"] for p in packs}
    return {"concept": g["concept"], "reason": g["reason"], "urgency": g["urgency"],
            "rules": [{"pack": r.split("/", 1)[0], "pack_version": versions.get(r.split("/", 1)[0], ""),
                       "rule": r} for r in g["rules"]]}
