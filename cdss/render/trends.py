"""Render: the view-model of the panel's trend charts: which measures are charted together, with which rule
thresholds, as server-rendered SVG (cdss.render.svg). Decides nothing.

The readings are the patient's numeric readings by concept (what intake read from the bundle); an evaluation
read back from storage has none, and its charts show the values its rationale cites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdss.errors import CdssError
from cdss.packs.registry import Registry
from cdss.render import html as H
from cdss.render.conditions import unit_phrase
from cdss.render.svg import Point, Series, Threshold, collect_thresholds, render_trend

# concept -> (time ISO, value, unit, source reference) per reading
Readings = Mapping[str, Sequence[tuple[str, float, str | None, str]]]


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    concepts: str


@dataclass(frozen=True)
class TrendsView:
    """Charts with a rule threshold first (`key`), the other measures after; `partial`: from the rationale."""

    key: tuple[Chart, ...]
    other: tuple[Chart, ...]
    partial: bool


def readings_of(bundle: bytes, registry: Registry) -> dict[str, list[tuple[str, float, str | None, str]]]:
    """The patient's numeric readings by concept, for the charts (empty when the bundle is unreadable)."""
    from cdss.intake.bundle import read_bundle

    try:
        facts = read_bundle(bundle, registry.concepts)
    except CdssError:
        return {}
    out: dict[str, list[tuple[str, float, str | None, str]]] = {}
    for concept, readings in facts.readings.items():
        for r in readings:
            if r.time is not None and isinstance(r.value, int | float) and not isinstance(r.value, bool):
                out.setdefault(concept, []).append((r.time.isoformat(), float(r.value), r.unit, r.source))
    return out


def _walk(conditions: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for c in conditions:
        yield from c.get("facts", ())
        yield from _walk(c.get("parts", ()))


def _cited(trace: Mapping[str, Any]) -> dict[str, list[tuple[str, float, str | None, str]]]:
    """The values the rationale cites (for an evaluation whose readings this process does not hold)."""
    cited: dict[str, dict[tuple[str, float, str], tuple[str, float, str | None, str]]] = {}
    for s in trace["suggestions"]:
        for f in _walk(s["rationale"]):
            value = f.get("value")
            if f.get("time") and isinstance(value, int | float) and not isinstance(value, bool) \
                    and f.get("stat") in ("latest", "day-mean"):
                source = ", ".join(f.get("source", ()))
                cited.setdefault(f["concept"], {})[(f["time"], float(value), source)] = (
                    f["time"], float(value), f.get("unit"), source)
    return {c: sorted(v.values()) for c, v in cited.items()}


def _groups(shown: Sequence[str], readings: Readings) -> list[list[str]]:
    """Concepts read from the same records (e.g. the components of a blood-pressure panel) share a chart."""
    groups: list[list[str]] = []
    sources: list[set[str]] = []
    for concept in shown:
        mine = {r[3] for r in readings[concept]}
        joined = [i for i, s in enumerate(sources) if s & mine]
        if joined:
            first = joined[0]
            for i in reversed(joined[1:]):
                groups[first].extend(groups.pop(i))
                sources[first] |= sources.pop(i)
            groups[first].append(concept)
            sources[first] |= mine
        else:
            groups.append([concept])
            sources.append(mine)
    return groups


def trends_view(trace: Mapping[str, Any], readings: Readings | None, registry: Registry, lang: str) -> TrendsView:
    """SVG charts of the patient's measures: those the evaluated rules test first, with their thresholds.

    Args:
        trace: the evaluation's JSON (``Evaluation.model_dump(mode="json")``).
        readings: the patient's readings (`readings_of`), or None when only the stored trace is known.
        registry: where the evaluated pack versions and the concepts' names come from.
        lang: the page's language ("zh" or "en").
    """
    partial = readings is None
    data: Readings = _cited(trace) if readings is None else readings
    packs = registry.stamped(trace["packs"])
    fired = [s["rule"].split("#", 1)[-1] for s in trace["suggestions"]]
    thresholds = collect_thresholds(packs, fired)
    order = {c.id: i for i, c in enumerate(registry.concepts.source.concepts)}
    shown = sorted((c for c, rs in data.items() if rs and c in registry.concepts.by_id),
                   key=lambda c: (order.get(c, 1 << 30), c))
    now = dt.datetime.fromisoformat(trace["now"])
    names = {c: registry.concepts.by_id[c].title.model_dump() for c in shown}
    key: list[Chart] = []
    other: list[Chart] = []
    for n, group in enumerate(_groups(shown, data)):
        series = [Series(c, H.text(names, c, lang), _unit(next((r[2] for r in data[c] if r[2]), None), lang),
                         tuple(Point(dt.datetime.fromisoformat(t), v, src) for t, v, _, src in data[c]))
                  for c in group]
        lines: list[Threshold] = [t for c in group for t in thresholds.get(c, ())]
        title = " / ".join(s.label for s in series)
        svg = render_trend(series, lines, title=title, now=now, chart_id=f"trend-{n}",
                           labels=(H.text(H.UI, "threshold", "zh"), H.text(H.UI, "threshold", "en")),
                           off_label=H.text(H.UI, "off_chart", lang),
                           names={c: H.text(names, c, lang) for c in group}, lang=lang)
        (key if lines else other).append(Chart(title, svg, ", ".join(group)))
    return TrendsView(tuple(key), tuple(other), partial)


def _unit(ucum: str | None, lang: str) -> str | None:
    """A reading's UCUM unit as the chart writes it (mmHg, not mm[Hg]); None when it has none."""
    return (unit_phrase(ucum).get(lang) or None) if ucum else None
