"""Render: an Evaluation as FHIR resources (R4 or R5 JSON). Formats only; decides nothing.

One Bundle (type collection) holds a GuidanceResponse, a RequestGroup (R4) or RequestOrchestration (R5)
with one action per suggestion, a ServiceRequest per referral, a provisional Condition per suggested
diagnosis and a DetectedIssue per medication problem. Ids and fullUrls derive from the evaluation and
suggestion ids, so the same evaluation gives the same bytes. Resources are checked against the FHIR
models (fhir.resources) in the tests, not on the request path.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from cdss.packs.issue_kinds import ACT_CODE_SYSTEM, ISSUE_KINDS
from cdss.render.differential import fhir_conditions
from cdss.render.fhir_refs import anchor_references
from cdss.render.sources import uri, with_year
from cdss.render.unrecognised import operation_outcome

FhirVersion = Literal["R4", "R5"]

# Fixed namespace for the name-based (uuid5) fullUrls of rendered resources.
URN_NAMESPACE = uuid.UUID("6f1c9a52-4a0b-5e57-9a43-2f3f6c0d8b11")
PACK_SYSTEM = "urn:cdss:pack"
RULE_SYSTEM = "urn:cdss:rule"

# Urgency of a suggestion -> FHIR request-priority (http://hl7.org/fhir/request-priority).
PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine", "info": "routine"}
# Urgency -> FHIR detectedissue-severity.
SEVERITY = {"emergency": "high", "urgent": "high", "routine": "moderate", "info": "low"}
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")


def fhir_id(*parts: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from parts."""
    return _ID_UNSAFE.sub("-", "-".join(parts))[:64]


def urn(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(URN_NAMESPACE, '/'.join(parts))}"


def disease_concept(suggestion: Any) -> dict[str, Any]:
    """CodeableConcept of the suggestion's catalogue disease (coded when the catalogue has a code)."""
    d = suggestion.disease
    if d is None:
        return {"text": suggestion.title["zh"]}
    concept: dict[str, Any] = {"text": d.display}
    if d.code:
        concept["coding"] = [{"system": d.system, "code": d.code, "display": d.display}]
    return concept


CONCEPT_SYSTEM = "urn:cdss:concept"


def data_requirement(gap: Any) -> dict[str, Any]:
    """A DataRequirement for a data gap: the concept the rules need, by its local concept id."""
    return {"type": "Resource", "codeFilter": [{"path": "code", "code": [
        {"system": CONCEPT_SYSTEM, "code": gap.concept, "display": f"{gap.title['zh']} / {gap.title['en']}"}]}]}


def _rule_coding(suggestion: Any) -> dict[str, Any]:
    return {"system": RULE_SYSTEM, "code": suggestion.rule, "display": suggestion.title["zh"]}


def _text(value: dict[str, str]) -> str:
    return f"{value['zh']}\n\n{value['en']}" if value.get("en") else value["zh"]


# ServiceRequest.category of a referral: text only (no code system was verified for it, so none is used).
REFERRAL_CATEGORY = {"text": "转诊 / Referral"}


def service_request(suggestion: Any, patient: str, authored: str, version: FhirVersion = "R4", *,
                    requester: str | None = None) -> dict[str, Any]:
    """A proposed ServiceRequest for a referral suggestion: the disease as its reason, the category, and
    the requester when known (CDS Hooks `context.userId`)."""
    code = {"coding": [_rule_coding(suggestion)], "text": suggestion.title["zh"]}
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": fhir_id("sr", suggestion.id),
        "status": "draft",
        "intent": "proposal",
        "priority": PRIORITY[suggestion.urgency],
        # R5: code is a CodeableReference
        "code": code if version == "R4" else {"concept": code},
        "subject": {"reference": patient},
        "authoredOn": authored,
        "note": [{"text": _text(suggestion.detail)}],
    }
    out["category"] = [REFERRAL_CATEGORY]
    if requester:
        out["requester"] = {"reference": requester}
    out.update(_reason(suggestion, version))
    return out


def _reason(suggestion: Any, version: FhirVersion) -> dict[str, Any]:
    if suggestion.disease is None:
        return {}
    concept = disease_concept(suggestion)
    return {"reasonCode": [concept]} if version == "R4" else {"reason": [{"concept": concept}]}


def condition(suggestion: Any, patient: str, recorded: str, version: FhirVersion) -> dict[str, Any]:
    """A provisional Condition for a suggested diagnosis."""
    return {
        "resourceType": "Condition",
        "id": fhir_id("cond", suggestion.id),
        # R5 requires clinicalStatus; a suggested diagnosis is active and only provisional.
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "provisional"}]},
        "code": disease_concept(suggestion),
        "subject": {"reference": patient},
        "recordedDate": recorded,
        "note": [{"text": _text(suggestion.detail)}],
    }


def implicated_sources(suggestion: Any) -> list[str]:
    """References of the facts a suggestion used, in order, without repeats."""
    seen: dict[str, None] = {}
    for fact in suggestion.facts():
        for ref in fact.source:
            seen.setdefault(ref, None)
    return list(seen)


# DetectedIssue.code kind: the rule's `then.issue` (v3-ActCode, verified: cdss.packs.issue_kinds); a rule
# without one whose facts include a recorded allergy is an allergy alert (ALGY); otherwise only the rule code.
ACT_CODE = ACT_CODE_SYSTEM


def issue_coding(suggestion: Any) -> dict[str, Any] | None:
    """The v3-ActCode detected-issue Coding of a medication problem, or None when its kind is not known."""
    code = getattr(suggestion, "issue", None)
    if code is None and any(ref.startswith("AllergyIntolerance/") for ref in implicated_sources(suggestion)):
        code = "ALGY"
    if code not in ISSUE_KINDS:
        return None
    return {"system": ACT_CODE_SYSTEM, "code": code, "display": ISSUE_KINDS[code][0]}


def detected_issue(suggestion: Any, patient: str, identified: str, version: FhirVersion) -> dict[str, Any]:
    """A DetectedIssue for a medication problem, implicating the resources its facts came from; coded by
    its kind (v3-ActCode, cdss.packs.issue_kinds) when the rule names one (`then.issue`) or, for an
    allergy, when a recorded allergy is among its facts."""
    kind = issue_coding(suggestion)
    kinds = [kind] if kind else []
    out: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": fhir_id("di", suggestion.id),
        "status": "preliminary",
        "code": {"coding": [*kinds, _rule_coding(suggestion)], "text": suggestion.title["zh"]},
        "severity": SEVERITY[suggestion.urgency],
        ("patient" if version == "R4" else "subject"): {"reference": patient},
        "identifiedDateTime": identified,
    }
    implicated = implicated_sources(suggestion)
    if implicated:
        out["implicated"] = [{"reference": ref} for ref in implicated]
    out["detail"] = _text(suggestion.detail)
    return out


def guidance_bundle(evaluation: Any, *, version: FhirVersion = "R4",
                    request_id: str | None = None, inputs: Any = None) -> dict[str, Any]:
    """The Bundle answering `$evaluate` for one evaluation.

    Args:
        evaluation: a cdss Evaluation.
        version: "R4" (RequestGroup) or "R5" (RequestOrchestration).
        request_id: the caller's request id, echoed in GuidanceResponse.requestIdentifier.
        inputs: the input Bundle; given, every reference to an input resource resolves in the output or
            is the input's absolute URL (cdss.render.fhir_refs). None: references stay `Type/id`.
    """
    evaluation = _IdOnce(evaluation)
    now = evaluation.now.isoformat()
    patient = evaluation.patient
    blocking = [g for g in evaluation.data_gaps if g.urgency in ("emergency", "urgent")]
    entries: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for s in evaluation.suggestions:
        resource: dict[str, Any] | None = None
        if s.kind == "referral":
            resource = service_request(s, patient, now, version)
        elif s.kind == "diagnosis":
            resource = condition(s, patient, now, version)
        elif s.kind == "medication":
            resource = detected_issue(s, patient, now, version)
        action: dict[str, Any] = {
            "title": s.title["zh"],
            "description": s.detail["zh"],
            "textEquivalent": f"{s.title['en']}: {s.detail['en']}",
            "priority": PRIORITY[s.urgency],
            "code": [{"coding": [_rule_coding(s)]}],
        }
        if s.citations:
            action["documentation"] = [_related_artifact(c, version) for c in s.citations]
        if resource is not None:
            full_url = urn(evaluation.id, resource["resourceType"], resource["id"])
            entries.append({"fullUrl": full_url, "resource": resource})
            action["resource"] = {"reference": full_url}
        actions.append(action)

    group_type = "RequestGroup" if version == "R4" else "RequestOrchestration"
    group: dict[str, Any] = {
        "resourceType": group_type,
        "id": fhir_id("rg", evaluation.id),
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": patient},
        "authoredOn": now,
    }
    if actions:
        group["action"] = actions
    group_url = urn(evaluation.id, group_type)

    guidance: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": fhir_id("gr", evaluation.id),
        "requestIdentifier": {"system": "urn:ietf:rfc:3986",
                              "value": f"urn:uuid:{request_id}" if request_id else urn(evaluation.id)},
        "identifier": [{"system": "urn:cdss:evaluation", "value": evaluation.id}],
        "moduleCodeableConcept": {"coding": [
            {"system": PACK_SYSTEM, "code": f"{p.id}@{p.version}", "version": p.sha256}
            for p in evaluation.packs
        ]} if evaluation.packs else {"text": "cdss"},
        # Clinical Reasoning: data-required when data an urgent or emergency rule waits for are missing.
        "status": "data-required" if blocking else "success",
        "subject": {"reference": patient},
        "occurrenceDateTime": now,
        # R4: result 0..1 Reference(CarePlan|RequestGroup); R5: result 0..* (CarePlan|RequestOrchestration)
        "result": {"reference": group_url} if version == "R4" else [{"reference": group_url}],
    }
    if blocking:
        guidance["dataRequirement"] = [data_requirement(g) for g in blocking]
    notes = [{"text": f"数据缺口 / data gap: {g.title['zh']} / {g.title['en']} ({g.reason}; {g.concept})"}
             for g in evaluation.data_gaps]
    notes += [{"text": n} for n in evaluation.notes]
    notes += [{"text": f"本地编码映射 / site concept map: {m.url}|{m.version} (sha256 {m.sha256})"}
              for m in getattr(evaluation, "concept_maps", ())]
    # The differential: provisional Conditions (verificationStatus `differential`), after the advice.
    differential = fhir_conditions(evaluation, version, fhir_id, urn)
    entries += differential
    notes += [{"text": f"鉴别诊断 / differential: {e['resource']['code']['text']} ({e['fullUrl']})"}
              for e in differential]
    if notes:
        guidance["note"] = notes
    outcome = operation_outcome(evaluation, fhir_id("oo", evaluation.id))  # unrecognised codings
    if outcome is not None:
        entries.append({"fullUrl": urn(evaluation.id, "OperationOutcome"), "resource": outcome})
        message = {"reference": urn(evaluation.id, "OperationOutcome")}
        # R4: evaluationMessage 0..* Reference(OperationOutcome); R5: 0..1
        guidance["evaluationMessage"] = [message] if version == "R4" else message

    out = {
        "resourceType": "Bundle",
        "id": fhir_id("eval", evaluation.id),
        "type": "collection",
        "timestamp": now,
        "entry": [
            {"fullUrl": urn(evaluation.id, "GuidanceResponse"), "resource": guidance},
            {"fullUrl": group_url, "resource": group},
            *entries,
        ],
    }
    if inputs is not None:
        anchor_references(out, inputs, lambda *parts: urn(evaluation.id, *parts))
    return out


class _IdOnce:
    """An evaluation whose `id` is computed once: `Evaluation.id` hashes the packs, suggestions and data
    gaps on every read, and one Bundle reads it for every id and fullUrl (about a third of the rendering)."""

    __slots__ = ("_evaluation", "id")

    def __init__(self, evaluation: Any) -> None:
        self._evaluation = evaluation
        self.id = evaluation.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._evaluation, name)


def _related_artifact(citation: Any, version: FhirVersion) -> dict[str, Any]:
    label = with_year(citation.title, citation.year, zh=False)
    out: dict[str, Any] = {"type": "citation", "display": f"{label} {citation.section}".strip()}
    if citation.url:
        # R4 RelatedArtifact.url; R5 dropped it for document (Attachment).url
        if version == "R4":
            out["url"] = uri(citation.url)
        else:
            out["document"] = {"url": uri(citation.url)}
    return out
