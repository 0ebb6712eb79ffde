"""Regression (issue 16, "the panel in production"; reviews/conformance.md §1.5 "links in production"):
with JWT auth on the panel was off and cards carried no link at all. Card links now carry a signed,
expiring token bound to the evaluation, which opens that evaluation's page and nothing else."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from service.panel_links import sign, verify
from tests.unit.service.support import BASE_URL, ISSUER, load_hook, make_token, public_jwk


@pytest.fixture()
def secured(make_client: Any, rsa_key: Any) -> Any:
    return make_client(auth="on", auth_issuers={ISSUER: {"jwks": {"keys": [public_jwk(rsa_key, "k1")]}}})


def _link(secured: Any, rsa_key: Any) -> str:
    token = make_token(rsa_key, aud=f"{BASE_URL}/cds-services/cdss-patient-view")
    response = secured.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json"),
                            headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    links = [link["url"] for card in response.json()["cards"] for link in card.get("links", ())]
    assert links
    return links[0]


def test_card_link_opens_the_page_without_a_login(secured: Any, rsa_key: Any) -> None:
    parts = urlsplit(_link(secured, rsa_key))
    assert parts.query.startswith("t=")
    page = secured.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


def test_a_tampered_or_missing_token_is_refused(secured: Any, rsa_key: Any) -> None:
    parts = urlsplit(_link(secured, rsa_key))
    assert secured.get(parts.path).status_code == 403
    tampered = parts.query[:-1] + ("1" if parts.query.endswith("0") else "0")  # never the same digit
    assert secured.get(f"{parts.path}?{tampered}").status_code == 403
    other = parts.path.rsplit("/", 1)[0] + "/" + "0" * 16
    assert secured.get(f"{other}?{parts.query}").status_code == 403
    assert secured.get("/panel/").status_code == 404  # the rest of the panel stays off


def test_tokens_expire_and_are_bound_to_the_evaluation() -> None:
    key = b"k" * 32
    token = sign(key, "abc", 1000)
    assert verify(key, "abc", token, 999)
    assert not verify(key, "abc", token, 1001)
    assert not verify(key, "abd", token, 999)
    assert not verify(b"x" * 32, "abc", token, 999)
    assert not verify(key, "abc", "99999999999999999.x", 999)
