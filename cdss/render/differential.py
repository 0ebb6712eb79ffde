"""Render: the differential (`cdss.engine.differential`) as text lines, a CDS Hooks card and FHIR
provisional Conditions. Formats only; decides nothing. It is always shown *after* the advice, so that an
emergency or urgent referral found by the packs stays above it.
"""

from __future__ import annotations

import uuid
from typing import Any

from cdss.vocab.labels import bilingual

# The hooks on which the differential card is shown (one info card, the top candidates).
CARD_HOOKS = ("patient-view", "encounter-start")
CARD_TOP = 3
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
HEADING = "鉴别诊断（辅助，非诊断结论）/ Differential (aid, not a diagnosis)"
CAVEAT = ("分数为规则中已满足条件的比例，不是患病概率；紧急与转诊建议优先于此列表。 / The score is the share of "
          "a rule's criteria met, not a probability of disease; emergency and referral advice come first.")


def condition_name(c: Any) -> str:
    """The candidate as a clinician reads it: catalogue name (and TCM syndrome), code."""
    name = f"{c.disease.display} {c.disease.display_en}"
    if c.syndrome:
        name += f" · {c.syndrome}"
    return f"{name} [{c.disease.code}]" if c.disease.code else name


def _fact(f: Any) -> str:
    unit = f" {f.unit}" if f.unit else ""
    when = f" @ {f.time}" if f.time else ""
    return f"{f.value}{unit}{when} ← {', '.join(f.source)}" if f.source else f"{f.value}{unit}{when}"


def _criterion(c: Any) -> str:
    facts = "; ".join(_fact(f) for f in c.facts)
    mark = "排除 exclusion: " if c.exclusion else ""
    reason = f" ({c.reason})" if c.reason else ""
    return f"{mark}{c.text}{reason}" + (f" = {facts}" if facts else "")


def text_lines(evaluation: Any) -> list[str]:
    """The differential as plain text (Chinese first), for `cdss evaluate --format text`."""
    if not getattr(evaluation, "differential", ()):
        return []
    out = [HEADING + ":", f"  {CAVEAT}"]
    for i, c in enumerate(getattr(evaluation, "differential", ()), 1):
        out.append(f"  {i}. {condition_name(c)} — {c.score:.2f} {bilingual('differential_status', c.status)}")
        for label, items in (("支持 For", c.for_), ("不支持 Against", c.against), ("未知 Unknown", c.unknown)):
            for line in dict.fromkeys(_criterion(item) for item in items):  # one line per criterion, not per rule
                out.append(f"       {label}: {line}")
        if c.next_test:
            out.append(f"       下一步检查 Next test: {c.next_test.title['zh']} / {c.next_test.title['en']}")
    out.append("")
    return out


def card(evaluation: Any, card_uuid: str, page: str | None) -> dict[str, Any] | None:
    """One info card with the top candidates (None when the differential is empty); `page` is the
    evaluation's panel page (with its signed token, if any), or None when the panel is off."""
    top = getattr(evaluation, "differential", ())[:CARD_TOP]
    if not top:
        return None
    names = "；".join(f"{c.disease.display}{'·' + c.syndrome if c.syndrome else ''} {c.score:.2f}" for c in top)
    lines = [f"**{HEADING}**", "", CAVEAT, ""]
    for i, c in enumerate(top, 1):
        lines.append(f"{i}. **{condition_name(c)}** — {c.score:.2f} ({bilingual('differential_status', c.status)})")
        lines += [f"   - ✔ {line}" for line in dict.fromkeys(_criterion(x) for x in c.for_)]
        lines += [f"   - ✘ {line}" for line in dict.fromkeys(_criterion(x) for x in c.against)]
        if c.next_test:
            lines.append(f"   - → {c.next_test.title['zh']} / {c.next_test.title['en']}")
    out: dict[str, Any] = {"uuid": card_uuid, "summary": f"鉴别诊断：{names}", "detail": "\n".join(lines),
                           "indicator": "info", "source": {"label": "规则包诊断标准 / Pack diagnosis rules"}}
    if page:
        out["links"] = [{"label": "全部鉴别诊断 / Whole differential", "type": "absolute",
                         "url": f"{page}#differential"}]
    return out


def fhir_conditions(evaluation: Any, version: str, fhir_id: Any, urn: Any) -> list[dict[str, Any]]:
    """Bundle entries: one Condition per candidate, verificationStatus `differential`, its facts as evidence."""
    entries = []
    for rank, c in enumerate(getattr(evaluation, "differential", ()), 1):
        code: dict[str, Any] = {"text": c.disease.display + (f" · {c.syndrome}" if c.syndrome else "")}
        if c.disease.code:
            code["coding"] = [{"system": c.disease.system, "code": c.disease.code, "display": c.disease.display}]
        refs = list(dict.fromkeys(r for x in c.for_ for f in x.facts for r in f.source))
        resource: dict[str, Any] = {
            "resourceType": "Condition",
            "id": fhir_id("ddx", evaluation.id, str(rank)),
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "differential"}]},
            "code": code,
            "subject": {"reference": evaluation.patient},
            "recordedDate": evaluation.now.isoformat(),
            "note": [{"text": f"#{rank} {c.score:.2f} {bilingual('differential_status', c.status)}; "
                              + "; ".join(c.rules)}],
        }
        if c.next_test:
            resource["note"].append({"text": f"{c.next_test.title['zh']} / {c.next_test.title['en']}"})
        if refs:
            resource["evidence"] = [{"detail": [{"reference": r} for r in refs]}] if version == "R4" else \
                [{"reference": {"reference": r}} for r in refs]
        entries.append({"fullUrl": urn(evaluation.id, "Condition", resource["id"]), "resource": resource})
    return entries


def card_uuid(namespace: uuid.UUID, hook_instance: str, evaluation_id: str) -> str:
    return str(uuid.uuid5(namespace, f"{hook_instance}/{evaluation_id}/differential"))
