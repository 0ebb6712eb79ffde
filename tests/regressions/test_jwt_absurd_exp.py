"""Regression (reviews/reliability.md D10): a validly signed JWT with an out-of-range `exp` (1e20, 1e300,
2**63) gave 500 (OverflowError when the replay record's expiry was computed); it is a normal token: the
replay record needs only to outlive the maximum token age."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.service.support import ISSUER, make_token, public_jwk


@pytest.mark.parametrize("exp", [10**20, 1e300, 2**63])
def test_absurd_exp_is_no_500(make_client: Any, rsa_key: Any, exp: float) -> None:
    client = make_client(auth="on", auth_issuers={ISSUER: {"jwks": {"keys": [public_jwk(rsa_key, "k1")]}}})
    token = make_token(rsa_key, exp=exp)
    response = client.get("/cds-services", headers={"authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401)
    replay = client.get("/cds-services", headers={"authorization": f"Bearer {token}"})
    assert replay.status_code == 401
