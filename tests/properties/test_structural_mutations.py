"""Property: a valid bundle broken structurally (a wrong JSON type at any path) is refused cleanly.

`read_bundle` and the engine raise nothing but IntakeError; the service answers no 5xx, on `$evaluate`
and on the CDS Hooks path (reviews/reliability.md D2: schemathesis never sends realistic FHIR)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cdss
from cdss.errors import IntakeError
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import load_registry
from cdss.testing.mutations import Mutation, fhir_path, json_paths, mutated_bundles
from service.deps import Engine
from tests.conftest import NOW, ROOT, load_bundle
from tests.unit.service.support import open_client

REGISTRY = load_registry([ROOT / "pathways" / "htn-community", ROOT / "pathways" / "medication-safety"],
                         bundled=False)
SOURCES = [load_bundle(name) for name in ("htn-emergency.json", "htn-new-diagnosis.json", "htn-controlled.json")]
SOURCES.append(json.loads((ROOT / "pathways" / "medication-safety" / "cases" / "bundles" /
                           "draft-amoxicillin-penicillin-allergy.json").read_text(encoding="utf-8")))
HOOK = json.loads((ROOT / "tests" / "fixtures" / "hooks" / "patient-view-emergency.json").read_text(encoding="utf-8"))

any_mutation = st.sampled_from(SOURCES).flatmap(lambda b: mutated_bundles(b, max_changes=2))
json_mutation = st.sampled_from(SOURCES).flatmap(lambda b: mutated_bundles(b, json_safe=True))


def test_paths_cover_every_value() -> None:
    paths = list(json_paths({"a": [1, {"b": 2}]}))
    assert paths == [("a",), ("a", 0), ("a", 1), ("a", 1, "b")]
    assert fhir_path(("entry", 0, "resource", "id")) == "Bundle.entry[0].resource.id"


@settings(max_examples=300, deadline=None)
@given(any_mutation)
def test_read_bundle_and_the_engine_raise_only_intake_errors(case: Mutation) -> None:
    try:
        read_bundle(case.bundle, REGISTRY.concepts)
        cdss.evaluate(case.bundle, now=NOW, registry=REGISTRY)
    except IntakeError as exc:
        assert all(p.code for p in exc.problems)
        str(exc).encode("utf-8")  # the message itself is printable


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with open_client(tmp_path_factory.mktemp("data"), engine=Engine(REGISTRY, cdss.evaluate)) as c:
        yield c


def _body(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_mutation)
def test_evaluate_answers_no_5xx(client: TestClient, case: Mutation) -> None:
    response = client.post("/fhir/$evaluate", content=_body(case.bundle),
                           headers={"content-type": "application/fhir+json"})
    assert response.status_code < 500, (case, response.text)
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_bundles(HOOK, json_safe=True))
def test_cds_hooks_answers_no_5xx(client: TestClient, case: Mutation) -> None:
    response = client.post("/cds-services/cdss-patient-view", content=_body(case.bundle),
                           headers={"content-type": "application/json"})
    assert response.status_code < 500, (case, response.text)


def test_source_bundles_are_valid(client: TestClient) -> None:
    for bundle in SOURCES:
        assert client.post("/fhir/$evaluate", content=_body(bundle),
                           headers={"content-type": "application/fhir+json"}).status_code == 200
    assert Path(__file__).is_file()
