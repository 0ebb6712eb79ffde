"""Properties of the evaluation spine: determinism, order and units do not change advice, monotone
urgency in blood pressure, unit conversion round-trips, no crash on any valid bundle."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry, load_registry
from cdss.packs.schema import URGENCY_ORDER
from cdss.testing.factories import CaseFact, bundle_from_facts
from cdss.vocab.units import to_canonical
from tests.conftest import NOW

REGISTRY = default_registry()  # all bundled packs
SYMPTOMS = ["severe_headache", "vomiting", "chest_pain", "dyspnoea", "altered_consciousness", "leg_oedema"]
CONDITIONS = ["hypertension", "diabetes", "chronic_kidney_disease", "pregnancy", "heart_failure"]
DRUGS = ["acei", "arb", "ccb", "thiazide", "beta_blocker"]

bp_reading = st.tuples(st.integers(70, 260), st.integers(40, 150), st.sampled_from([0, 0.2, 1, 3, 10, 40, 95, 400]))


@st.composite
def patients(draw):
    """A compact patient: age, sex, BP readings over time, some conditions, drugs and symptoms today."""
    facts = []
    for sbp, dbp, days in draw(st.lists(bp_reading, max_size=6)):
        facts += [CaseFact(concept="sbp", value=sbp, days_ago=days), CaseFact(concept="dbp", value=min(dbp, sbp - 10),
                                                                             days_ago=days)]
    for has in draw(st.lists(st.sampled_from(CONDITIONS + DRUGS), max_size=4, unique=True)):
        facts.append(CaseFact(has=has, days_ago=draw(st.sampled_from([30, 400]))))
    for has in draw(st.lists(st.sampled_from(SYMPTOMS), max_size=2, unique=True)):
        facts.append(CaseFact(has=has, days_ago=0))
    if draw(st.booleans()):
        facts.append(CaseFact(concept="glucose", value=draw(st.floats(3, 25)), days_ago=draw(st.sampled_from([1, 50]))))
    return {"age_years": draw(st.integers(1, 95)), "sex": draw(st.sampled_from(["male", "female"])), "facts": facts}


def _bundle(p: dict) -> dict:
    return bundle_from_facts(p["facts"], concepts=REGISTRY.concepts, now=NOW, age_years=p["age_years"], sex=p["sex"])


def _advice(bundle: dict) -> list[tuple[str, str]]:
    return [(s.rule, s.urgency) for s in evaluate(bundle, now=NOW, registry=REGISTRY).suggestions]


@given(patients())
def test_evaluate_same_input_same_bytes(p):
    bundle = _bundle(p)
    first = json.dumps(evaluate(bundle, now=NOW, registry=REGISTRY).model_dump(mode="json"), ensure_ascii=False)
    assert json.dumps(evaluate(json.loads(json.dumps(bundle)), now=NOW, registry=REGISTRY).model_dump(mode="json"),
                      ensure_ascii=False) == first


@given(patients(), st.randoms(use_true_random=False))
def test_evaluate_entry_order_does_not_change_output(p, rnd: random.Random):
    bundle = _bundle(p)
    shuffled = dict(bundle, entry=list(bundle["entry"]))
    rnd.shuffle(shuffled["entry"])
    assert evaluate(shuffled, now=NOW, registry=REGISTRY).model_dump(mode="json") == evaluate(bundle, now=NOW,
                                                                               registry=REGISTRY).model_dump(mode="json")


HTN_ONLY = load_registry([Path(__file__).resolve().parents[2] / "pathways" / "htn-community"], bundled=False)


@given(patients(), st.integers(1, 60))
def test_raising_bp_never_removes_an_emergency_referral(p, rise):
    """Hypertension pack: raise every BP reading; an emergency referral is never lost, and the most urgent
    suggestion never becomes less urgent. (Across all packs a rise can end a *hypotension* emergency,
    which is right; tests/properties/test_clinical_invariants.py checks worsening in the abnormal direction.)"""
    def top(facts):
        result = evaluate(_bundle(dict(p, facts=facts)), now=NOW, registry=HTN_ONLY)
        return min((URGENCY_ORDER.index(s.urgency) for s in result.suggestions), default=len(URGENCY_ORDER))

    raised = [f.model_copy(update={"value": f.value + rise}) if f.concept in ("sbp", "dbp") else f for f in p["facts"]]
    # A value raised past the concept's plausible range is an entry error (a data gap), not a higher BP.
    ceiling = {c: HTN_ONLY.concepts.by_id[c].plausible[1] for c in ("sbp", "dbp")}
    assume(all(f.value <= ceiling[f.concept] for f in raised if f.concept in ceiling))
    assert top(raised) <= top(p["facts"])


@given(patients(), st.floats(140, 200))
def test_adding_an_unrelated_normal_observation_changes_nothing(p, height_cm):
    bundle = _bundle(p)
    extra = _bundle(dict(p, facts=[*p["facts"], CaseFact(concept="body_height", value=height_cm, days_ago=1)]))
    assert _advice(extra) == _advice(bundle)


@given(st.floats(1, 30), st.sampled_from(["glucose", "fpg"]))
def test_glucose_mg_dl_round_trip(value_mmol, concept):
    c = REGISTRY.concepts.by_id[concept]
    mg_dl = to_canonical(value_mmol, "mmol/L", c) * c.molar_mass_g_per_mol / 10
    assert abs(to_canonical(mg_dl, "mg/dL", c) - value_mmol) < 1e-3 * value_mmol


@given(st.floats(20, 1000))
def test_creatinine_mg_dl_round_trip(value_umol):
    c = REGISTRY.concepts.by_id["creatinine"]
    mg_dl = value_umol * c.molar_mass_g_per_mol / 10000
    assert abs(to_canonical(mg_dl, "mg/dL", c) - value_umol) < 1e-3 * value_umol


@given(st.floats(4, 15))
def test_hba1c_ifcc_round_trip(percent):
    c = REGISTRY.concepts.by_id["hba1c"]
    ifcc = (percent - 2.15) * 10.929
    assert abs(to_canonical(ifcc, "mmol/mol", c) - percent) < 0.01


@given(st.floats(30, 45))
def test_temperature_fahrenheit_round_trip(celsius):
    c = REGISTRY.concepts.by_id["body_temp"]
    assert abs(to_canonical(celsius * 9 / 5 + 32, "[degF]", c) - celsius) < 1e-3


@given(patients(), st.sampled_from(["mg/dL", "mmol/L"]))
def test_unit_a_glucose_is_sent_in_does_not_change_advice(p, unit):
    glucose = [f for f in p["facts"] if f.concept == "glucose"]
    if not glucose:
        return
    c = REGISTRY.concepts.by_id["glucose"]
    converted = [f.model_copy(update={"value": round(f.value * c.molar_mass_g_per_mol / 10, 4), "unit": "mg/dL"})
                 if f.concept == "glucose" and unit == "mg/dL" else f for f in p["facts"]]
    # The same advice; its order among equally urgent suggestions of one kind follows content-derived ids,
    # which include the value as received.
    assert sorted(_advice(_bundle(dict(p, facts=converted)))) == sorted(_advice(_bundle(p)))


@given(patients())
def test_every_suggestion_names_rule_pack_version_and_a_fact(p):
    result = evaluate(_bundle(p), now=NOW, registry=REGISTRY)
    for s in result.suggestions:
        assert s.rule.count("@") == 1 and "#" in s.rule
        assert s.citations and s.evidence in ("verified", "secondary", "unverified")
        assert s.facts(), f"{s.rule} fired without a fact"
