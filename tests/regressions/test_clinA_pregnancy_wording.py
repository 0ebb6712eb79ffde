"""Regression of the clinical second reading clinA (2026-12-01): advice shown to a pregnant woman must not tell her
to diet or lose weight (NICE PH27: no dieting in pregnancy, gradual weight loss after it), nor offer ondansetron
without its first-trimester warning (MHRA 2020). digestive-community's NAFLD card and gastroenteritis-community's
oral-rehydration card are for every population, so their text must carry the pregnancy note in both languages."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
NAFLD = "digestive-community/treatment/nafld-lifestyle"


def test_nafld_card_for_a_pregnant_woman_says_no_weight_loss_in_pregnancy():
    facts = (CaseFact(has="pregnancy", days_ago=100), CaseFact(has="nafld", days_ago=300))
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=32, sex="female", patient_id="p1")
    shown = {s.rule_id: s for s in evaluate(bundle, now=NOW, registry=REG).suggestions}
    detail = shown[NAFLD].detail
    assert "妊娠期不节食" in detail["zh"]
    assert "in pregnancy no dieting" in detail["en"]


ORAL_REHYDRATION = "gastroenteritis-community/treatment/oral-rehydration"


def test_gastroenteritis_card_for_a_pregnant_woman_warns_about_ondansetron_in_early_pregnancy():
    facts = (CaseFact(has="pregnancy", days_ago=30), CaseFact(has="vomiting"), CaseFact(has="diarrhoea"))
    bundle = bundle_from_facts(facts, concepts=REG.concepts, now=NOW, age_years=28, sex="female", patient_id="p1")
    shown = {s.rule_id: s for s in evaluate(bundle, now=NOW, registry=REG).suggestions}
    detail = shown[ORAL_REHYDRATION].detail
    assert "妊娠前12周" in detail["zh"]
    assert "first 12 weeks" in detail["en"]
