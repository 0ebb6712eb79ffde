"""Strategies: realistic bundles the intake accepts, unit variants, thresholds of the pack, rule witnesses."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdss.engine.evaluate import evaluate_facts
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import Registry
from cdss.testing.strategies import (
    GenPatient,
    bundles,
    in_unit,
    near_thresholds,
    pack_focus,
    patients,
    rule_witnesses,
    unit_variants,
)

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
FAST = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


def _htn(registry: Registry):  # noqa: ANN202
    return registry.select(["htn-community"])[0]


def test_strategies_bundles_read_by_intake_values_plausible(registry: Registry) -> None:
    concepts = registry.concepts

    @FAST
    @given(bundles(concepts, now=NOW))
    def check(bundle: dict) -> None:
        facts = read_bundle(bundle, concepts)
        for cid, readings in facts.readings.items():
            lo, hi = concepts.by_id[cid].plausible or (float("-inf"), float("inf"))
            for r in readings:
                assert lo - 1e-6 <= float(r.value) <= hi + 1e-6, (cid, r)
        assert not [n for n in facts.notes if n.reason == "unknown-unit"]

    check()


def test_strategies_unit_variants_from_molar_mass_and_alt_units(registry: Registry) -> None:
    by_id = registry.concepts.by_id
    assert "mg/dL" in unit_variants(by_id["glucose"])
    assert "mmol/mol" in unit_variants(by_id["hba1c"])
    assert unit_variants(by_id["sbp"]) == []
    from cdss.vocab.units import to_canonical

    assert abs(to_canonical(in_unit(7.0, "mg/dL", by_id["glucose"]), "mg/dL", by_id["glucose"]) - 7.0) < 1e-3


def test_strategies_pack_focus_reads_thresholds_from_leaves(registry: Registry) -> None:
    focus = pack_focus(_htn(registry))
    assert {140.0, 160.0, 180.0} <= focus.quantities["sbp"]
    assert {1, 90} <= focus.windows and focus.on_days == 3
    assert 30.0 in focus.ages and "severe_headache" in focus.coded
    assert near_thresholds([180.0], 40, 300) == [179.0, 180.0, 181.0]


def test_strategies_patients_hit_the_packs_thresholds(registry: Registry) -> None:
    seen: set[float] = set()

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(patients(registry.concepts, pack=_htn(registry)))
    def collect(p: GenPatient) -> None:
        seen.update(f.value for f in p.facts if f.concept == "sbp")

    collect()
    assert seen & {179.0, 180.0, 181.0, 139.0, 140.0, 141.0}


def test_strategies_witnesses_make_their_rule_fire(registry: Registry) -> None:
    pack = _htn(registry)
    rules = list(pack.rules)

    @FAST
    @given(st.data())
    def check(data: st.DataObject) -> None:
        rule = data.draw(st.sampled_from(rules))
        patient = data.draw(rule_witnesses(registry.concepts, pack, rule))
        facts = read_bundle(patient.bundle(registry.concepts, NOW), registry.concepts)
        result = evaluate_facts(facts, now=NOW, registry=registry, packs=[pack])
        assert rule.full_id in {s.rule_id for s in result.suggestions}, patient

    check()
