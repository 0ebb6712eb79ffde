"""Regressions of the round-6 clinical reading (2026-12-01) that need more than one pack, or the card's words:
children's glucose doses, hyperkalaemia without a known age, captopril beside an ARB or hyperkalaemia."""

from __future__ import annotations

import json

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
CAPTOPRIL = "htn-community/referral/severe-bp-urgent-care"
NO_CAPTOPRIL = "htn-community/referral/severe-bp-urgent-care-no-acei"
K_EVERY_AGE = "emergency-red-flags/referral/potassium-6-5-or-above"
K_CHILD = "emergency-red-flags/referral/potassium-6-5-or-above-child"
GLUCOSE_BELOW_3 = "emergency-red-flags/referral/glucose-below-3-0"
SEVERE_BP = (CaseFact(concept="sbp", value=185), CaseFact(concept="dbp", value=115))


def _bundle(age: float | None, sex: str, *facts: CaseFact, birth_date: str | None = None) -> dict:
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=age, sex=sex, patient_id="p1")
    if birth_date is not None:
        bundle["entry"][0]["resource"]["birthDate"] = birth_date
    return bundle


def _shown(bundle: dict) -> dict:
    return {s.rule_id: s for s in evaluate(bundle, now=NOW, registry=REG).suggestions}


def test_a_child_with_glucose_2_5_is_told_the_weight_based_dose_not_only_the_adult_one():
    card = _shown(_bundle(4, "female", CaseFact(concept="glucose", value=2.5)))[GLUCOSE_BELOW_3]
    assert "0.3 g/kg" in card.detail["zh"] and "0.3 g/kg" in card.detail["en"]
    assert "10%葡萄糖2 mL/kg" in card.detail["zh"] and "not 50%" in card.detail["en"]


def test_potassium_7_with_no_birth_date_or_a_year_straddling_18_still_gets_the_emergency_card():
    k = CaseFact(concept="potassium", value=7.0)
    for bundle in (_bundle(None, "female", k), _bundle(None, "male", k, birth_date=str(NOW.year - 18))):
        shown = _shown(bundle)
        assert shown[K_EVERY_AGE].urgency == "emergency"
        assert K_CHILD not in shown


def test_a_child_with_potassium_7_gets_the_child_card_alone():
    shown = _shown(_bundle(8, "male", CaseFact(concept="potassium", value=7.0)))
    assert shown[K_CHILD].urgency == "emergency"
    assert K_EVERY_AGE not in shown


def test_on_an_arb_with_bp_185_115_no_captopril():
    shown = _shown(_bundle(60, "male", CaseFact(has="arb"), *SEVERE_BP))
    assert NO_CAPTOPRIL in shown and CAPTOPRIL not in shown
    card = shown[NO_CAPTOPRIL]
    assert "卡托普利12.5" not in card.detail["zh"] and "美托洛尔25 mg" in card.detail["zh"]  # no captopril dose


def test_potassium_6_2_with_bp_185_115_no_captopril():
    shown = _shown(_bundle(60, "male", CaseFact(concept="potassium", value=6.2), *SEVERE_BP))
    assert CAPTOPRIL not in shown and NO_CAPTOPRIL in shown


def test_potassium_6_8_with_bp_185_115_is_one_ambulance_card_not_also_treat_and_observe():
    # review of round 6: the no-captopril card (metoprolol, observe 1 hour) showed beside "call an ambulance"
    for age in (60, 15):
        shown = _shown(_bundle(age, "male", CaseFact(concept="potassium", value=6.8), *SEVERE_BP))
        assert shown[K_CHILD if age < 18 else K_EVERY_AGE].urgency == "emergency"
        assert CAPTOPRIL not in shown and NO_CAPTOPRIL not in shown


def test_a_stroke_sign_on_an_arb_gets_the_ambulance_card_alone():
    shown = _shown(_bundle(60, "male", CaseFact(has="arb"), CaseFact(has="facial_droop"), *SEVERE_BP))
    assert shown["stroke-befast/referral/befast-sign-today"].urgency == "emergency"
    assert CAPTOPRIL not in shown and NO_CAPTOPRIL not in shown


def test_nothing_against_captopril_keeps_the_captopril_card():
    shown = _shown(_bundle(55, "male", *SEVERE_BP))
    assert CAPTOPRIL in shown and NO_CAPTOPRIL not in shown


def _emergencies(shown: dict) -> set[str]:
    return {rule for rule, s in shown.items() if s.urgency == "emergency"}


def test_an_afebrile_adult_or_child_with_a_non_blanching_rash_gets_an_emergency_card():
    for age in (40, 6):
        shown = _shown(_bundle(age, "female", CaseFact(has="non_blanching_rash"),
                               CaseFact(concept="body_temp", value=36.8)))
        assert "neuro-community/referral/non-blanching-rash-without-fever" in _emergencies(shown), age


def test_a_febrile_child_with_eczema_herpeticum_gets_the_emergency_card_and_no_steroid_card():
    result = evaluate(_bundle(2, "male", CaseFact(has="atopic_dermatitis", days_ago=300),
                              CaseFact(has="punched_out_erosions"), CaseFact(concept="body_temp", value=38.6)),
                      now=NOW, registry=REG)
    shown = {s.rule_id: s for s in result.suggestions}
    assert "skin-community/referral/eczema-herpeticum-unwell-child" in _emergencies(shown)
    assert not [r for r in shown if r.startswith("skin-community/treatment/")]
    for s in result.superseded:  # every hidden card names a card that is shown
        assert any(r.endswith("#skin-community/referral/eczema-herpeticum-unwell-child") for r in s.superseded_by) \
            or not s.rule_id.startswith("skin-community/"), s.rule_id


def test_a_child_with_pneumonia_and_spo2_93_gets_no_tcm_card_saying_the_red_flags_are_absent():
    facts = [CaseFact(has=h) for h in ("fever", "cough", "tcm_red_throat", "tcm_tongue_red", "tcm_coating_thin",
                                       "tcm_coating_yellow", "pneumonia")]
    facts += [CaseFact(concept="spo2", value=93), CaseFact(concept="resp_rate", value=32),
              CaseFact(concept="fever_duration_days", value=2)]
    shown = _shown(_bundle(4, "female", *facts))
    assert "tcm-differentiation/referral/feifeng-tanchuan-red-flags" in _emergencies(shown)
    assert not [r for r in shown if r.startswith("tcm-differentiation/diagnosis/feifeng-tanchuan")]


def test_a_source_without_a_year_is_cited_without_one_in_json_text_and_fhir():
    from cdss.render.cds_hooks import render_cards
    from cdss.render.fhir import guidance_bundle
    from cdss.render.text import render_text

    bundle = _bundle(2, "male", CaseFact(has="atopic_dermatitis", days_ago=300),
                     CaseFact(has="punched_out_erosions"), CaseFact(concept="body_temp", value=38.6))
    result = evaluate(bundle, now=NOW, registry=REG)
    (card,) = [s for s in result.suggestions if s.rule_id == "skin-community/referral/eczema-herpeticum-unwell-child"]
    (undated,) = [c for c in card.model_dump(mode="json")["citations"] if c["source"] == "sa-health-eczema-cpc"]
    assert "year" not in undated  # the page shows no date: no year is made up
    assert "None" not in render_text(result)
    assert "None" not in json.dumps(guidance_bundle(result), ensure_ascii=False)
    assert "None" not in json.dumps(render_cards(result, hook_instance="h1", panel_url=None).body, ensure_ascii=False)
