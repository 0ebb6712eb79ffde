"""The integrator guide's example files are real requests: each is accepted by the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "integrator" / "examples"
ROUTES = {
    "patient-view-request.json": "/cds-services/cdss-patient-view",
    "order-sign-request.json": "/cds-services/cdss-order-sign",
    "feedback-request.json": "/cds-services/cdss-patient-view/feedback",
    "evaluate-bundle.json": "/fhir/$evaluate",
    "evaluate-parameters.json": "/fhir/$evaluate",
}


def test_every_example_is_listed() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(ROUTES)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_example_is_accepted(client: Any, name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    if "CARD-UUID" in text:  # feedback names a card the service issued: get one first
        call = json.loads((EXAMPLES / "patient-view-request.json").read_text(encoding="utf-8"))
        card = client.post(ROUTES["patient-view-request.json"], json=call).json()["cards"][0]["uuid"]
        text = text.replace("CARD-UUID", card)
    body = json.loads(text)
    response = client.post(ROUTES[name], json=body)
    assert response.status_code == 200, response.text
