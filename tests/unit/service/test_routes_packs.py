"""Packs, catalogue and health endpoints (on the bundled registry)."""

from __future__ import annotations

from typing import Any


def test_packs_lists_versions_with_hashes_and_default(client: Any, registry: Any) -> None:
    response = client.get("/packs")
    assert response.status_code == 200
    packs = {p["id"]: p for p in response.json()["packs"]}
    assert set(packs) == set(registry.packs)
    version = packs["htn-community"]["versions"][0]
    assert len(version["sha256"]) == 64 and version["default"] is True


def test_pack_detail_has_rules_and_404_for_unknown(client: Any) -> None:
    body = client.get("/packs/htn-community").json()
    rules = body["versions"][0]["rules"]
    assert rules and all(r["id"].startswith("htn-community/") for r in rules)
    response = client.get("/packs/nope")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_catalogue_search_filters(client: Any, registry: Any) -> None:
    everything = client.get("/catalogue").json()
    assert everything["total"] == len(registry.catalogue.diseases)
    tcm = client.get("/catalogue", params={"kind": "tcm"}).json()
    assert tcm["total"] and all(e["kind"] == "tcm" for e in tcm["entries"])
    found = client.get("/catalogue", params={"q": "高血压"}).json()
    assert any(e["id"] == "hypertension" for e in found["entries"])
    assert client.get("/catalogue/hypertension").json()["code"] == "I10"
    assert client.get("/catalogue/nope").status_code == 404
    assert client.get("/catalogue", params={"kind": "other"}).status_code == 422


def test_catalogue_as_fhir_code_system_and_value_set(client: Any, registry: Any) -> None:
    cid = registry.catalogue.id
    cs = client.get(f"/fhir/CodeSystem/{cid}")
    assert cs.status_code == 200 and cs.json()["count"] == len(registry.catalogue.diseases)
    vs = client.get(f"/fhir/ValueSet/{cid}-western")
    assert vs.status_code == 200 and vs.json()["resourceType"] == "ValueSet"
    assert client.get("/fhir/ValueSet/nope").status_code == 404


def test_healthz_ready(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"
    assert "htn-community@1.3.0" in response.json()["packs"]
