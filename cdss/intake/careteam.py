"""Intake: CareTeam -> presences (a family-doctor contract, 家庭医生签约, is a CareTeam of the resident).

How signing is represented in FHIR (docs/reference/population.md): the resident's contract is a CareTeam
whose `subject` is the Patient, whose `category` carries the contract code (a concept's value set says
which), whose `participant[].member` are the family doctor (Practitioner) and team members, whose
`managingOrganization` is the community health centre, and whose `period.start` is the signing date.
An active CareTeam with a period that has not ended makes each concept its category maps to present at
the signing date; a proposed, suspended, inactive or erroneous one, or one whose period ended before the
evaluation time, says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdss.intake.bundle import _Reader

CARETEAM_OK = {"active"}


def read_careteam(reader: _Reader, res: Mapping[str, Any], path: str, ref: str) -> None:
    """Record the concepts an active CareTeam's category codings map to, at its period's start."""
    if res.get("status") not in CARETEAM_OK:
        return
    period = res.get("period") if isinstance(res.get("period"), Mapping) else {}
    start = reader.when(period.get("start"), f"{path}.period.start")
    end = reader.when(period.get("end"), f"{path}.period.end")
    if end is not None and reader.now is not None and end < reader.now:
        return
    categories = res.get("category") if isinstance(res.get("category"), list) else []
    codings = [c for cc in categories for c in reader.codings(cc)]
    for cid in reader.concepts.match(codings):
        if reader.concepts.by_id[cid].kind not in ("quantity", "demographic"):
            reader.add_presence(cid, start, ref)
