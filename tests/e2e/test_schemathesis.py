"""Property-based API test: schemathesis generates requests from the app's own OpenAPI document; no
generated request may give a server error (5xx). Bounded and derandomised: same examples on every run."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from service.app import create_app
from service.settings import Settings
from tests.unit.service.support import BASE_URL, NOW, FhirStub

EXAMPLES_PER_OPERATION = 10

# Built at import (create_app does no I/O); the database and the packs are opened by the lifespan below.
DATA = Path(tempfile.gettempdir()) / f"cdss-schemathesis-{uuid.uuid4().hex}"
APP = create_app(Settings(data_dir=DATA, base_url=BASE_URL, auth="off", database_url=None,
                          max_body_bytes=200_000),
                 http_transport=httpx.MockTransport(FhirStub().handler), clock=lambda: NOW)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # One running app for every case (schemathesis' own ASGI transport would restart the lifespan, and so
    # reload the packs, for each request).
    with TestClient(APP, raise_server_exceptions=False) as running:
        yield running


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_gives_a_server_error(case: schemathesis.Case, client: TestClient) -> None:
    kwargs = case.as_transport_kwargs()
    kwargs.pop("cookies", None)
    if "data" in kwargs:
        kwargs["content"] = kwargs.pop("data")
    response = client.request(**kwargs)
    case.validate_response(response, checks=[not_a_server_error])
