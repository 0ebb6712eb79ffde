"""Fixtures of the service tests: the app on a temporary data folder with a fixed clock, a stub FHIR
server and the stand-in evaluate of support.py; generated RSA and EC keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from service.app import create_app
from service.deps import Engine
from service.settings import Settings
from tests.unit.service.support import BASE_URL, NOW, FhirStub, fake_evaluate


@pytest.fixture()
def fhir_stub() -> FhirStub:
    return FhirStub()


@pytest.fixture()
def make_client(tmp_path: Path, registry: Any, fhir_stub: FhirStub) -> Iterator[Callable[..., TestClient]]:
    """Build the app (auth off unless settings say otherwise) and enter its lifespan."""
    clients: list[TestClient] = []

    def make(evaluate: Callable[..., Any] = fake_evaluate, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {"data_dir": tmp_path / "data", "base_url": BASE_URL, "auth": "off",
                                  "database_url": None}
        values.update(overrides)
        app = create_app(Settings(**values), engine=Engine(registry, evaluate),
                         http_transport=httpx.MockTransport(fhir_stub.handler), clock=lambda: NOW)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture()
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


