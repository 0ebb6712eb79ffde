"""Intake: unit conversion to canonical units, with the formulas declared in the concepts."""

from __future__ import annotations

import pytest

from cdss.vocab.units import UnknownUnit, to_canonical


@pytest.mark.parametrize("concept, value, unit, expected", [
    ("glucose", 126, "mg/dL", 6.994),        # 126 mg/dL / 180.156 g/mol
    ("glucose", 7.0, "mmol/L", 7.0),
    ("creatinine", 1.0, "mg/dL", 88.40),     # 1 mg/dL creatinine = 88.4 umol/L
    ("hba1c", 53, "mmol/mol", 7.0),          # IFCC 53 mmol/mol = NGSP 7.0 %
    ("body_temp", 98.6, "[degF]", 37.0),
    ("body_weight", 154, "[lb_av]", 69.85),
    ("ldl_c", 100, "mg/dL", 2.586),
])
def test_to_canonical_known_conversions(registry, concept, value, unit, expected):
    assert to_canonical(value, unit, registry.concepts.by_id[concept]) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize("concept, unit", [("glucose", "furlongs"), ("sbp", "mg/dL"), ("hba1c", "kg")])
def test_to_canonical_unrelated_unit_is_refused(registry, concept, unit):
    with pytest.raises(UnknownUnit):
        to_canonical(1.0, unit, registry.concepts.by_id[concept])
