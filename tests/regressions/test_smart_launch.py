"""Regression (issue 16, "links of type smart to launch the panel" and "a SMART on FHIR launch from the EHR";
reviews/conformance.md §1.5 "links type smart: M, no SMART app").

An in-process fake EHR (authorization server + FHIR server behind httpx.MockTransport, no network) runs
the SMART App Launch v2 EHR launch: discovery, authorize with PKCE S256 and state, the code exchange
(the verifier must match the challenge), the patient's data by the prefetch searches with the token, the
evaluation, and the redirect to the signed panel link. Each failure is a Chinese-first page, never a 500.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from service.routes.cds_hooks import PREFETCH
from service.smart import COOKIE
from tests.unit.service.support import BASE_URL, load_hook

ISS = "https://ehr.test/fhir"
CLIENT_ID = "cdss-panel"
SMART_CONFIG = {"authorization_endpoint": "https://ehr.test/auth/authorize",
                "token_endpoint": "https://ehr.test/auth/token",
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-ehr", "client-public", "context-ehr-patient"]}


class FakeEhr:
    """Authorization server and FHIR server of one EHR, answering from memory and recording calls."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = dict(SMART_CONFIG)
        self.challenge: str | None = None
        self.code = "code-123"
        self.token_answer: tuple[int, dict[str, Any]] = (200, {
            "access_token": "at-xyz", "token_type": "Bearer", "expires_in": 300, "scope": "launch patient/*.rs",
            "patient": "htn-1"})
        self.requests: list[httpx.Request] = []
        self.fhir: dict[str, Any] = {}
        prefetch = load_hook("patient-view-emergency.json")["prefetch"]
        for key, template in PREFETCH.items():
            url = str(httpx.URL(f"{ISS}/{template.replace('{{context.patientId}}', 'htn-1')}"))
            self.fhir[url] = prefetch.get(key) or {"resourceType": "Bundle", "type": "searchset", "total": 0}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url == f"{ISS}/.well-known/smart-configuration":
            return httpx.Response(200, json=self.config)
        if url == SMART_CONFIG["token_endpoint"] and request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            verifier = form.get("code_verifier", "")
            s256 = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (form.get("grant_type") != "authorization_code" or form.get("code") != self.code
                    or form.get("client_id") != CLIENT_ID or s256 != self.challenge
                    or form.get("redirect_uri") != f"{BASE_URL}/smart/callback"):
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(self.token_answer[0], json=self.token_answer[1])
        if url in self.fhir:
            if request.headers.get("authorization") != "Bearer at-xyz":
                return httpx.Response(401)
            return httpx.Response(200, json=self.fhir[url])
        raise httpx.ConnectError("unreachable", request=request)


@pytest.fixture()
def ehr() -> FakeEhr:
    return FakeEhr()


@pytest.fixture()
def smart_client(make_client: Any, fhir_stub: Any, ehr: FakeEhr) -> Any:
    fhir_stub.handler = ehr.handler  # the app's MockTransport calls fhir_stub.handler
    return _client(make_client)


def _client(make_client: Any, **settings: Any) -> Any:
    client = make_client(smart_client_id=CLIENT_ID, smart_issuers=[ISS], **settings)

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    client.app.state.resolver = public
    return client


def _launch(client: Any, ehr: FakeEhr, iss: str = ISS) -> tuple[dict[str, str], str]:
    response = client.get("/smart/launch", params={"iss": iss, "launch": "launch-abc"}, follow_redirects=False)
    assert response.status_code == 302, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == SMART_CONFIG["authorization_endpoint"]
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    ehr.challenge = query["code_challenge"]
    cookie = response.cookies.get(COOKIE)
    assert cookie
    return query, cookie


def _callback(client: Any, cookie: str | None, **params: str) -> Any:
    headers = {"cookie": f"{COOKIE}={cookie}"} if cookie else {}
    return client.get("/smart/callback", params=params, headers=headers, follow_redirects=False)


def _assert_error_page(response: Any, status: int, key: str) -> None:
    assert response.status_code == status, response.text
    assert "text/html" in response.headers["content-type"]
    text = response.text
    assert "SMART 启动失败" in text and key in text
    zh_at = text.index('<p lang="zh-CN">')
    assert zh_at < text.index('<p lang="en">')  # Chinese first, English beside


def test_ehr_launch_end_to_end_opens_the_evaluation_page(smart_client: Any, ehr: FakeEhr) -> None:
    query, cookie = _launch(smart_client, ehr)
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["launch"] == "launch-abc" and query["aud"] == ISS
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == f"{BASE_URL}/smart/callback"
    assert "launch" in query["scope"].split()
    response = _callback(smart_client, cookie, code=ehr.code, state=query["state"])
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    assert target.path.startswith("/panel/evaluations/") and target.query.startswith("t=")
    fhir_calls = [r for r in ehr.requests if r.url.path.startswith("/fhir/") and ".well-known" not in r.url.path]
    assert {r.headers["authorization"] for r in fhir_calls} == {"Bearer at-xyz"}
    assert any(r.url.path == "/fhir/Patient/htn-1" for r in fhir_calls)
    page = smart_client.get(f"{target.path}?{target.query}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_with_the_panel_off_the_launch_still_opens_the_page_by_its_signed_link(
        make_client: Any, fhir_stub: Any, ehr: FakeEhr) -> None:
    fhir_stub.handler = ehr.handler
    client = _client(make_client, panel="off")
    query, cookie = _launch(client, ehr)
    target = urlsplit(_callback(client, cookie, code=ehr.code, state=query["state"]).headers["location"])
    assert client.get(f"{target.path}?{target.query}").status_code == 200
    assert client.get(target.path).status_code == 403  # not without the token


def test_state_mismatch_is_refused_and_no_code_is_exchanged(smart_client: Any, ehr: FakeEhr) -> None:
    query, cookie = _launch(smart_client, ehr)
    response = _callback(smart_client, cookie, code=ehr.code, state=query["state"] + "x")
    _assert_error_page(response, 403, "state-mismatch")
    assert not [r for r in ehr.requests if r.url.path == "/auth/token"]


def test_a_callback_without_the_launch_cookie_or_with_a_forged_one_is_refused(smart_client: Any,
                                                                             ehr: FakeEhr) -> None:
    query, cookie = _launch(smart_client, ehr)
    _assert_error_page(_callback(smart_client, None, code=ehr.code, state=query["state"]), 400, "session-expired")
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    _assert_error_page(_callback(smart_client, forged, code=ehr.code, state=query["state"]), 400,
                       "session-expired")


def test_an_issuer_not_allowed_is_never_contacted(smart_client: Any, ehr: FakeEhr) -> None:
    response = smart_client.get("/smart/launch", params={"iss": "https://evil.test/fhir", "launch": "x"},
                                follow_redirects=False)
    _assert_error_page(response, 403, "wrong-issuer")
    assert ehr.requests == []
    _assert_error_page(smart_client.get("/smart/launch", params={"iss": ISS}), 400, "bad-request")


def test_a_token_error_is_a_page(smart_client: Any, ehr: FakeEhr) -> None:
    query, cookie = _launch(smart_client, ehr)
    response = _callback(smart_client, cookie, code="a-wrong-code", state=query["state"])
    _assert_error_page(response, 502, "token-error")
    assert "invalid_grant" in response.text


def test_a_token_without_patient_is_a_page(smart_client: Any, ehr: FakeEhr) -> None:
    ehr.token_answer = (200, {"access_token": "at-xyz", "token_type": "Bearer"})
    query, cookie = _launch(smart_client, ehr)
    _assert_error_page(_callback(smart_client, cookie, code=ehr.code, state=query["state"]), 400, "no-patient")


def test_authorization_denied_by_the_ehr_is_a_page(smart_client: Any, ehr: FakeEhr) -> None:
    query, cookie = _launch(smart_client, ehr)
    response = _callback(smart_client, cookie, error="access_denied", state=query["state"])
    _assert_error_page(response, 403, "authorization-denied")


def test_discovery_without_s256_or_unreachable_is_a_page(smart_client: Any, ehr: FakeEhr) -> None:
    ehr.config["code_challenge_methods_supported"] = ["plain"]
    _assert_error_page(smart_client.get("/smart/launch", params={"iss": ISS, "launch": "x"}), 400, "no-pkce")
    ehr.config = {"authorization_endpoint": "http://ehr.test/auth", "token_endpoint": "https://ehr.test/t",
                  "code_challenge_methods_supported": ["S256"]}
    _assert_error_page(smart_client.get("/smart/launch", params={"iss": ISS, "launch": "x"}), 400,
                       "discovery-failed")  # a plain-http authorization endpoint is refused


def test_fhir_data_that_cannot_be_had_is_a_page(smart_client: Any, ehr: FakeEhr) -> None:
    ehr.fhir.clear()
    query, cookie = _launch(smart_client, ehr)
    _assert_error_page(_callback(smart_client, cookie, code=ehr.code, state=query["state"]), 502,
                       "data-unavailable")


def test_cards_carry_a_smart_link_when_the_launch_is_configured(smart_client: Any, client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    cards = smart_client.post("/cds-services/cdss-patient-view", json=body).json()["cards"]
    smart = [link for link in cards[0]["links"] if link["type"] == "smart"]
    assert smart == [{"label": smart[0]["label"], "type": "smart", "url": f"{BASE_URL}/smart/launch"}]
    plain = client.post("/cds-services/cdss-patient-view", json=body).json()["cards"]
    assert all(link["type"] == "absolute" for card in plain for link in card.get("links", ()))


def test_settings_refuse_a_half_configured_launch(tmp_path: Any) -> None:
    from cdss.errors import ConfigError
    from service.settings import load_settings

    with pytest.raises(ConfigError, match="CDSS_SMART_ISSUERS"):
        load_settings(data_dir=tmp_path, auth="off", smart_client_id="x")
    with pytest.raises(ConfigError, match="CDSS_SMART_CLIENT_ID"):
        load_settings(data_dir=tmp_path, auth="off", smart_issuers=[ISS])
    assert load_settings(data_dir=tmp_path, auth="off", smart_client_id="x", smart_issuers=[ISS]).smart_enabled
