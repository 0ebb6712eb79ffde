"""Render: an Evaluation as a CDS Hooks 2.0 response (cards). Formats only; decides nothing.

One card per suggestion, in the evaluation's order (most urgent first), plus one card listing data
gaps when a gap holds back an emergency or urgent rule. Follows https://cds-hooks.hl7.org/2.0/:

* "Card Attributes": ``summary`` < 140 characters (Chinese title), ``indicator`` info | warning | critical,
  ``source`` with ``label`` (the guideline), ``detail`` in GitHub-flavoured markdown, ``selectionBehavior``
  whenever ``suggestions`` are present, ``overrideReasons`` Codings each with a ``display``;
* "Use of JSON": optional fields without a value are omitted, never ``null``, ``""``, ``[]`` or ``{}``;
* "Action": ``create`` carries the resource, ``delete`` a relative ``resourceId``;
* "HTTP Response": no advice is ``{"cards": []}``; ``systemActions`` is never sent: every action proposed
  here (a referral, removing a draft order) needs a clinician's choice, and an empty optional array must
  be omitted (docs/integrator/README.md, "Cards").

Card and suggestion uuids are name-based (uuid5) on the hookInstance, the evaluation and the suggestion:
the same call gives the same bytes, and feedback can be traced back to the suggestion.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdss.engine.results import ConditionTrace, walk_traces
from cdss.render import differential as ddx
from cdss.render.conditions import Wording, default_wording
from cdss.render.fhir import implicated_sources, service_request
from cdss.render.sources import uri, with_year
from cdss.render.wording import COMBINATOR
from cdss.vocab.labels import bilingual, table

CARD_NAMESPACE = uuid.UUID("0c5d1f0e-8a3b-5c2e-b7a4-1d9e6f3a2c47")
SUMMARY_MAX = 139  # "<140-character summary"

# Urgency -> card indicator (info < warning < critical).
INDICATOR = {"emergency": "critical", "urgent": "warning", "routine": "info", "info": "info"}

# Reasons a clinician may give for not following a card; workflow codes of this service, not clinical
# content. CDS Hooks 2.0 requires a display for each.
OVERRIDE_SYSTEM = "urn:cdss:codesystem:override-reason"
OVERRIDE_REASONS = (
    ("not-applicable", "不适用于该患者 / Not applicable to this patient"),
    ("already-addressed", "已处理或已在随访 / Already addressed"),
    ("patient-declined", "患者拒绝 / Patient declined"),
    ("clinical-judgement", "临床判断不同 / Different clinical judgement"),
    ("data-wrong", "数据有误 / Patient data are wrong"),
)


@dataclass(frozen=True)
class CardIndex:
    """Which suggestion a card presents, for the audit log and feedback."""

    card_uuid: str
    suggestion_id: str | None
    suggestion_uuids: tuple[str, ...]


@dataclass(frozen=True)
class RenderedCards:
    body: dict[str, Any]
    index: tuple[CardIndex, ...]


def render_cards(evaluation: Any, *, hook_instance: str, panel_url: str | None,
                 draft_orders: Mapping[str, Mapping[str, Any]] | None = None,
                 gap_kinds: frozenset[str] | None = None, requester: str | None = None,
                 link_query: str | None = None, hook: str | None = None,
                 wording: Wording | None = None, smart_url: str | None = None) -> RenderedCards:
    """Cards for one evaluation.

    Args:
        evaluation: a cdss Evaluation.
        hook_instance: the request's hookInstance (card uuids derive from it).
        panel_url: base URL of the rationale panel; links go to ``{panel_url}/evaluations/{id}#{sid}``
            (None: the panel is off, cards carry no link).
        draft_orders: the hook's draft orders by reference ("MedicationRequest/1"); a medication
            suggestion whose facts come from one of them proposes deleting it.
        gap_kinds: rule kinds whose data gaps may give the (one, grouped) data-gap card; None: any.
        requester: the user of the hook (`context.userId`), the requester of proposed ServiceRequests.
        link_query: query string of every link (the signed token of the panel link, ``t=...``).
        hook: the hook called; on patient-view and encounter-start one last info card shows the top of
            the differential (after every advice card, so that red flags stay above it).
        wording: how the rationale's conditions are said (`wording_for(registry)`); default: the bundled
            packs' (a condition of another pack then shows as its formula).
        smart_url: the SMART App Launch URL of the panel; advice cards then carry a link of type `smart`
            (CDS Hooks 2.0 "Link": the EHR launches it with its own `iss` and `launch`).
    """
    words = wording or default_wording()
    drafts = draft_orders or {}
    page = f"{panel_url}/evaluations/{evaluation.id}" + (f"?{link_query}" if link_query else "")
    cards: list[dict[str, Any]] = []
    index: list[CardIndex] = []
    for s in evaluation.suggestions:
        card_uuid = _uuid(hook_instance, evaluation.id, s.id)
        card: dict[str, Any] = {
            "uuid": card_uuid,
            "summary": summary(s.title["zh"]),
            "detail": _detail(s, evaluation, words),
            "indicator": INDICATOR[s.urgency],
            "source": _source(s),
        }
        suggestions = _suggestions(s, evaluation, card_uuid, drafts, requester)
        if suggestions:
            card["suggestions"] = suggestions
            # "If suggestions are present, selectionBehavior MUST also be provided."
            card["selectionBehavior"] = "at-most-one" if len(suggestions) == 1 else "any"
            card["overrideReasons"] = [{"system": OVERRIDE_SYSTEM, "code": c, "display": d}
                                       for c, d in OVERRIDE_REASONS]
        links = [{"label": "推理依据 / Rationale", "type": "absolute", "url": f"{page}#{s.id}"}] if panel_url else []
        if smart_url:
            links.append({"label": "在EHR中打开决策支持面板 / Open the CDS panel (SMART)", "type": "smart",
                          "url": smart_url})
        card["links"] = links
        cards.append(prune(card))
        index.append(CardIndex(card_uuid, s.id, tuple(x["uuid"] for x in suggestions)))

    gaps = [g for g in evaluation.data_gaps if g.urgency in ("emergency", "urgent")
            and (gap_kinds is None or any(rule_kind(r) in gap_kinds for r in g.rules))]
    if gaps:
        card_uuid = _uuid(hook_instance, evaluation.id, "data-gaps")
        names = "、".join(dict.fromkeys(g.title["zh"] for g in gaps))
        cards.append(prune({
            "uuid": card_uuid,
            "summary": summary(f"缺少评估所需数据：{names}"),
            "detail": _gaps_detail(gaps),
            "indicator": "warning",
            "source": {"label": "数据核查 / Data check"},
            "links": [{"label": "推理依据 / Rationale", "type": "absolute",
                       "url": f"{page}#data-gaps"}] if panel_url else [],
        }))
        index.append(CardIndex(card_uuid, None, ()))
    if hook in ddx.CARD_HOOKS:
        card_uuid = ddx.card_uuid(CARD_NAMESPACE, hook_instance, evaluation.id)
        differential_card = ddx.card(evaluation, card_uuid, page if panel_url else None)
        if differential_card is not None:
            cards.append(prune(differential_card))
            index.append(CardIndex(card_uuid, None, ()))
    return RenderedCards({"cards": cards}, tuple(index))


def rule_kind(rule_id: str) -> str | None:
    """'htn-community/referral/x' (or 'pack@1.0.0#pack/referral/x') -> 'referral'."""
    parts = rule_id.rsplit("#", 1)[-1].split("/")
    return parts[1] if len(parts) >= 3 else None


def summary(text: str) -> str:
    """One line of fewer than 140 characters."""
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_MAX else line[: SUMMARY_MAX - 1] + "…"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(CARD_NAMESPACE, "/".join(parts)))


def _source(s: Any) -> dict[str, Any]:
    if s.citations:
        c = s.citations[0]
        label = with_year(c.title, c.year)
        url = uri(c.url)
    else:
        label, url = f"{s.pack_id}@{s.pack_version}", None
    return {"label": label, "url": url,
            "topic": {"system": "urn:cdss:rule", "code": s.rule, "display": s.title["zh"]}}


def _suggestions(s: Any, evaluation: Any, card_uuid: str,
                 drafts: Mapping[str, Mapping[str, Any]], requester: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if s.kind == "referral":
        resource = service_request(s, evaluation.patient, evaluation.now.isoformat(), requester=requester)
        out.append({"label": s.title["zh"], "uuid": _uuid(card_uuid, "create"), "isRecommended": True,
                    "actions": [{"type": "create", "description": f"{s.title['zh']} / {s.title['en']}",
                                 "resource": resource}]})
    elif s.kind == "medication":
        for ref in implicated_sources(s):
            if ref not in drafts:
                continue
            name = medication_name(drafts[ref])
            shown = f"：{name}" if name else ""
            out.append({"label": f"撤销草稿医嘱{shown} / Remove the draft order",
                        "uuid": _uuid(card_uuid, "delete", ref),
                        "actions": [{"type": "delete", "resourceId": ref,
                                     "description": f"撤销草稿医嘱 {ref}{shown} / Remove draft order {ref}"}],
                        })
    return out


def medication_name(resource: Mapping[str, Any]) -> str:
    """The display name of a draft medication order, as the EHR wrote it."""
    for key in ("medicationCodeableConcept", "medication"):
        concept = resource.get(key)
        if isinstance(concept, Mapping):
            concept = concept.get("concept", concept)  # R5: medication is a CodeableReference
            if isinstance(concept, Mapping):
                if isinstance(concept.get("text"), str):
                    return concept["text"]
                for coding in concept.get("coding") or ():
                    if isinstance(coding, Mapping) and isinstance(coding.get("display"), str):
                        return coding["display"]
    return ""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|])")


def md(value: Any) -> str:
    """Text from patient data, escaped so that it shows as written in markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def _fact_line(fact: Any) -> str:
    value = f"{md(fact.value)} {md(fact.unit)}" if fact.unit else md(fact.value)
    bits = [f"`{fact.concept}`" + (f" ({fact.stat})" if fact.stat != "latest" else ""), f"= {value}"]
    if fact.time:
        bits.append(f"@ {md(fact.time)}")
    if fact.source:
        bits.append("← " + ", ".join(md(r) for r in fact.source))
    if fact.note:
        bits.append(f"— {md(fact.note)}")
    return " ".join(bits)


def _trace_lines(trace: ConditionTrace, depth: int, wording: Wording) -> list[str]:
    lines = []
    marks = table("outcome")
    for d, t in walk_traces(trace, depth):
        pad = "  " * d
        words = wording.words(t.text)  # "收缩压 ≥ 180 mmHg / Systolic blood pressure ≥ 180 mmHg", formula beside
        text = md(t.text) if words is None else md(words.both) if t.text in COMBINATOR else \
            f"{md(words.both)} (`{t.text}`)"
        lines.append(f"{pad}- {marks[t.outcome]['mark'] if t.outcome in marks else t.outcome} {text}")
        lines += [f"{pad}  - {_fact_line(f)}" for f in t.facts]
    return lines


def _detail(s: Any, evaluation: Any, wording: Wording) -> str:
    lines = [f"**{s.title['zh']}**", f"*{s.title['en']}*", ""]
    for c in getattr(s, "cautions", ()):
        lines += [f"**⚠ {c['zh']}**", f"**⚠ {c['en']}**", ""]
    lines += [s.detail["zh"], "", s.detail["en"], "",
              f"**依据 / Rationale** — {bilingual('urgency', s.urgency)}; `{s.rule}`", ""]
    for trace in s.rationale:
        lines += _trace_lines(trace, 0, wording)
    gaps = [g for g in evaluation.data_gaps if s.rule in g.rules or s.rule_id in g.rules]
    if gaps:
        lines += ["", "**数据缺口 / Data gaps**", ""]
        lines += [f"- {g.title['zh']} / {g.title['en']} ({g.reason})" for g in gaps]
    if s.citations:
        lines += ["", "**来源 / Sources**", ""]
        for c in s.citations:
            text = f"- {with_year(c.title, c.year)}{c.section}"
            if c.publisher:
                text += f"，{c.publisher}"
            if c.url:
                text += f" <{c.url}>"
            lines.append(text)
    lines += ["", f"证据 / Evidence: {bilingual('evidence', s.evidence)}"]
    return "\n".join(lines)


def _gaps_detail(gaps: list[Any]) -> str:
    lines = ["**以下数据缺失或不可用，相关规则无法判断 / Data missing or unusable; these rules could not "
             "decide:**", ""]
    for g in gaps:
        lines.append(f"- {g.title['zh']} / {g.title['en']} (`{g.concept}`, {g.reason}; "
                     f"{bilingual('urgency', g.urgency)}): " + ", ".join(f"`{r}`" for r in g.rules))
        if g.detail:
            lines.append(f"  - {md(g.detail)}")
    return "\n".join(lines)


def prune(value: Any) -> Any:
    """Drop None, "", [] and {} members recursively ("Use of JSON": omit optional fields without value)."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        out_list = [prune(v) for v in value]
        return [v for v in out_list if v not in (None, "", [], {})]
    return value
