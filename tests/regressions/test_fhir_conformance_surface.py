"""Regression (reviews/conformance.md §2.3 item 9): `GET /fhir/metadata` answered 404, `$evaluate` had no
OperationDefinition, and packs had no FHIR PlanDefinition form."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationdefinition import OperationDefinition
from fhir.resources.R4B.plandefinition import PlanDefinition

import cdss
from service.deps import Engine
from tests.unit.service.support import open_client


def test_metadata_and_operation_definition(client: Any) -> None:
    capability = client.get("/fhir/metadata")
    assert capability.status_code == 200
    assert capability.headers["content-type"].startswith("application/fhir+json")
    CapabilityStatement.model_validate(capability.json())
    (operation,) = capability.json()["rest"][0]["operation"]
    definition = client.get("/fhir/OperationDefinition/evaluate").json()
    OperationDefinition.model_validate(definition)
    assert definition["url"] == operation["definition"] and definition["code"] == "evaluate"


def test_pack_as_plan_definition(tmp_path: Any, registry: Any) -> None:
    with open_client(tmp_path, engine=Engine(registry, cdss.evaluate)) as client:
        response = client.get("/packs/htn-community/PlanDefinition")
        missing = client.get("/packs/nope/PlanDefinition")
        wrong = client.get("/packs/htn-community/PlanDefinition?version=9.9.9")
    assert response.status_code == 200
    plan = response.json()
    PlanDefinition.model_validate(plan)
    pack = registry.versions("htn-community")[0]
    assert plan["version"] == pack.version and len(plan["action"]) == len(pack.rules)
    assert all(a["condition"][0]["expression"]["language"] == "text/x-cdss-rule" for a in plan["action"])
    assert (missing.status_code, wrong.status_code) == (404, 404)
