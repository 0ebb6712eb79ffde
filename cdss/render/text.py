"""Render: an Evaluation as text for a person, Chinese first, English beside. Decides nothing."""

from __future__ import annotations

from cdss.engine.results import ConditionTrace, Evaluation, walk_traces
from cdss.packs.schema import URGENCY_ORDER
from cdss.render.conditions import Wording, default_wording
from cdss.render.differential import text_lines as differential_lines
from cdss.render.sources import with_year
from cdss.render.unrecognised import text_lines
from cdss.vocab.labels import bilingual, label, table


def _label(group: str, key: str) -> str:
    return bilingual(group, key, sep=" ")


def _urgency(urgency: str) -> str:
    """An emergency or urgent label stands out in plain text: its English in capitals (紧急 EMERGENCY)."""
    if urgency in URGENCY_ORDER[:2]:
        return f"{label('urgency', urgency, 'zh')} {label('urgency', urgency, 'en').upper()}"
    return _label("urgency", urgency)


def _trace_lines(trace: ConditionTrace, depth: int, wording: Wording) -> list[str]:
    lines = []
    marks = table("outcome")
    for d, t in walk_traces(trace, depth):
        pad = "    " * d
        lines.append(f"{pad}{marks[t.outcome]['mark']} {wording.line(t.text)}")
        for f in t.facts:
            unit = f" {f.unit}" if f.unit else ""
            when = f" @ {f.time}" if f.time else ""
            note = f" ({f.note})" if f.note else ""
            lines.append(f"{pad}    = {f.value}{unit}{when} [{f.stat}] ← {', '.join(f.source)}{note}")
    return lines


def render_text(result: Evaluation, wording: Wording | None = None) -> str:
    """The evaluation as plain text: advice by urgency, each with its rationale and source, then data gaps.

    Args:
        result: the evaluation.
        wording: how conditions are said (`cdss.render.conditions.wording_for(registry)`); default: the
            bundled packs' (a condition of another pack is then shown as its formula only).
    """
    wording = wording or default_wording()
    out = [f"患者 Patient: {result.patient}    时间 Time: {result.now.isoformat()}",
           "规则包 Packs: " + ", ".join(f"{p.id}@{p.version}" for p in result.packs), ""]
    if not result.suggestions:
        out.append("无建议 No advice.")
    for i, s in enumerate(result.suggestions, 1):
        disease = f" — {s.disease.display} {s.disease.code or ''}".rstrip() if s.disease else ""
        out.append(f"{i}. [{_urgency(s.urgency)}] {s.kind}{disease}")
        out.append(f"   {s.title['zh']}")
        out.append(f"   {s.title['en']}")
        for c in s.cautions:
            out.append(f"   ⚠ 注意 Caution: {c['zh']}")
            out.append(f"   ⚠ {c['en']}")
        out.append(f"   {s.detail['zh']}")
        out.append(f"   规则 Rule: {s.rule}    证据 Evidence: {_label('evidence', s.evidence)}")
        for c in s.citations:
            out.append(f"   出处 Source: {with_year(c.title, c.year, zh=False)} {c.section}")
        out.append("   依据 Why:")
        for t in s.rationale:
            out.extend("   " + line for line in _trace_lines(t, 1, wording))
        out.append("")
    out.extend(differential_lines(result))  # after the advice: red flags are never below the differential
    if result.data_gaps:
        out.append("缺少的数据 Data gaps:")
        for g in result.data_gaps:
            out.append(f"  - {g.title['zh']} {g.title['en']} ({g.concept}): {_label('reason', g.reason)}; "
                       f"{_urgency(g.urgency)}; rules: {', '.join(g.rules)}")
            if g.detail:
                out.append(f"      {g.detail}")
    if result.superseded:
        out.append("被取代的建议 Superseded advice (not shown above):")
        for s in result.superseded:
            out.append(f"  - {s.title['zh']} / {s.title['en']} ({s.rule_id}); 由 by: {', '.join(s.superseded_by)}")
    for note in result.notes:
        out.append(f"注意 Note: {note}")
    out.extend(text_lines(result))
    return "\n".join(out).rstrip() + "\n"
