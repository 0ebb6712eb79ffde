"""JWT bearer authentication as CDS Hooks 2.0 "Trusting CDS Clients" requires; keys generated here."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.unit.service.support import BASE_URL, ISSUER, FhirStub, load_hook, make_token, public_jwk

DISCOVERY = f"{BASE_URL}/cds-services"


@pytest.fixture()
def secured(make_client: Any, rsa_key: Any, ec_key: Any) -> Any:
    jwks = {"keys": [public_jwk(rsa_key, "k1"), public_jwk(ec_key, "k2", "ES384")]}
    return make_client(auth="on", auth_issuers={
        ISSUER: {"jwks": jwks},
        "https://other-ehr.test/": {"jku": ["https://other-ehr.test/jwks"]},
    })


def get(client: Any, token: str | None, path: str = "/cds-services") -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return client.get(path, headers=headers)


def test_valid_rsa_and_ec_tokens_are_accepted(secured: Any, rsa_key: Any, ec_key: Any) -> None:
    assert get(secured, make_token(rsa_key, alg="RS384")).status_code == 200
    assert get(secured, make_token(ec_key, alg="ES384", kid="k2")).status_code == 200


def test_aud_must_be_the_endpoint_called(secured: Any, rsa_key: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    ok = make_token(rsa_key, aud=f"{BASE_URL}/cds-services/cdss-patient-view")
    response = secured.post("/cds-services/cdss-patient-view", json=body, headers={"authorization": f"Bearer {ok}"})
    assert response.status_code == 200, response.text
    wrong = make_token(rsa_key, aud=DISCOVERY)
    response = secured.post("/cds-services/cdss-patient-view", json=body, headers={"authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    assert get(secured, make_token(rsa_key, aud=[DISCOVERY, "https://x"])).status_code == 200


def _unsigned(claims: dict[str, Any]) -> str:
    def b64(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims)}."


@pytest.mark.parametrize("case", ["missing", "not-bearer", "garbage", "alg-none", "hs256", "unknown-iss",
                                  "unknown-kid", "expired", "future-iat", "too-old", "no-jti", "wrong-key",
                                  "alg-mismatch", "jku-not-allowed"])
def test_bad_tokens_get_the_same_401(secured: Any, rsa_key: Any, ec_key: Any, case: str) -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {"iss": ISSUER, "aud": DISCOVERY, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = {
        "missing": None,
        "not-bearer": "Basic abc",
        "garbage": "not.a.token",
        "alg-none": _unsigned(claims),
        "hs256": jwt.encode(claims, "shared-secret-shared-secret-shared-secret", algorithm="HS256",
                            headers={"kid": "k1"}),
        "unknown-iss": make_token(rsa_key, iss="https://evil.test/"),
        "unknown-kid": make_token(rsa_key, kid="nope"),
        "expired": make_token(rsa_key, iat_offset_s=-400, exp_in_s=300),
        "future-iat": make_token(rsa_key, iat_offset_s=3600),
        "too-old": make_token(rsa_key, iat_offset_s=-3000, exp_in_s=6000),
        "no-jti": jwt.encode({k: v for k, v in claims.items() if k != "jti"}, rsa_key, algorithm="RS384",
                             headers={"kid": "k1"}),
        "wrong-key": make_token(other),
        "alg-mismatch": make_token(rsa_key, alg="RS384", kid="k2"),
        "jku-not-allowed": make_token(rsa_key, headers={"jku": "https://evil.test/jwks"}),
    }[case]
    headers = {"authorization": token if case == "not-bearer" else f"Bearer {token}"} if token else {}
    response = secured.get("/cds-services", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="cdss"'
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "login", "diagnostics": "authentication required"}]}


def test_replayed_jti_is_refused(secured: Any, rsa_key: Any) -> None:
    token = make_token(rsa_key, jti="once")
    assert get(secured, token).status_code == 200
    assert get(secured, token).status_code == 401


def test_keys_from_an_allowed_jku(secured: Any, ec_key: Any, fhir_stub: FhirStub) -> None:
    fhir_stub.routes["https://other-ehr.test/jwks"] = {"keys": [public_jwk(ec_key, "ek")]}
    token = make_token(ec_key, alg="ES384", kid="ek", iss="https://other-ehr.test/",
                       headers={"jku": "https://other-ehr.test/jwks"})
    assert get(secured, token).status_code == 200
    assert [str(r.url) for r in fhir_stub.requests] == ["https://other-ehr.test/jwks"]


def test_unreachable_jku_is_401(secured: Any, ec_key: Any) -> None:
    token = make_token(ec_key, alg="ES384", kid="ek", iss="https://other-ehr.test/",
                       headers={"jku": "https://other-ehr.test/jwks"})
    assert get(secured, token).status_code == 401


def test_metadata_and_health_need_no_token(secured: Any) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/packs").status_code == 200
    assert secured.post("/fhir/$evaluate", json={}).status_code == 401


def test_auth_off_logs_a_loud_warning(make_client: Any, caplog: Any) -> None:
    make_client(auth="off")
    assert any("AUTH IS OFF" in r.getMessage() for r in caplog.records)


def test_transport_unused_without_jku(secured: Any, rsa_key: Any, fhir_stub: FhirStub) -> None:
    get(secured, make_token(rsa_key))
    assert fhir_stub.requests == []
    assert isinstance(secured.app.state.http, httpx.AsyncClient)


def test_panel_is_off_once_auth_is_on_and_cards_carry_signed_links(secured: Any, rsa_key: Any) -> None:
    """The panel has no login: with JWT auth on (and no explicit CDSS_PANEL=on) it is not served; cards
    link to their evaluation's page only, with a signed token (service.panel_links)."""
    assert secured.get("/panel/").status_code == 404
    url = f"{BASE_URL}/cds-services/cdss-patient-view"
    body = load_hook("patient-view-emergency.json")
    response = secured.post("/cds-services/cdss-patient-view", json=body,
                            headers={"authorization": f"Bearer {make_token(rsa_key, kid='k1', aud=url)}"})
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards and all("?t=" in link["url"] for card in cards for link in card["links"])


def test_panel_can_be_switched_on_behind_a_gateway(make_client: Any, rsa_key: Any) -> None:
    client = make_client(auth="on", panel="on",
                         auth_issuers={ISSUER: {"jwks": {"keys": [public_jwk(rsa_key, "k1")]}}})
    assert client.get("/panel/").status_code == 200
