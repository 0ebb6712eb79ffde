"""Intake: QuestionnaireResponse -> readings (scored answers) and presences (yes / coded answers).

A concept names a questionnaire item by a code whose system is the Questionnaire's canonical URL and
whose code is the item's linkId (`{system: "https://.../Questionnaire/x", code: "12"}`), so that item
meanings stay data. For a `quantity` concept the answer's number is the reading: valueInteger,
valueDecimal, valueQuantity, or a valueCoding's ordinal (the ordinalValue extension, R5 itemWeight, or a
numeric code). For a coded concept a `true` or coded answer makes it present. Only completed or amended
responses count; nested items (item.item, answer.item) are read too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from cdss.intake.bundle import _Reader

RESPONSE_OK = {"completed", "amended"}
ORDINAL_EXTENSIONS = {
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
}


def _items(items: Any, path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        here = f"{path}.item[{i}]"
        yield item, here
        yield from _items(item.get("item"), here)
        answers = item.get("answer")
        if isinstance(answers, list):
            for j, answer in enumerate(answers):
                if isinstance(answer, Mapping):
                    yield from _items(answer.get("item"), f"{here}.answer[{j}]")


def _ordinal(coding: Mapping[str, Any]) -> float | None:
    """The score of a coded answer: its ordinal extension, else its code when the code is a number."""
    for ext in coding.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") in ORDINAL_EXTENSIONS:
            value = ext.get("valueDecimal", ext.get("valueInteger"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    code = coding.get("code")
    if isinstance(code, str):
        try:
            return float(code)
        except ValueError:
            return None
    return None


def read_questionnaire_response(reader: _Reader, res: Mapping[str, Any], path: str, ref: str) -> None:
    """Record the readings and presences a QuestionnaireResponse's answers map to."""
    if res.get("status") not in RESPONSE_OK:
        return
    canonical = res.get("questionnaire")
    if not isinstance(canonical, str) or not canonical:
        return
    system = canonical.split("|", 1)[0]
    time = reader.effective(res, path, "authored")
    for item, here in _items(res.get("item"), path):
        link = item.get("linkId")
        if not isinstance(link, str):
            continue
        ids = reader.concepts.match([{"system": system, "code": link}])
        answers = item.get("answer") if isinstance(item.get("answer"), list) else []
        for j, answer in enumerate(a for a in answers if isinstance(a, Mapping)):
            _answer(reader, ids, answer, f"{here}.answer[{j}]", ref, time)


def _answer(reader: _Reader, ids: tuple[str, ...], answer: Mapping[str, Any], path: str, ref: str,
            time: dt.datetime | None) -> None:
    coding = answer.get("valueCoding") if isinstance(answer.get("valueCoding"), Mapping) else None
    for cid in ids:
        concept = reader.concepts.by_id[cid]
        if concept.kind == "quantity":
            if coding is not None:
                score = _ordinal(coding)
                if score is not None:
                    reader.quantity({"valueDecimal": score}, path, ref, time, cid)
            else:
                reader.quantity(answer, path, ref, time, cid)
        elif concept.kind != "demographic" and (answer.get("valueBoolean") is True or coding is not None):
            reader.add_presence(cid, time, ref)
    if coding is not None:  # a coded answer may itself name a finding (e.g. a tongue sign)
        for cid in reader.concepts.match_value([coding]) + reader.concepts.match([coding]):
            if reader.concepts.by_id[cid].kind not in ("quantity", "demographic"):
                reader.add_presence(cid, time, ref)
