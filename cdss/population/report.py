"""Population: report.html, for a centre director and a family doctor: Chinese first, English beside,
printable, offline (plots are static SVG drawn by matplotlib with the glyphs as paths, so no font or
network is needed to view it). Decides nothing: it shows indicators.json and summary.json.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from cdss.population.indicators import LEVELS

CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC", "DejaVu Sans"]
LEVEL_TITLE = {"overall": ("全部", "overall"), "centre": ("社区卫生服务中心", "centre"),
               "team": ("家庭医生团队", "family-doctor team"), "doctor": ("医生", "doctor")}


def _env() -> Environment:
    return Environment(loader=PackageLoader("cdss.population", "templates"), autoescape=select_autoescape(),
                       trim_blocks=True, lstrip_blocks=True)


def bar_chart_svg(labels: list[str], values: list[float | None], title: str) -> str:
    """A horizontal bar chart of rates (0-100%) as SVG text; deterministic (no date, fixed ids)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"font.sans-serif": CJK_FONTS, "font.family": "sans-serif", "svg.fonttype": "path",
                                "svg.hashsalt": "cdss-report", "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(6.5, 0.45 * max(2, len(labels)) + 0.9))
        shown = [v * 100 if v is not None else 0.0 for v in values]
        bars = ax.barh(range(len(labels)), shown, color="#3b6ea5")
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("%")
        ax.set_title(title, fontsize=10)
        for bar, v in zip(bars, values, strict=True):
            ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                    "—" if v is None else f"{v * 100:.1f}%", va="center", fontsize=8)
        return _svg_text(fig, plt)


def _svg_text(fig, plt) -> str:  # noqa: ANN001
    """The figure as SVG text without its XML prologue or dates (so the bytes are deterministic)."""
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def line_chart_svg(dates: list[str], series: dict[str, list[float | None]], title: str) -> str:
    """Rates (0-100%) over time, one line per group, as SVG text; deterministic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"font.sans-serif": CJK_FONTS, "font.family": "sans-serif", "svg.fonttype": "path",
                                "svg.hashsalt": "cdss-report", "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        for name, values in series.items():
            ax.plot(dates, [v * 100 if v is not None else float("nan") for v in values], marker="o", label=name)
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="best")
        return _svg_text(fig, plt)


def _trend_chart(points: list[dict[str, Any]], ind_id: str, title: str, label) -> str:  # noqa: ANN001
    dates = [p["at"] for p in points]
    refs: dict[tuple[str, str | None], list[float | None]] = {}
    for n, point in enumerate(points):
        for row in point["indicators"]:
            if row["id"] == ind_id and row["group"]["level"] in ("overall", "team"):
                key = (row["group"]["level"], row["group"]["ref"])
                refs.setdefault(key, [None] * len(points))[n] = row["value"]
    series = {label(ref): values for (_, ref), values in sorted(refs.items(), key=lambda k: (k[0][0] != "overall",
                                                                                            k[0][1] or ""))}
    return line_chart_svg(dates, series, title)


def write_report(out: Path, summary: dict[str, Any]) -> Path:
    """Write report.html into the output folder from the run's summary and indicators."""
    indicators = summary["indicators"]["indicators"]
    names = summary.get("names") or {}

    def label(ref: str | None) -> str:
        if ref is None:
            return "全部 / overall"
        name = names.get(ref)
        return f"{name} ({ref})" if name else ref

    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in indicators:
        by_id.setdefault(row["id"], []).append(row)
    sections = []
    for ind_id, rows in by_id.items():
        first = rows[0]
        teams = [r for r in rows if r["group"]["level"] == "team"] or [r for r in rows if r["group"]["level"] ==
                                                                         "centre"]
        chart = bar_chart_svg([label(r["group"]["ref"]) for r in [rows[0], *teams]],
                              [r["value"] for r in [rows[0], *teams]],
                              f"{first['title']['zh']}\n{first['title']['en']}")
        trend = _trend_chart(summary["trend"], ind_id, f"{first['title']['zh']}（季度趋势）\n{first['title']['en']} "
                             "(quarterly trend)", label) if summary.get("trend") else None
        sections.append({"id": ind_id, "title": first["title"], "formula": first["formula"], "trend": trend,
                         "citation": first["citation"], "evidence": first["evidence"], "chart": chart,
                         "rows": [{**r, "label": label(r["group"]["ref"]),
                                   "level_title": LEVEL_TITLE[r["group"]["level"]]}
                                  for r in sorted(rows, key=lambda r: (LEVELS.index(r["group"]["level"]),
                                                                       r["group"]["ref"] or ""))]})
    worklists = []
    for doctor, rules in (summary.get("worklists") or {}).items():
        residents = [dict(r, rule=rule) for rule, w in rules.items() for r in w["residents"]]
        residents.sort(key=lambda r: (r["status"] != "overdue", r["patient"], r["rule"]))
        worklists.append({"doctor": label(doctor) if doctor else "未分配医生 / no doctor",
                          "overdue": sum(w["count"] for w in rules.values() if w["status"] == "overdue"),
                          "due": sum(w["count"] for w in rules.values() if w["status"] == "due"),
                          "shown": len(residents), "residents": residents})
    html = _env().get_template("report.html.j2").render(summary=summary, sections=sections, worklists=worklists)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
