"""Engine results are typed, frozen records: `model_dump(mode="json")` is the JSON contract, and
`model_validate` reads a stored evaluation back to the same bytes."""

from __future__ import annotations

import json

import pydantic
import pytest

from cdss.engine.evaluate import evaluate
from cdss.engine.results import (
    Candidate,
    ConditionTrace,
    Criterion,
    Evaluation,
    Evidence,
    Suggestion,
    trusted_criterion,
    trusted_trace,
)
from cdss.render.json import render_json
from tests.conftest import load_bundle


def test_a_stored_evaluation_reads_back_to_the_same_bytes(registry, now):
    result = evaluate(load_bundle("htn-emergency.json"), now=now, registry=registry)
    assert result.suggestions and result.data_gaps is not None
    again = Evaluation.model_validate(json.loads(render_json(result)))
    assert render_json(again) == render_json(result)
    assert again.id == result.id
    assert again.suggestions[0].rule_id == result.suggestions[0].rule_id


def test_results_are_frozen(registry, now):
    result = evaluate(load_bundle("htn-emergency.json"), now=now, registry=registry)
    with pytest.raises(pydantic.ValidationError):
        result.suggestions[0].urgency = "info"  # type: ignore[misc]


def test_empty_optional_keys_are_left_out_and_renamed_keys_kept():
    fact = Evidence("sbp", 182, "mm[Hg]", None, ("Observation/1",), "latest")
    assert fact.model_dump(mode="json") == {"concept": "sbp", "stat": "latest", "value": 182, "unit": "mm[Hg]",
                                            "source": ["Observation/1"]}
    trace = ConditionTrace("sbp >= 180", "true", (fact,))
    assert list(trace.model_dump(mode="json")) == ["condition", "outcome", "facts"]


def test_values_keep_their_json_type():
    for value, text in ((True, "true"), (5, "5"), (5.0, "5.0"), ("male", '"male"'), (None, "null")):
        dumped = Evidence("x", value, None, None, (), "latest").model_dump(mode="json")
        assert json.dumps(dumped["value"]) == text


def test_a_suggestion_names_its_rule_from_its_parts():
    s = Suggestion(id="s1", kind="referral", urgency="emergency", disease=None, title={"zh": "转诊", "en": "Refer"},
                   detail={"zh": "转诊", "en": "Refer"}, rule_id="htn-community/referral/crisis",
                   pack_id="htn-community", pack_version="1.1.0", rationale=(), citations=(), evidence="verified")
    assert s.rule == "htn-community@1.1.0#htn-community/referral/crisis"
    assert (s.pack_id, s.pack_version, s.rule_id) == ("htn-community", "1.1.0", "htn-community/referral/crisis")


def test_bad_values_are_refused():
    with pytest.raises(pydantic.ValidationError):
        Evidence("sbp", 1, None, None, "not-a-tuple-of-str", "latest", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Evidence("sbp", 1, None, None, (), "latest", None, "one too many")
    assert "for" in Candidate.model_fields["for_"].alias  # the JSON key of the findings for a condition


def test_trusted_records_are_the_validated_records():
    """The engine builds traces and criteria without validating (its hot path): the same records, bytes,
    equality and hash as validation gives, and as frozen."""
    fact = Evidence("sbp", 182, "mm[Hg]", None, ("Observation/1",), "latest")
    leaf = ConditionTrace("sbp >= 180", "true", (fact,))
    for trusted, checked in (
            (trusted_trace("sbp >= 180", "true", (fact,)), leaf),
            (trusted_trace("all", "unknown", (), (leaf,)), ConditionTrace("all", "unknown", (), (leaf,))),
            (trusted_criterion("sbp >= 180", "sbp", "unknown", "p/diagnosis/x", True, (), "absent"),
             Criterion("sbp >= 180", "sbp", "unknown", "p/diagnosis/x", True, (), "absent")),
            (trusted_criterion("sbp >= 180", "sbp", "true", "p/diagnosis/x", False, (fact,), None),
             Criterion("sbp >= 180", "sbp", "true", "p/diagnosis/x", False, (fact,), None))):
        assert json.dumps(trusted.model_dump(mode="json")) == json.dumps(checked.model_dump(mode="json"))
        assert trusted == checked and hash(trusted) == hash(checked)
        with pytest.raises(pydantic.ValidationError):
            trusted.outcome = "false"  # type: ignore[misc]


def test_evidence_and_traces_made_positionally_are_the_validated_records():
    """Evidence and traces of exactly the declared types skip validation; anything else is still validated."""
    fact = Evidence("sbp", 182, "mm[Hg]", None, ("Observation/1",), "latest", note="n")
    checked = Evidence.model_validate({"concept": "sbp", "value": 182, "unit": "mm[Hg]", "time": None,
                                       "source": ["Observation/1"],
                                       "stat": "latest", "note": "n"})
    assert fact == checked and fact.model_fields_set == checked.model_fields_set
    assert json.dumps(fact.model_dump(mode="json")) == json.dumps(checked.model_dump(mode="json"))
    assert Evidence("sbp", 1, None, None, ["Observation/1"]).source == ("Observation/1",)  # a list: validated
    with pytest.raises(pydantic.ValidationError):
        Evidence("sbp", 1, None, None, ("Observation/1",), bogus=1)
    with pytest.raises(pydantic.ValidationError):
        Evidence("sbp", object(), None, None, ("Observation/1",))
    trace = ConditionTrace("sbp >= 180", "true", (fact,))
    assert trace == ConditionTrace.model_validate({"condition": "sbp >= 180", "outcome": "true", "facts": [checked]})
    assert list(trace.model_dump(mode="json")) == ["condition", "outcome", "facts"]
    with pytest.raises(pydantic.ValidationError):
        ConditionTrace("x", "true", ("not evidence",))
