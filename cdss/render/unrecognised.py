"""Render: the codings an evaluation could not map, and the site maps it used, for every output.

A site must see at once what its data lack: the JSON contract carries `unrecognised` and `concept_maps`
(cdss/engine/results.py); this module gives the text lines and the FHIR OperationOutcome (information
level, one issue per coding, referenced by GuidanceResponse.evaluationMessage). Formats only.
"""

from __future__ import annotations

from typing import Any

HEADING = "未识别的编码（这些记录未被规则使用）Unrecognised codings (not used by any rule)"


def _label(u: Any) -> str:
    display = f" {u.display}" if u.display else ""
    return f"{u.resource_type} {u.system or '(no system)'}|{u.code}{display} ×{u.count}"


def text_lines(evaluation: Any) -> list[str]:
    """Lines for `cdss evaluate --format text`: the maps used, then the unrecognised codings."""
    out: list[str] = []
    if evaluation.concept_maps:
        out.append("本地编码映射 Site concept maps: " + ", ".join(
            f"{m.url}|{m.version} ({m.sha256[:12]})" for m in evaluation.concept_maps))
    if evaluation.unrecognised:
        out.append(f"{HEADING}: {len(evaluation.unrecognised)}")
        out += [f"  - {_label(u)}" for u in evaluation.unrecognised]
    return out


def operation_outcome(evaluation: Any, resource_id: str) -> dict[str, Any] | None:
    """An information-level OperationOutcome listing the unrecognised codings, or None when there are none."""
    if not evaluation.unrecognised:
        return None
    issues = []
    for u in evaluation.unrecognised:
        issues.append({
            "severity": "information",
            "code": "informational",
            "details": {"coding": [{"system": u.system, "code": u.code, **({"display": u.display} if u.display
                                                                           else {})}] if u.system else [],
                        "text": f"未识别的编码，未被规则使用 / unrecognised coding, not used by any rule: {_label(u)}"},
            "expression": [u.resource_type],
        })
    for issue in issues:
        if not issue["details"]["coding"]:
            del issue["details"]["coding"]
    return {"resourceType": "OperationOutcome", "id": resource_id, "issue": issues}
