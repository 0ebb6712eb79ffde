"""The shipped 老年人生活自理能力评估表 Questionnaire: its items are the adl_* concepts, and a response built
from its answer options (coded answers, as a form sends them) scores into the 规范's bands."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _questionnaire() -> dict:
    text = resources.files("catalogue").joinpath("questionnaires/elderly-self-care-2017.json").read_text("utf-8")
    return json.loads(text)


def test_every_item_of_the_questionnaire_is_a_concept_and_scores_sum_to_37():
    q = _questionnaire()
    concepts = default_registry().concepts
    for item in q["item"]:
        assert concepts.match([{"system": q["url"], "code": item["linkId"]}]), item["linkId"]
    assert sum(max(float(o["valueCoding"]["code"]) for o in item["answerOption"]) for item in q["item"]) == 37


def test_a_response_with_coded_answers_gets_its_band():
    q = _questionnaire()
    picks = {"1": "3", "2": "3", "3": "3", "4": "0", "5": "0"}  # 9: the lowest 中度依赖 score
    answers = []
    for item in q["item"]:
        option = next(o for o in item["answerOption"] if o["valueCoding"]["code"] == picks[item["linkId"]])
        answers.append({"linkId": item["linkId"], "answer": [{"valueCoding": option["valueCoding"]}]})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "old", "birthDate": "1945-01-01"}},
        {"resource": {"resourceType": "QuestionnaireResponse", "id": "qr1", "status": "completed",
                      "questionnaire": q["url"] + "|2017", "authored": "2026-11-20",
                      "subject": {"reference": "Patient/old"}, "item": answers}}]}
    result = evaluate(bundle, now=NOW, registry=default_registry())
    rules = {s.rule_id for s in result.suggestions}
    assert "elderly-health-management/public-health/self-care-moderate-dependence" in rules
    assert "elderly-health-management/public-health/self-care-mild-dependence" not in rules
