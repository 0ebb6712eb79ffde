"""Intake: Encounter (R4 / R4B / R5) -> presences of `encounter` concepts (a visit, a stay, a discharge).

An Encounter's class, type, service type and discharge disposition codings are matched to concepts like
any other code; each concept found is present at the encounter's time: the end of its period when it has
one (a discharge happens at the end of a stay), else its start. Planned, cancelled and erroneous
encounters say nothing about what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdss.intake.bundle import _Reader

ENCOUNTER_SKIP = {"planned", "cancelled", "entered-in-error"}


def _concepts(value: Any) -> list[Any]:
    """CodeableConcepts of a field that may be one Coding (R4 class), one or a list of CodeableConcepts,
    or CodeableReferences (R5 serviceType)."""
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if "code" in item and "coding" not in item:
            out.append({"coding": [item]})  # a bare Coding
        elif "concept" in item:
            out.append(item["concept"])  # a CodeableReference
        else:
            out.append(item)
    return out


def read_encounter(reader: _Reader, res: Mapping[str, Any], path: str, ref: str) -> None:
    """Record the concepts an Encounter's codings map to, at the encounter's time."""
    if res.get("status") in ENCOUNTER_SKIP:
        return
    period_key = "actualPeriod" if "actualPeriod" in res else "period"
    period = res.get(period_key)
    time = None
    if isinstance(period, Mapping):
        key = "end" if period.get("end") else "start"
        time = reader.when(period.get(key), f"{path}.{period_key}.{key}")
    stay = res.get("hospitalization") if "hospitalization" in res else res.get("admission")
    fields = [res.get("class"), res.get("type"), res.get("serviceType")]
    if isinstance(stay, Mapping):
        fields.append(stay.get("dischargeDisposition"))
    codings = [c for f in fields for cc in _concepts(f) for c in reader.codings(cc)]
    for cid in reader.concepts.match(codings):
        if reader.concepts.by_id[cid].kind != "quantity":
            reader.add_presence(cid, time, ref)
