"""CDS Hooks card renderer: shape per CDS Hooks 2.0 "Card Attributes", nothing empty, ids stable."""

from __future__ import annotations

from typing import Any

from cdss.render.cds_hooks import INDICATOR, md, prune, render_cards, summary
from tests.unit.service.support import NOW, fake_evaluate

PANEL = "https://cds.test/panel"


def evaluation(registry: Any, *resources: dict[str, Any]) -> Any:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}},
                                                  *({"resource": r} for r in resources)]}
    return fake_evaluate(bundle, now=NOW, registry=registry)


def test_one_card_per_suggestion_most_urgent_first(registry: Any) -> None:
    e = evaluation(registry, {"resourceType": "Condition", "id": "c1"}, {"resourceType": "Observation", "id": "o1"})
    cards = render_cards(e, hook_instance="h", panel_url=PANEL).body["cards"]
    assert [c["indicator"] for c in cards] == ["critical", "info"]
    assert "suggestions" not in cards[1]  # a diagnosis proposes nothing to the EHR
    assert "selectionBehavior" not in cards[1] and "overrideReasons" not in cards[1]


def test_indicator_mapping_is_the_documented_one() -> None:
    assert INDICATOR == {"emergency": "critical", "urgent": "warning", "routine": "info", "info": "info"}


def test_summary_is_under_140_characters() -> None:
    assert len(summary("血" * 300)) == 139
    assert summary("  a \n b ") == "a b"


def test_draft_order_is_deleted_only_when_passed_as_draft(registry: Any) -> None:
    draft = {"resourceType": "MedicationRequest", "id": "m1", "status": "draft",
             "medicationCodeableConcept": {"coding": [{"display": "药A"}]}}
    e = evaluation(registry, draft)
    with_drafts = render_cards(e, hook_instance="h", panel_url=PANEL,
                               draft_orders={"MedicationRequest/m1": draft}).body["cards"][0]
    assert with_drafts["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/m1"
    assert "药A" in with_drafts["suggestions"][0]["label"]
    without = render_cards(e, hook_instance="h", panel_url=PANEL).body["cards"][0]
    assert "suggestions" not in without


def test_uuids_derive_from_hook_instance(registry: Any) -> None:
    e = evaluation(registry, {"resourceType": "Observation", "id": "o1"})
    a = render_cards(e, hook_instance="h1", panel_url=PANEL)
    b = render_cards(e, hook_instance="h1", panel_url=PANEL)
    c = render_cards(e, hook_instance="h2", panel_url=PANEL)
    assert a == b
    assert a.index[0].card_uuid != c.index[0].card_uuid
    assert a.index[0].suggestion_uuids == (a.body["cards"][0]["suggestions"][0]["uuid"],)


def test_patient_values_are_escaped_in_markdown() -> None:
    assert md("[click](http://x)") == r"\[click\]\(http://x\)"


def test_prune_drops_empty_members() -> None:
    assert prune({"a": None, "b": "", "c": [], "d": {}, "e": [None, {"f": ""}], "g": 0, "h": False}) == \
        {"g": 0, "h": False}
