"""Intake: a MedicationRequest's expected supply duration -> a reading of the supply-duration concept.

A long prescription (长期处方) is an order whose `dispenseRequest.expectedSupplyDuration` (a FHIR Duration) is
longer than the usual limit. The concept that receives the value is found like any other: the quantity
concept whose codes include `urn:cdss:local` / `MedicationRequest.dispenseRequest.expectedSupplyDuration`; its
canonical unit (e.g. weeks) decides the conversion. Planned-but-not-ordered or stopped requests are skipped by
the caller's status test; the reading is dated like the order (authoredOn).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdss.intake.bundle import _Reader

SUPPLY_CODING = {"system": "urn:cdss:local", "code": "MedicationRequest.dispenseRequest.expectedSupplyDuration"}


def read_supply(reader: _Reader, res: Mapping[str, Any], path: str, ref: str, statuses: set[str]) -> None:
    """Record the order's expected supply duration as a reading of the supply concept, if one is defined."""
    if res.get("status") not in statuses:
        return
    dispense = res.get("dispenseRequest")
    if not isinstance(dispense, Mapping) or not isinstance(dispense.get("expectedSupplyDuration"), Mapping):
        return
    ids = [cid for cid in reader.concepts.match([SUPPLY_CODING]) if reader.concepts.by_id[cid].kind == "quantity"]
    if not ids:
        return
    time = reader.effective(res, path, "authoredOn")
    item = {"valueQuantity": dispense["expectedSupplyDuration"]}
    for cid in ids:
        reader.quantity(item, f"{path}.dispenseRequest.expectedSupplyDuration", ref, time, cid)
