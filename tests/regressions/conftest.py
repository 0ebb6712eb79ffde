"""Fixtures of the regression tests: the service fixtures (app factory, stub FHIR server, keys)."""

from tests.unit.service.conftest import client, ec_key, fhir_stub, make_client, rsa_key  # noqa: F401
