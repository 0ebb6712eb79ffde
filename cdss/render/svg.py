"""Render: a patient's measures over time as a server-rendered SVG chart, with the rules' thresholds drawn on.

Decides nothing: the points come from the patient's readings, the threshold lines from the leaves of the
rules that were evaluated (see :func:`collect_thresholds`); this module only places them. The SVG uses
presentation attributes and classes, never inline ``style``, so that a strict Content-Security-Policy holds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from cdss.packs.registry import Pack, walk_leaves
from cdss.render.wording import OP_SIGN

COMPARISONS = (">", ">=", "<", "<=")
# Marker shapes per series, so that series differ by more than colour.
MARKERS = ("circle", "square", "diamond", "triangle")
# Thresholds of rules that did not fire drawn per concept (the nearest to the latest value); others listed.
NEAREST_UNFIRED = 2


@dataclass(frozen=True)
class Point:
    time: dt.datetime
    value: float
    source: str


@dataclass(frozen=True)
class Series:
    """One concept's readings, in its canonical unit, oldest first."""

    concept: str
    label: str
    unit: str | None
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Threshold:
    """A value a rule compared a concept with: `sbp >= 180` in rules ..., and whether one of them fired."""

    concept: str
    op: str
    value: float
    rules: tuple[str, ...]
    fired: bool = False

    @property
    def text(self) -> str:
        return self.said({})

    def said(self, names: Mapping[str, str]) -> str:
        """`收缩压 ≥ 180` with the concept's name (its id when no name is given)."""
        return f"{names.get(self.concept, self.concept)} {OP_SIGN.get(self.op, self.op)} {self.value:g}"


def collect_thresholds(packs: Iterable[Pack], fired_rules: Iterable[str] = ()) -> dict[str, list[Threshold]]:
    """Every numeric comparison in the packs' rules and derived facts, by concept.

    Args:
        packs: the pack versions that were evaluated.
        fired_rules: full ids of the rules that gave a suggestion (their thresholds are marked `fired`).

    Returns:
        concept -> thresholds (one per operator and value, naming every rule that uses it), by value.
    """
    fired = set(fired_rules)
    found: dict[tuple[str, str, float], set[str]] = {}
    for pack in packs:
        derived_users: dict[str, set[str]] = {}
        for prule in pack.rules:
            for leaf, _ in walk_leaves(prule.rule.when):
                if leaf.concept:
                    derived_users.setdefault(leaf.concept, set()).add(prule.full_id)
                _add(found, leaf, {prule.full_id})
        for derived in pack.derived:
            users = derived_users.get(derived.id) or {f"{pack.id}/derived/{derived.id}"}
            for part in derived.parts:
                for leaf, _ in walk_leaves(part.when):
                    _add(found, leaf, users)
    out: dict[str, list[Threshold]] = {}
    for (concept, op, value), rules in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        out.setdefault(concept, []).append(
            Threshold(concept, op, value, tuple(sorted(rules)), fired=bool(rules & fired)))
    return out


def _add(found: dict[tuple[str, str, float], set[str]], leaf: object, rules: set[str]) -> None:
    concept, op, value = getattr(leaf, "concept", None), getattr(leaf, "op", None), getattr(leaf, "value", None)
    if getattr(leaf, "stat", "latest") in ("count", "days_since"):
        return  # a number of readings or of days, not a value of the concept: no line on its chart
    if concept and op in COMPARISONS and isinstance(value, int | float) and not isinstance(value, bool):
        found.setdefault((concept, op, float(value)), set()).update(rules)


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _fmt_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60)
DAY_STEPS = (1, 2, 7, 14)


def time_ticks(t0: dt.datetime, t1: dt.datetime, max_ticks: int = 6) -> list[tuple[dt.datetime, str]]:
    """Ticks on calendar boundaries between t0 and t1, at most `max_ticks`: first days of months
    (`2026-03`) over more than about three months, else midnights (`2026-03-14`), in t0's time zone."""
    span_days = (t1 - t0).total_seconds() / 86400
    start = t0.replace(hour=0, minute=0, second=0, microsecond=0)
    if span_days > 92:
        months = (t1.year - t0.year) * 12 + t1.month - t0.month + 1
        step = next((m for m in MONTH_STEPS if months / m <= max_ticks), MONTH_STEPS[-1])
        index = t0.year * 12 + t0.month - 1
        index += -index % step  # the first month on the step (January, April ... for 3)
        out = []
        while True:
            t = start.replace(year=index // 12, month=index % 12 + 1, day=1)
            if t > t1:
                return out
            if t >= t0:
                out.append((t, t.strftime("%Y-%m")))
            index += step
    step = next((d for d in DAY_STEPS if span_days / d <= max_ticks), 30)
    out = []
    t = start if start >= t0 else start + dt.timedelta(days=1)
    while t <= t1:
        out.append((t, t.strftime("%Y-%m-%d")))
        t += dt.timedelta(days=step)
    return out


def _fit(text: str, width: float) -> str:
    """`text`, cut with an ellipsis to about `width` pixels at 11 px."""
    if _text_width(text, 11) <= width:
        return text
    while text and _text_width(text + "…", 11) > width:
        text = text[:-1]
    return text + "…"


def render_trend(series: Sequence[Series], thresholds: Sequence[Threshold], *, title: str,
                 now: dt.datetime | None = None, width: int = 720, height: int = 260,
                 labels: tuple[str, str] = ("规则阈值", "rule threshold"), off_label: str = "图外阈值 off chart",
                 chart_id: str = "trend", names: Mapping[str, str] | None = None, lang: str = "zh") -> str:
    """An accessible SVG line chart of one or more series with horizontal threshold lines.

    Args:
        series: the readings to draw (each its own line and marker shape).
        thresholds: lines to draw across the chart, labelled with operator and value.
        title: the chart's accessible name (also drawn at the top left).
        now: the evaluation time, drawn as a vertical line; the time axis reaches it.
        labels: (zh, en) word for a threshold line, used in the legend.
        off_label: words before the count of thresholds too far from the values to draw (listed on hover
            and in the description).
        chart_id: prefix of the element ids (unique per page).
        names: the concepts' names in the page's language, for the threshold labels (default: their ids).
        lang: the page's language; the legend names the threshold lines in it first.

    Returns:
        ``<svg ...>...</svg>`` text, safe to embed in HTML.
    """
    pad_l, pad_r, pad_t, pad_b = 56, 170, 50, 34
    names = names or {}
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    points = [p for s in series for p in s.points]
    data = [p.value for p in points] or [t.value for t in thresholds] or [0.0, 1.0]
    d_lo, d_hi = min(data), max(data)
    # Thresholds far from the patient's values would squash the chart: they are listed, not drawn.
    near = max(d_hi - d_lo, abs(d_hi) * 0.25, 1.0)
    # Drawn: every threshold of a rule that fired, and the few others nearest to the patient's values (per
    # concept); the rest are listed (hover, description), so that the lines stay readable.
    latest = {s.concept: max(s.points, key=lambda p: p.time).value for s in series if s.points}

    drawn = {(t.concept, t.value) for t in thresholds if t.fired}
    for concept in dict.fromkeys(t.concept for t in thresholds):
        nearby = sorted({t.value for t in thresholds if t.concept == concept and (concept, t.value) not in drawn
                         and d_lo - near <= t.value <= d_hi + near},
                        key=lambda v: (abs(v - latest.get(concept, (d_lo + d_hi) / 2)), v))
        drawn.update((concept, v) for v in nearby[:NEAREST_UNFIRED])
    shown = [t for t in thresholds if (t.concept, t.value) in drawn]
    off_chart = [t for t in thresholds if t not in shown]
    values = data + [t.value for t in shown]
    times = [p.time for p in points] + ([now] if now else [])
    lo, hi = min(values), max(values)
    if times:
        t0, t1 = min(times), max(times)
    else:
        t0 = t1 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step
    if (t1 - t0).total_seconds() < 86400:
        t0, t1 = t0 - dt.timedelta(days=1), t1 + dt.timedelta(days=1)
    span_s = (t1 - t0).total_seconds()

    def x(t: dt.datetime) -> float:
        return round(pad_l + (t - t0).total_seconds() / span_s * plot_w, 1)

    def y(v: float) -> float:
        return round(pad_t + (hi - v) / (hi - lo) * plot_h, 1)

    desc_id = f"{chart_id}-desc"
    title_id = f"{chart_id}-title"
    units = sorted({s.unit for s in series if s.unit})
    desc = "; ".join(f"{s.label}: " + ", ".join(f"{p.value:g} ({_fmt_time(p.time)})" for p in s.points)
                     for s in series)
    if thresholds:
        desc += "; " + ", ".join(t.said(names) for t in thresholds)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-labelledby="{title_id} {desc_id}" '
           f'preserveAspectRatio="xMinYMin meet">',
           f'<title id="{title_id}">{escape(title)}</title>',
           f'<desc id="{desc_id}">{escape(desc)}</desc>',
           f'<rect class="plot" x="{pad_l}" y="{pad_t}" width="{plot_w}" height="{plot_h}"/>',
           f'<text class="chart-title" x="{pad_l}" y="16">{escape(title)}'
           f'{(" (" + escape(", ".join(units)) + ")") if units else ""}</text>']
    # value axis
    v = lo
    while v <= hi + step / 2:
        yy = y(v)
        out.append(f'<line class="grid" x1="{pad_l}" y1="{yy}" x2="{pad_l + plot_w}" y2="{yy}"/>')
        out.append(f'<text class="tick" x="{pad_l - 6}" y="{yy + 4}" text-anchor="end">{v:g}</text>')
        v = round(v + step, 9)
    # time axis: calendar ticks (months or days), never more than fit
    for t, text in time_ticks(t0, t1, max_ticks=max(2, int(plot_w // 90))):
        out.append(f'<line class="grid vgrid" x1="{x(t)}" y1="{pad_t}" x2="{x(t)}" y2="{pad_t + plot_h}"/>')
        out.append(f'<text class="tick" x="{x(t)}" y="{pad_t + plot_h + 18}" text-anchor="middle">{text}</text>')
    if now is not None:
        out.append(f'<line class="now" x1="{x(now)}" y1="{pad_t}" x2="{x(now)}" y2="{pad_t + plot_h}">'
                   f'<title>{escape(_fmt_time(now))}</title></line>')
    # thresholds: one line per concept and value (operators merged), labels kept apart and inside the plot
    by_value: dict[tuple[str, float], list[Threshold]] = {}
    for t in shown:
        by_value.setdefault((t.concept, t.value), []).append(t)
    placed: list[float] = []
    for (concept, value), group in sorted(by_value.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        yy = y(value)
        fired_here = any(t.fired for t in group)
        signs = set(dict.fromkeys(OP_SIGN.get(t.op, t.op) for t in group))
        # one comparison: its sign ("≥ 180"); several (">= 140" in one rule, "< 140" in another): the cut-off
        sign = f"{signs.pop()} " if len(signs) == 1 else ""
        text = f"{names.get(concept, concept)} {sign}{value:g}"
        rules = ", ".join(sorted({r for t in group for r in t.rules}))
        ly = max(yy + 4, (placed[-1] + 12) if placed else pad_t + 4)
        label = ""
        if ly <= pad_t + plot_h + 4:
            placed.append(ly)
            label = f'<text x="{pad_l + plot_w + 6}" y="{ly}">{escape(_fit(text, pad_r - 10))}</text>'
        out.append(f'<g class="{"threshold fired" if fired_here else "threshold"}">'
                   f'<title>{escape(text)}: {escape(rules)}</title>'
                   f'<line x1="{pad_l}" y1="{yy}" x2="{pad_l + plot_w}" y2="{yy}"/>{label}</g>')
    if off_chart:
        listed = ", ".join(t.said(names) for t in off_chart)
        out.append(f'<text class="offchart tick" x="{pad_l + plot_w + 6}" y="{pad_t + plot_h + 18}">'
                   f'<title>{escape(listed)}</title>{escape(off_label)}: {len(off_chart)}</text>')
    # series
    for i, s in enumerate(series):
        cls = f"series s{i % len(MARKERS)}"
        pts = sorted(s.points, key=lambda p: p.time)
        if len(pts) > 1:
            path = " ".join(f"{x(p.time)},{y(p.value)}" for p in pts)
            out.append(f'<polyline class="{cls}" points="{path}"/>')
        for p in pts:
            out.append(f'<g class="{cls} point">'
                       f'<title>{escape(s.label)} {p.value:g}{(" " + escape(s.unit)) if s.unit else ""} '
                       f'{escape(_fmt_time(p.time))} {escape(p.source)}</title>'
                       f'{_marker(MARKERS[i % len(MARKERS)], x(p.time), y(p.value))}</g>')
    # legend (top right)
    lx = pad_l + plot_w - 4
    items = [(s.label, f"series s{i % len(MARKERS)}", MARKERS[i % len(MARKERS)]) for i, s in enumerate(series)]
    if thresholds:
        items.append((f"{labels[0]} {labels[1]}", "threshold", ""))
    offset = 0
    for text, cls, marker in reversed(items):
        width_est = 14 + _text_width(text)
        offset += width_est + 14
        gx = lx - offset
        shape = _marker(marker, gx + 5, 34) if marker else f'<line x1="{gx}" y1="34" x2="{gx + 12}" y2="34"/>'
        out.append(f'<g class="legend {cls}">{shape}<text x="{gx + 16}" y="38">{escape(text)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _text_width(text: str, size: float = 12) -> float:
    """Rough drawn width of a label: CJK characters are about one em wide, others about 0.6 em."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def _marker(shape: str, cx: float, cy: float, r: float = 4.5) -> str:
    if shape == "square":
        return f'<rect x="{cx - r}" y="{cy - r}" width="{2 * r}" height="{2 * r}"/>'
    if shape == "diamond":
        return f'<polygon points="{cx},{cy - r - 1} {cx + r + 1},{cy} {cx},{cy + r + 1} {cx - r - 1},{cy}"/>'
    if shape == "triangle":
        return f'<polygon points="{cx},{cy - r - 1} {cx + r + 1},{cy + r} {cx - r - 1},{cy + r}"/>'
    return f'<circle cx="{cx}" cy="{cy}" r="{r}"/>'
