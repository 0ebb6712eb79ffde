"""Render: the SVG trend chart and the thresholds collected from the packs' rules."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from cdss.packs.registry import walk_leaves
from cdss.render.svg import COMPARISONS, Point, Series, Threshold, collect_thresholds, render_trend

SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


def series(concept: str, values: list[float], source: str = "Observation/o") -> Series:
    return Series(concept, f"<{concept}>", "u", tuple(
        Point(T0 + dt.timedelta(days=30 * i), v, f"{source}{i}") for i, v in enumerate(values)))


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_render_trend_draws_points_lines_and_thresholds():
    svg = render_trend([series("a", [10, 12, 15]), series("b", [5, 6, 7])],
                       [Threshold("a", ">=", 14, ("p/referral/x",), fired=True), Threshold("b", "<", 4, ("p/r/y",))],
                       title="A / B", now=T0 + dt.timedelta(days=70))
    root = parse(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby")
    assert root.find(f"{SVG}title").text == "A / B"
    assert len(root.findall(f".//{SVG}polyline")) == 2
    groups = root.findall(f".//{SVG}g")
    assert sum("point" in (g.get("class") or "") for g in groups) == 6
    thresholds = [g for g in groups if (g.get("class") or "").startswith("threshold")]
    assert [g.get("class") for g in thresholds] == ["threshold fired", "threshold"]
    assert "p/referral/x" in thresholds[0].find(f"{SVG}title").text
    assert root.find(f".//{SVG}line[@class='now']") is not None


def test_render_trend_escapes_text_and_has_no_inline_style():
    svg = render_trend([series("a", [1, 2])], [], title='<script>alert("x")</script>')
    assert "<script>" not in svg and "style=" not in svg
    parse(svg)


def test_render_trend_lists_far_thresholds_instead_of_drawing_them():
    svg = render_trend([series("a", [6.1, 6.3])], [Threshold("a", ">", 90, ("r",)), Threshold("a", ">=", 7, ("r",))],
                       title="t", off_label="off chart")
    root = parse(svg)
    drawn = [g for g in root.findall(f".//{SVG}g") if (g.get("class") or "").startswith("threshold")]
    assert len(drawn) == 1
    off = root.find(f".//{SVG}text[@class='offchart tick']")
    assert off is not None and "off chart: 1" in "".join(off.itertext())
    assert "a > 90" in off.find(f"{SVG}title").text


def test_render_trend_single_point_and_empty_inputs():
    parse(render_trend([series("a", [3])], [], title="one"))
    parse(render_trend([], [], title="none"))
    parse(render_trend([], [Threshold("a", ">=", 5, ("r",))], title="thresholds only"))


def test_render_trend_is_deterministic():
    args = ([series("a", [1, 2, 3])], [Threshold("a", ">=", 2, ("r",))])
    assert render_trend(*args, title="t") == render_trend(*args, title="t")


def test_collect_thresholds_finds_every_numeric_comparison_of_the_pack(registry):
    pack = registry.versions("htn-community")[0]
    found = collect_thresholds([pack], fired_rules=[pack.rules[0].full_id])
    expected = set()
    for prule in pack.rules:
        for leaf, _ in walk_leaves(prule.rule.when):
            if leaf.concept and leaf.op in COMPARISONS and isinstance(leaf.value, float | int) \
                    and leaf.stat not in ("count", "days_since"):  # numbers of readings or days: not on the chart
                expected.add((leaf.concept, leaf.op, float(leaf.value)))
    got = {(t.concept, t.op, t.value) for ts in found.values() for t in ts}
    assert expected <= got
    fired = [t for ts in found.values() for t in ts if t.fired]
    assert all(pack.rules[0].full_id in t.rules for t in fired)
    for concept, ts in found.items():
        assert all(t.concept == concept for t in ts)
        assert [t.value for t in ts] == sorted(t.value for t in ts)
