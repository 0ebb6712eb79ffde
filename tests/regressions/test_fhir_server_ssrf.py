"""Regression (reviews/reliability.md D5): `fhirServer` was fetched for any caller-named URL, loopback
and the service itself included, over plain http, with the token attached; no total deadline (a server
sending a byte every 2 s held a call 40 s) and no size limit (100 MB accepted)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from service.outbound import Refused, check_url
from service.prefetch import gather
from service.routes.cds_hooks import PREFETCH
from tests.unit.service.support import BASE_URL, load_hook


def _call(server: str) -> dict[str, Any]:
    body = load_hook("patient-view-fetch.json")
    body["fhirServer"] = server
    body["fhirAuthorization"] = {"access_token": "SECRET-EHR-TOKEN", "token_type": "Bearer", "expires_in": 300}
    body.pop("prefetch", None)
    return body


@pytest.mark.parametrize("server", [
    "http://127.0.0.1:9/fhir", "https://127.0.0.1/fhir", "https://[::1]/fhir", "https://localhost/fhir",
    "https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/fhir", "http://ehr.example.org/fhir",
    f"{BASE_URL}/fhir", "https://0.0.0.0/fhir",
])
def test_forbidden_fhir_servers_are_400_and_never_called(make_client: Any, fhir_stub: Any, server: str) -> None:
    client = make_client()
    response = client.post("/cds-services/cdss-patient-view", json=_call(server))
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == ["fhirServer"]
    assert fhir_stub.requests == []


def test_a_name_resolving_to_loopback_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with pytest.raises(Refused, match="loopback"):
        asyncio.run(check_url("https://rebind.example/fhir", allowlist=(), resolver=resolver))


def test_an_allowlisted_host_may_be_http_and_local() -> None:
    asyncio.run(check_url("http://127.0.0.1:8080/fhir", allowlist=("127.0.0.1:8080",)))
    asyncio.run(check_url("http://localhost:8080/fhir", allowlist=("localhost",)))


def test_the_deadline_bounds_the_whole_fetch() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # a server that never answers: the deadline cancels the wait
        return httpx.Response(200, json={})

    async def run() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
            return await gather(_call("https://ehr.example.org/fhir"), PREFETCH, http=http, timeout_s=0.05,
                                max_pages=10, max_resources=5000, resolver=_nowhere)

    with pytest.raises(Exception) as info:
        asyncio.run(run())
    assert getattr(info.value, "status", None) == 412
    assert "in total" in str(info.value)


async def _nowhere(host: str, port: int) -> list[str]:
    return []


def test_an_answer_over_the_size_limit_is_412() -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"resourceType": "Bundle", "x": "' + b"a" * 5000 + b'"}')

    async def run() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(big)) as http:
            return await gather(_call("https://ehr.example.org/fhir"), PREFETCH, http=http, timeout_s=5,
                                max_pages=10, max_resources=5000, max_bytes=1024, resolver=_nowhere)

    with pytest.raises(Exception) as info:
        asyncio.run(run())
    assert getattr(info.value, "status", None) == 412
    assert "CDSS_FHIR_MAX_BYTES" in str(info.value)
