"""Regression (reviews/reliability.md D8): feedback had no size or rate limit and was not checked against
issued cards: a 9 MB userComment ×20 grew the database by 190 MB, card "nope" was stored, 300 posts in
1.6 s all answered 200, and an outcomeTimestamp of 9999-12-31 was accepted."""

from __future__ import annotations

from typing import Any

from tests.unit.service.support import load_hook

FEEDBACK = "/cds-services/cdss-patient-view/feedback"


def _card(client: Any) -> str:
    response = client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json"))
    return response.json()["cards"][0]["uuid"]


def _item(card: str, **extra: Any) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-05-01T08:00:00Z", **extra}


def test_a_huge_comment_is_refused(client: Any) -> None:
    card = _card(client)
    body = {"feedback": [_item(card, overrideReason={"userComment": "x" * 9_000_000})]}
    response = client.post(FEEDBACK, json=body)
    assert response.status_code == 413
    assert response.json()["issue"][0]["expression"] == ["feedback[0].overrideReason.userComment"]
    assert client.app.state.storage.feedback() == []


def test_a_huge_extension_is_refused(client: Any) -> None:
    card = _card(client)
    response = client.post(FEEDBACK, json={"feedback": [_item(card, extension={"x": "y" * 100_000})]})
    assert response.status_code == 413


def test_an_unknown_card_is_refused(client: Any) -> None:
    card = _card(client)
    response = client.post(FEEDBACK, json={"feedback": [_item(card), _item("nope")]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["feedback[1].card"]
    assert client.app.state.storage.feedback() == []


def test_a_far_future_timestamp_is_refused(client: Any) -> None:
    card = _card(client)
    response = client.post(FEEDBACK, json={"feedback": [_item(card, outcomeTimestamp="9999-12-31T00:00:00Z")]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["feedback[0].outcomeTimestamp"]


def test_a_burst_is_answered_429(make_client: Any) -> None:
    client = make_client(feedback_rate_per_minute=5)
    card = _card(client)
    statuses = [client.post(FEEDBACK, json={"feedback": [_item(card)]}).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    limited = client.post(FEEDBACK, json={"feedback": [_item(card)]})
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["issue"][0]["code"] == "throttled"
