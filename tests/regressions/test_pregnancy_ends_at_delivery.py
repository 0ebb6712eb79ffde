"""Regression (clinical reading, 2026-12-01): a pregnancy record stayed current for `pregnancy_current_days`
(300) even after a later postpartum record, so pregnancy-only reminders still fired after birth and
`pregnant: exclude` advice was withheld from a woman who had delivered.

Now a record of a `pregnancy_ended_by` concept (catalogue/safety.yaml: `postpartum`) ends every pregnancy
record dated on or before it. It does not say "not pregnant": with no newer record the status is unknown
again (the advice comes with the `pregnancy_unknown` caution). A pregnancy record dated after it (a later
pregnancy) stays current. The order of the resources does not matter."""

from __future__ import annotations

import copy
import json

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.packs.scope import load_safety_settings
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REG = default_registry()
ANTENATAL = "screening-schedule/screening/antenatal-handbook-first-visit"  # population {pregnant: only}
HOME_BP = "screening-schedule/screening/home-bp-monitoring"  # population {age_years: {min: 18}, pregnant: exclude}


def _bundle(*facts: CaseFact, reverse: bool = False) -> dict:
    base = (CaseFact(has="hypertension", days_ago=400),)
    bundle = bundle_from_facts(base + facts, concepts=REG.concepts, now=NOW, age_years=30, sex="female",
                               patient_id="p1")
    if reverse:
        bundle = copy.deepcopy(bundle)
        bundle["entry"] = bundle["entry"][:1] + bundle["entry"][:0:-1]
    return bundle


def _suggestions(bundle: dict) -> dict[str, object]:
    return {s.rule_id: s for s in evaluate(bundle, now=NOW, registry=REG).suggestions}


def test_the_rules_used_here_exist_and_postpartum_ends_pregnancy_in_the_settings():
    settings = load_safety_settings()
    assert settings.pregnancy_ended_by == ("postpartum",)
    assert all(cid in REG.concepts.by_id for cid in settings.pregnancy_ended_by)
    assert {ANTENATAL, HOME_BP} <= {r.full_id for p in REG.all() for r in p.rules}


def test_pregnancy_before_the_baseline_fires_the_antenatal_reminder_and_withholds_exclude_advice():
    got = _suggestions(_bundle(CaseFact(has="pregnancy", days_ago=200)))
    assert ANTENATAL in got
    assert HOME_BP not in got


def test_postpartum_record_after_the_pregnancy_record_ends_the_pregnancy():
    for reverse in (False, True):
        got = _suggestions(_bundle(CaseFact(has="pregnancy", days_ago=200), CaseFact(has="postpartum", days_ago=10),
                                   reverse=reverse))
        assert ANTENATAL not in got  # a pregnancy-only reminder no longer fires after birth
        assert HOME_BP in got  # the `pregnant: exclude` advice is offered again...
        # ...with the caution: birth ends a pregnancy, it does not record "not pregnant" (open world)
        assert got[HOME_BP].cautions and "pregnan" in got[HOME_BP].cautions[0]["en"]


def test_not_pregnant_status_after_birth_removes_the_caution():
    got = _suggestions(_bundle(CaseFact(has="pregnancy", days_ago=200), CaseFact(has="postpartum", days_ago=10),
                               CaseFact(has="not_pregnant", days_ago=10)))
    assert ANTENATAL not in got
    assert HOME_BP in got and got[HOME_BP].cautions == ()


def test_a_later_pregnancy_after_an_old_postpartum_record_is_current():
    for reverse in (False, True):
        got = _suggestions(_bundle(CaseFact(has="postpartum", days_ago=400), CaseFact(has="pregnancy", days_ago=20),
                                   reverse=reverse))
        assert ANTENATAL in got
        assert HOME_BP not in got


def test_postpartum_record_alone_leaves_the_status_unknown_as_before():
    got = _suggestions(_bundle(CaseFact(has="postpartum", days_ago=10)))
    assert ANTENATAL not in got
    assert HOME_BP in got and got[HOME_BP].cautions


def test_output_does_not_depend_on_resource_order():
    facts = (CaseFact(has="pregnancy", days_ago=200), CaseFact(has="postpartum", days_ago=10))
    one, two = (evaluate(_bundle(*facts, reverse=r), now=NOW, registry=REG) for r in (False, True))
    dump = [json.dumps(r.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) for r in (one, two)]
    assert dump[0] == dump[1]


def test_expected_delivery_date_recorded_before_birth_is_ended_too():
    bundle = _bundle(CaseFact(has="postpartum", days_ago=10))
    due = (NOW.replace(year=NOW.year + 1)).date().isoformat()  # still "in the future" at NOW
    bundle["entry"].append({"fullUrl": "urn:uuid:edd", "resource": {
        "resourceType": "Observation", "id": "edd", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11778-8"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-06-01", "valueDateTime": due}})
    got = _suggestions(bundle)
    assert ANTENATAL not in got and HOME_BP in got
