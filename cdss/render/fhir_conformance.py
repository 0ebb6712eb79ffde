"""Render: the FHIR conformance surface: a CapabilityStatement, the OperationDefinition of `$evaluate`,
and a rule pack as a PlanDefinition (Clinical Reasoning). Formats only; decides nothing.

A pack's rules become PlanDefinition actions: title, the advice as description, priority from urgency,
the rule as a `urn:cdss:rule` code, its sources as documentation, and its condition as an applicability
condition in the pack's own rule language (`text/x-cdss-rule`, JSON of the YAML `when`): the engine, not
a FHIR expression evaluator, runs the rules, so no CQL or FHIRPath is invented for them.
"""

from __future__ import annotations

import json
from typing import Any

from cdss.render.fhir import PACK_SYSTEM, PRIORITY, RULE_SYSTEM
from cdss.render.sources import uri, with_year

PLAN_STATUS = {"draft": "draft", "active": "active", "retired": "retired"}
OPERATION_URL = "urn:cdss:OperationDefinition/evaluate"
RULE_LANGUAGE = "text/x-cdss-rule"


def operation_definition(base_url: str) -> dict[str, Any]:
    """The OperationDefinition of the system-level `$evaluate` operation (R4)."""
    return {
        "resourceType": "OperationDefinition",
        "id": "evaluate",
        "url": OPERATION_URL,
        "name": "Evaluate",
        "title": "评估患者数据 / Evaluate a patient's data",
        "status": "active",
        "kind": "operation",
        "code": "evaluate",
        "system": True, "type": False, "instance": False,
        "affectsState": False,
        "description": "Runs the published rule packs on one patient's Bundle and answers a Bundle with a "
                       "GuidanceResponse, a RequestGroup (RequestOrchestration for R5) and the proposed "
                       f"resources. Base: {base_url}/fhir. Errors are OperationOutcomes.",
        "parameter": [
            {"name": "bundle", "use": "in", "min": 1, "max": "1", "type": "Bundle",
             "documentation": "The patient's data: one Patient and the resources about them. The body may "
                              "also be this Bundle itself instead of a Parameters resource."},
            {"name": "pack", "use": "in", "min": 0, "max": "*", "type": "string",
             "documentation": "Pin a rule pack: `ID` or `ID@VERSION` (also `?pack=` in the URL)."},
            {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
             "documentation": "GuidanceResponse, RequestGroup / RequestOrchestration, ServiceRequest, "
                              "Condition (provisional) and DetectedIssue resources."},
        ],
    }


def capability_statement(base_url: str, *, software_version: str, date: str) -> dict[str, Any]:
    """The server's CapabilityStatement (R4): what `/fhir` offers."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": {"name": "cdss", "version": software_version},
        "implementation": {"description": "社区临床决策支持 / Community clinical decision support",
                           "url": f"{base_url}/fhir"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/json"],
        "rest": [{
            "mode": "server",
            "documentation": "R5 output with `Accept: application/fhir+json; fhirVersion=5.0`.",
            "resource": [
                {"type": "CodeSystem", "interaction": [{"code": "read"}]},
                {"type": "ValueSet", "interaction": [{"code": "read"}]},
                {"type": "OperationDefinition", "interaction": [{"code": "read"}]},
            ],
            "operation": [{"name": "evaluate", "definition": OPERATION_URL}],
        }],
    }


def plan_definition(pack: Any) -> dict[str, Any]:
    """A rule pack at one version as a PlanDefinition (type eca-rule)."""
    meta = pack.meta
    sources = {s.id: s for s in meta.sources}
    actions = []
    for rule in pack.rules:
        then = rule.rule.then
        citations = rule.rule.citation if isinstance(rule.rule.citation, tuple) else (rule.rule.citation,)
        action: dict[str, Any] = {
            "title": f"{then.title.zh} / {then.title.en}" if then.title.en else then.title.zh,
            "description": then.detail.zh,
            "textEquivalent": then.detail.en or then.detail.zh,
            "priority": PRIORITY[then.urgency],
            "code": [{"coding": [{"system": RULE_SYSTEM, "code": f"{pack.key}#{rule.full_id}",
                                  "display": then.title.zh}]}],
            "condition": [{"kind": "applicability", "expression": {
                "language": RULE_LANGUAGE,
                "expression": json.dumps(rule.rule.model_dump(mode="json", exclude_none=True)["when"],
                                         ensure_ascii=False, sort_keys=True)}}],
        }
        docs = [_artifact(sources[c.source], c.section) for c in citations if c.source in sources]
        if docs:
            action["documentation"] = docs
        actions.append(action)
    out: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "id": pack.id,
        "url": f"{PACK_SYSTEM}:{pack.id}",
        "identifier": [{"system": PACK_SYSTEM, "value": pack.key}],
        "version": pack.version,
        "name": "".join(part.capitalize() for part in pack.id.split("-")),
        "title": f"{meta.title.zh} / {meta.title.en}" if meta.title.en else meta.title.zh,
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                             "code": "eca-rule"}]},
        "status": PLAN_STATUS.get(pack.status, "unknown"),
        "date": meta.effective.isoformat(),
        "description": f"sha256 {pack.sha256}",
        "relatedArtifact": [_artifact(s, None) for s in meta.sources],
        "action": actions,
    }
    return out


def _artifact(source: Any, section: str | None) -> dict[str, Any]:
    label = with_year(source.title, source.year, zh=False)
    out: dict[str, Any] = {"type": "citation", "display": f"{label} {section}".strip() if section else label}
    if source.url:
        out["url"] = uri(source.url)
    return out
