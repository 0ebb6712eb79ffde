"""Regression: the antenatal-handbook reminder for every pregnant woman was labelled with the disease
"ectopic pregnancy (O00)", so a routine first antenatal visit read, on cards and in FHIR, as a diagnosis."""

from __future__ import annotations

from cdss.packs.registry import default_registry


def test_the_first_antenatal_visit_reminder_names_no_disease() -> None:
    pack = default_registry().versions("screening-schedule")[0]
    wanted = "screening-schedule/screening/antenatal-handbook-first-visit"
    rule = next(r.rule for r in pack.rules if r.full_id == wanted)
    assert rule.then.disease is None
