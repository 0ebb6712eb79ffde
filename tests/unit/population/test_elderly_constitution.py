"""`cdss report elderly`: the TCM constitution section (judged types with their scores and guidance, or "not
done"), on a registry of the two packs the report reads (elderly-health-management, tcm-constitution)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cdss.errors import ConfigError
from cdss.packs.registry import load_registry
from cdss.population.elderly import elderly_report, elderly_view
from cdss.testing.factories import CaseFact, bundle_from_facts

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
# 气虚 4+3+3+2 = 12 (是), 阴虚 2+3+2+2 = 9 (倾向是): the pack's own example response.
TCM_BUNDLE = ROOT / "pathways/tcm-constitution/cases/bundles/qixu-yes-yinxu-tendency-questionnaire.json"


@pytest.fixture(scope="module")
def reg():
    return load_registry([ROOT / "pathways/elderly-health-management", ROOT / "pathways/tcm-constitution"],
                         bundled=False)


def _with_self_care(reg) -> dict:
    """The pack's example response plus a self-care assessment and a blood pressure of the same resident."""
    bundle = json.loads(TCM_BUNDLE.read_text("utf-8"))
    facts = [CaseFact(concept=c, value=v, days_ago=2) for c, v in
             [("adl_feeding", 0), ("adl_grooming", 0), ("adl_dressing", 0), ("adl_toileting", 0),
              ("adl_activity", 0)]]
    facts.append(CaseFact(concept="sbp", value=142, days_ago=2))
    extra = bundle_from_facts(facts, concepts=reg.concepts, now=NOW, age_years=74, patient_id="p1")
    bundle["entry"] += [e for e in extra["entry"] if e["resource"]["resourceType"] != "Patient"]
    return bundle


def test_the_judged_constitutions_come_with_their_scores_and_guidance_highest_first(reg):
    html = elderly_report(TCM_BUNDLE.read_bytes(), now=NOW, registry=reg)
    section = html.split('<section id="constitution">', 1)[1].split("</section>", 1)[0]
    assert "未完成体质辨识" not in section
    qi, yin = section.index("气虚质（是）"), section.index("阴虚质（倾向是）")
    assert qi < yin  # guide by the highest score: 12 before 9
    assert "<b>12.0</b>" in section and "<b>9.0</b>" in section
    assert "气海、关元" in section  # the qi-deficiency guidance (acupoints) of the pack's rule
    # the judgements are in the constitution section, not repeated as advice, nor their 33 items as measurements
    advice = html.split("/ Advice", 1)[1].split("/ TCM constitution", 1)[0]
    assert "气虚质" not in advice and "阴虚质" not in advice
    assert "体质辨识第1项" not in html


def test_no_constitution_questionnaire_says_not_done_and_keeps_the_reminder(reg):
    bundle = bundle_from_facts([], concepts=reg.concepts, now=NOW, age_years=77, sex="female", patient_id="p")
    view = elderly_view(bundle, now=NOW, registry=reg)
    assert view["constitution"] == []
    assert any(a["rule"].endswith("/yearly-assessment-due") for a in view["advice"])
    html = elderly_report(bundle, now=NOW, registry=reg)
    assert "未完成体质辨识" in html and "constitution questionnaire not done" in html


def test_self_care_score_and_constitution_side_by_side(reg):
    view = elderly_view(_with_self_care(reg), now=NOW, registry=reg)
    assert [s["value"] for s in view["scores"]] == [0.0]  # the self-care score, its own section
    assert [c["scores"][0]["value"] for c in view["constitution"]] == [12.0, 9.0]
    assert [m["value"] for m in view["measurements"]] == [142.0]  # the items stay with their scores


def test_the_report_age_is_the_elderly_pack_population_not_a_number_in_the_code(reg):
    from cdss.population.elderly import elderly_age

    assert elderly_age(reg.select()) == 65  # elderly-health-management: population {age_years: {min: 65}}
    only_constitution = load_registry([ROOT / "pathways/tcm-constitution"], bundled=False)
    assert elderly_age(only_constitution.select()) is None
    with pytest.raises(ConfigError) as exc:  # nothing says whom the report is for
        elderly_view(TCM_BUNDLE.read_bytes(), now=NOW, registry=only_constitution)
    assert exc.value.problems[0].code == "no-elderly-pack"
