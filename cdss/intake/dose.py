"""Intake: the dose of a medication order as a reading, for a `quantity` concept coded like the drug.

A herbal (中药饮片) order carries one herb and its dose per 剂 in `dosageInstruction[].doseAndRate[].doseQuantity`
(e.g. `{value: 6, unit: "g"}`). A `quantity` concept whose code is the herb's code (and whose unit is the dose
unit) receives that dose as a reading, so that rules can compare it with a dose range kept as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from cdss.intake.bundle import _Reader


def read_dose(reader: _Reader, res: Mapping[str, Any], path: str, ref: str, time: dt.datetime | None,
              cid: str) -> None:
    """Record each doseQuantity of a MedicationRequest / MedicationStatement as a reading of `cid`."""
    for i, dosage in enumerate(res.get("dosageInstruction") or res.get("dosage") or []):
        if not isinstance(dosage, Mapping):
            continue
        for j, rate in enumerate(dosage.get("doseAndRate") or []):
            if isinstance(rate, Mapping) and isinstance(rate.get("doseQuantity"), Mapping):
                reader.quantity({"valueQuantity": rate["doseQuantity"]},
                                f"{path}.dosageInstruction[{i}].doseAndRate[{j}].doseQuantity", ref, time, cid)
