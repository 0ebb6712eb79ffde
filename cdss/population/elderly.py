"""Population: the yearly assessment report of one resident aged 65 or over (`cdss report elderly`, and the
panel's page), as printable HTML: measurements, scores (e.g. the self-care score with its items and band), the
TCM constitution result, the status of the yearly service, and the advice. Decides nothing: every clinical
word comes from the evaluation, the packs and the concept dictionary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from cdss.engine.evaluate import evaluate_facts
from cdss.errors import ConfigError
from cdss.intake.bundle import read_bundle
from cdss.intake.facts import completed_years
from cdss.packs.registry import Pack, Registry, walk_leaves
from cdss.packs.schema import URGENCY_ORDER
from cdss.vocab import labels

# The pack whose population is the report's subject: the 规范's older residents (65 and over), an age that
# is content and lives in the pack's `population`, not here.
ELDERLY_PACK = "elderly-health-management"
# The pack whose judgements form the report's TCM constitution section: a suggestion of this pack that cites
# one of its derived scores is a judged constitution; its other suggestions (the yearly reminder) stay advice.
CONSTITUTION_PACK = "tcm-constitution"


def elderly_age(packs: Sequence[Pack]) -> int | None:
    """The youngest age, in completed years, that the yearly assessment is for: the lower bound of the
    population of the elderly health-management pack among `packs` (None: no such pack, or no lower bound)."""
    pack = next((p for p in packs if p.id == ELDERLY_PACK), None)
    band = pack.meta.population.age_years if pack is not None and pack.meta.population is not None else None
    return None if band is None or band.min is None else int(band.min)


def elderly_view(bundle: bytes | Mapping[str, Any], *, now: dt.datetime, registry: Registry,
                 pins: tuple[str, ...] = (), source_name: str | None = None) -> dict[str, Any]:
    """The report's view model (plain data; the CLI's template and the panel's page both render it).

    Raises:
        IntakeError: the bundle is unusable.
        ConfigError: the resident is younger than the elderly pack's population (65 in the 规范) or has no
            birth date [not-elderly]; no elderly health-management pack is selected [no-elderly-pack].
        EngineError: a pin names an unknown pack or version.
    """
    packs = registry.select(list(pins))
    youngest = elderly_age(packs)
    if youngest is None:
        raise ConfigError.one(f"the yearly assessment needs the {ELDERLY_PACK} pack, whose population says whom "
                              "it is for", "no-elderly-pack", field="pack", got=", ".join(p.key for p in packs))
    facts = read_bundle(bundle, registry.concepts, source_name=source_name)
    ages = facts.ages(completed_years, now)
    age = None if ages is None else ages[0]  # the youngest a partial birth date allows
    if age is None or age < youngest:
        raise ConfigError.one(f"the yearly assessment is for residents aged {youngest} or over",
                              "not-elderly", file=source_name, got=age)
    result = evaluate_facts(facts, now=now, registry=registry, packs=packs)
    data = result.model_dump(mode="json")
    concepts = registry.concepts.by_id
    by_id = {s.id: s for s in result.suggestions}
    values = {e.concept: e for s in result.suggestions for e in s.facts()}
    scored: set[str] = set()  # the questionnaire items of the scores: shown with their score, not as measurements
    scores, constitution_scores = [], {}
    constitution_ids = {d.id for p in packs if p.id == CONSTITUTION_PACK for d in p.derived}
    for pack in packs:
        for d in pack.derived:
            part_concepts = list(dict.fromkeys(leaf.concept for part in d.parts for leaf, _ in walk_leaves(part.when)
                                               if leaf.concept in concepts))
            # Only questionnaire items (coded by a Questionnaire's URL and a linkId) are shown with their score
            # alone; a measurement a score also reads (blood pressure in a BP grade) stays a measurement.
            scored.update(c for c in part_concepts if any("/Questionnaire/" in k.system for k in concepts[c].codes))
            if d.id not in values:
                continue
            items = []
            for cid in part_concepts:
                readings = facts.readings.get(cid, ())
                items.append({"zh": concepts[cid].title.zh, "en": concepts[cid].title.en,
                              "value": readings[-1].value if readings else None})
            bands = [s for s in data["suggestions"] if any(e.concept == d.id for e in by_id[s["id"]].facts())]
            score = {"id": d.id, "zh": d.title.zh, "en": d.title.en, "value": values[d.id].value, "items": items,
                     "bands": [b["title"] for b in bands]}
            if d.id in constitution_ids:
                constitution_scores[d.id] = score
            else:
                scores.append(score)
    constitution = []
    for s in data["suggestions"]:
        cited = [constitution_scores[e.concept] for e in by_id[s["id"]].facts() if e.concept in constitution_scores]
        if by_id[s["id"]].pack_id == CONSTITUTION_PACK and cited:
            constitution.append({**s, "scores": list({c["id"]: c for c in cited}.values())})
    constitution.sort(key=lambda c: (-max(s["value"] for s in c["scores"]), c["rule"]))  # guide by the highest
    judged = {c["id"] for c in constitution}
    measurements = []
    for cid, readings in sorted(facts.readings.items()):
        last = [r for r in readings if r.time is None or r.time <= now]
        if not last or cid in scored:
            continue
        r = last[-1]
        title = concepts[cid].title
        measurements.append({"zh": title.zh, "en": title.en, "value": r.value, "unit": r.unit or "",
                             "date": r.time.date().isoformat() if r.time else ""})
    advice = sorted((s for s in data["suggestions"] if s["id"] not in judged),
                    key=lambda s: URGENCY_ORDER.index(s["urgency"]))
    return {"patient": result.patient, "age": age, "sex": facts.sex, "now": now.isoformat(),
            "measurements": measurements, "scores": scores, "constitution": constitution, "advice": advice,
            "urgency": labels.table("urgency"), "kind": labels.table("kind"), "packs": data["packs"]}


def elderly_report(bundle: bytes | Mapping[str, Any], *, now: dt.datetime, registry: Registry,
                   pins: tuple[str, ...] = (), source_name: str | None = None) -> str:
    """The report as HTML text (see `elderly_view` for what it holds and raises)."""
    view = elderly_view(bundle, now=now, registry=registry, pins=pins, source_name=source_name)
    env = Environment(loader=PackageLoader("cdss.population", "templates"), autoescape=select_autoescape())
    return env.get_template("elderly.html.j2").render(**view)
