"""Render: an Evaluation as text for a person, Chinese first, English beside. Decides nothing."""

from __future__ import annotations

from cdss.engine.results import ConditionTrace, Evaluation
from cdss.render.differential import text_lines as differential_lines
from cdss.render.sources import with_year
from cdss.render.unrecognised import text_lines

URGENCY_LABEL = {"emergency": "紧急 EMERGENCY", "urgent": "尽快 URGENT", "routine": "常规 routine",
                 "info": "提示 info"}
EVIDENCE_LABEL = {"verified": "已核实 verified", "secondary": "二手来源 secondary",
                  "unverified": "未核实 unverified"}
REASON_LABEL = {"absent": "无记录 absent", "stale": "已过期 stale", "unknown-unit": "单位无法识别 unknown unit",
                "implausible": "数值不合理 implausible", "too-few-days": "测量天数不足 too few days",
                "incomplete": "评分不完整 incomplete score", "no-match": "分级表无匹配行 no table row matches"}


def _trace_lines(trace: ConditionTrace, depth: int) -> list[str]:
    pad = "    " * depth
    mark = {"true": "✔", "false": "✘", "unknown": "?"}[trace.outcome]
    lines = [f"{pad}{mark} {trace.text}"]
    for f in trace.facts:
        unit = f" {f.unit}" if f.unit else ""
        when = f" @ {f.time}" if f.time else ""
        note = f" ({f.note})" if f.note else ""
        lines.append(f"{pad}    = {f.value}{unit}{when} [{f.stat}] ← {', '.join(f.source)}{note}")
    for part in trace.parts:
        lines.extend(_trace_lines(part, depth + 1))
    return lines


def render_text(result: Evaluation) -> str:
    """The evaluation as plain text: advice by urgency, each with its rationale and source, then data gaps."""
    out = [f"患者 Patient: {result.patient}    时间 Time: {result.now.isoformat()}",
           "规则包 Packs: " + ", ".join(f"{p.id}@{p.version}" for p in result.packs), ""]
    if not result.suggestions:
        out.append("无建议 No advice.")
    for i, s in enumerate(result.suggestions, 1):
        disease = f" — {s.disease.display} {s.disease.code or ''}".rstrip() if s.disease else ""
        out.append(f"{i}. [{URGENCY_LABEL[s.urgency]}] {s.kind}{disease}")
        out.append(f"   {s.title['zh']}")
        out.append(f"   {s.title['en']}")
        for c in s.cautions:
            out.append(f"   ⚠ 注意 Caution: {c['zh']}")
            out.append(f"   ⚠ {c['en']}")
        out.append(f"   {s.detail['zh']}")
        out.append(f"   规则 Rule: {s.rule}    证据 Evidence: {EVIDENCE_LABEL[s.evidence]}")
        for c in s.citations:
            out.append(f"   出处 Source: {with_year(c.title, c.year, zh=False)} {c.section}")
        out.append("   依据 Why:")
        for t in s.rationale:
            out.extend("   " + line for line in _trace_lines(t, 1))
        out.append("")
    out.extend(differential_lines(result))  # after the advice: red flags are never below the differential
    if result.data_gaps:
        out.append("缺少的数据 Data gaps:")
        for g in result.data_gaps:
            out.append(f"  - {g.title['zh']} {g.title['en']} ({g.concept}): {REASON_LABEL.get(g.reason, g.reason)}; "
                       f"{URGENCY_LABEL[g.urgency]}; rules: {', '.join(g.rules)}")
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
