"""Site concept maps over HTTP: loaded from CDSS_CONCEPT_MAPS_DIR, uploaded by an authenticated integrator;
a broken map is refused with an OperationOutcome and the maps in force keep serving."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cdss
from service.deps import Engine
from tests.conftest import FIXTURES
from tests.conftest import NOW as CONFTEST_NOW
from tests.unit.service.support import BASE_URL, ISSUER, make_token, open_client, public_jwk

R4 = FIXTURES / "concept-maps" / "site-map-r4.json"
LOCAL = FIXTURES / "bundles" / "htn-controlled-local-codes.json"
URL = "http://his.example-chc.sh.cn/fhir/ConceptMap/cdss-site-map"
FHIR = "application/fhir+json"


def _doc() -> dict:
    return json.loads(R4.read_text(encoding="utf-8"))


@pytest.fixture()
def maps_dir(tmp_path: Path) -> Path:
    return tmp_path / "maps"


@pytest.fixture()
def secured(tmp_path: Path, registry: Any, rsa_key: Any, maps_dir: Path) -> Iterator[Any]:
    # the evaluation time is after the fixture's readings (the shared service clock is earlier)
    with open_client(tmp_path / "data", engine=Engine(registry, cdss.evaluate), clock=lambda: CONFTEST_NOW,
                     auth="on", concept_maps_dir=maps_dir,
                     auth_issuers={ISSUER: {"jwks": {"keys": [public_jwk(rsa_key, "k1")]}}}) as client:
        yield client


def _auth(key: Any, path: str) -> dict[str, str]:
    return {"authorization": f"Bearer {make_token(key, aud=BASE_URL + path)}", "content-type": FHIR}


def _put(client: Any, key: Any, doc: Any) -> Any:
    return client.put("/concept-maps", content=json.dumps(doc), headers=_auth(key, "/concept-maps"))


def _evaluate(client: Any, key: Any) -> dict:
    response = client.post("/fhir/$evaluate", content=LOCAL.read_bytes(), headers=_auth(key, "/fhir/$evaluate"))
    assert response.status_code == 200, response.text
    return {e["resource"]["resourceType"]: e["resource"] for e in response.json()["entry"]}


def test_upload_puts_the_map_in_force_and_answers_name_it(secured: Any, rsa_key: Any, maps_dir: Path) -> None:
    before = _evaluate(secured, rsa_key)
    assert "OperationOutcome" in before  # the local codes are listed as not understood
    response = _put(secured, rsa_key, _doc())
    assert response.status_code == 200, response.text
    assert response.json()["accepted"]["url"] == URL and response.json()["changed"] is True
    assert [m["version"] for m in secured.get("/concept-maps").json()["concept_maps"]] == ["1.0.0"]
    assert len(list(maps_dir.glob("*.json"))) == 1
    after = _evaluate(secured, rsa_key)
    assert "OperationOutcome" not in after
    notes = [n["text"] for n in after["GuidanceResponse"]["note"]]
    assert any(URL + "|1.0.0" in n for n in notes)
    standard = secured.post("/fhir/$evaluate", content=(FIXTURES / "bundles" / "htn-controlled-loinc-k.json")
                            .read_bytes(), headers=_auth(rsa_key, "/fhir/$evaluate")).json()
    def advice(resources: dict) -> tuple:
        gaps = [n["text"] for n in resources["GuidanceResponse"].get("note", []) if "data gap" in n["text"]]
        return [a["code"] for a in resources["RequestGroup"].get("action", [])], gaps

    standard_resources = {e["resource"]["resourceType"]: e["resource"] for e in standard["entry"]}
    assert advice(after) == advice(standard_resources) != advice(before)


def test_a_broken_map_is_refused_and_the_old_one_keeps_serving(secured: Any, rsa_key: Any, maps_dir: Path) -> None:
    assert _put(secured, rsa_key, _doc()).status_code == 200
    broken = _doc()
    broken["version"] = "1.1.0"
    broken["group"][1]["element"][0]["target"][0]["code"] = "no_such_concept"
    response = _put(secured, rsa_key, broken)
    assert response.status_code == 422
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["ConceptMap.group[1].element[0].target[0].code"]
    assert "unknown-target-concept" in body["issue"][0]["diagnostics"]
    assert [m["version"] for m in secured.get("/concept-maps").json()["concept_maps"]] == ["1.0.0"]
    assert "OperationOutcome" not in _evaluate(secured, rsa_key)  # still mapped by 1.0.0
    assert json.loads(next(maps_dir.glob("*.json")).read_text(encoding="utf-8"))["version"] == "1.0.0"


def test_a_new_version_replaces_the_old_and_same_version_other_content_is_a_conflict(
        secured: Any, rsa_key: Any, maps_dir: Path) -> None:
    assert _put(secured, rsa_key, _doc()).status_code == 200
    assert _put(secured, rsa_key, _doc()).json()["changed"] is False  # same content again: nothing changes
    changed = _doc()
    changed["group"][0]["element"][0]["display"] = "高血压"
    assert _put(secured, rsa_key, changed).status_code == 409
    changed["version"] = "1.1.0"
    assert _put(secured, rsa_key, changed).status_code == 200
    assert [m["version"] for m in secured.get("/concept-maps").json()["concept_maps"]] == ["1.1.0"]
    assert [json.loads(p.read_text(encoding="utf-8"))["version"] for p in maps_dir.glob("*.json")] == ["1.1.0"]


def test_upload_needs_a_token(secured: Any) -> None:
    response = secured.put("/concept-maps", content=json.dumps(_doc()), headers={"content-type": FHIR})
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"


def test_upload_is_refused_while_auth_is_off(make_client: Any) -> None:
    client = make_client(evaluate=cdss.evaluate)
    response = client.put("/concept-maps", content=json.dumps(_doc()), headers={"content-type": FHIR})
    assert response.status_code == 403 and "JWT" in response.json()["issue"][0]["diagnostics"]


def test_maps_in_the_folder_are_loaded_at_start(make_client: Any, maps_dir: Path) -> None:
    maps_dir.mkdir()
    (maps_dir / "site.json").write_text(json.dumps(copy.deepcopy(_doc())), encoding="utf-8")
    client = make_client(evaluate=cdss.evaluate, concept_maps_dir=maps_dir)
    assert [m["url"] for m in client.get("/concept-maps").json()["concept_maps"]] == [URL]
    response = client.post("/fhir/$evaluate", content=LOCAL.read_bytes(), headers={"content-type": FHIR})
    kinds = [e["resource"]["resourceType"] for e in response.json()["entry"]]
    assert "OperationOutcome" not in kinds


@pytest.fixture()
def two_workers(tmp_path: Path, registry: Any, rsa_key: Any, maps_dir: Path) -> Iterator[tuple[Any, Any]]:
    """Two service processes' apps over one maps folder, as `cdss serve --workers 2` runs them."""
    issuers = {ISSUER: {"jwks": {"keys": [public_jwk(rsa_key, "k1")]}}}
    with open_client(tmp_path / "a", engine=Engine(registry, cdss.evaluate), clock=lambda: CONFTEST_NOW,
                     auth="on", concept_maps_dir=maps_dir, auth_issuers=issuers, workers=2) as first, \
            open_client(tmp_path / "b", engine=Engine(registry, cdss.evaluate), clock=lambda: CONFTEST_NOW,
                        auth="on", concept_maps_dir=maps_dir, auth_issuers=issuers, workers=2) as second:
        yield first, second


def test_an_upload_to_one_worker_is_in_force_in_the_other(two_workers: tuple[Any, Any], rsa_key: Any) -> None:
    """Regression: each worker held its own maps, so with 2 workers the same bundle was mapped or not by
    whichever worker took the request."""
    first, second = two_workers
    assert "OperationOutcome" in _evaluate(second, rsa_key)  # the local codes are not understood yet
    assert _put(first, rsa_key, _doc()).status_code == 200
    after = _evaluate(second, rsa_key)
    assert "OperationOutcome" not in after
    assert any(URL + "|1.0.0" in n["text"] for n in after["GuidanceResponse"]["note"])
    assert [m["version"] for m in second.get("/concept-maps").json()["concept_maps"]] == ["1.0.0"]
    newer = _doc()
    newer["version"] = "1.1.0"
    assert _put(second, rsa_key, newer).status_code == 200
    assert [m["version"] for m in first.get("/concept-maps").json()["concept_maps"]] == ["1.1.0"]


def test_each_upload_is_checked_against_what_the_other_worker_put_in_force(
        two_workers: tuple[Any, Any], rsa_key: Any) -> None:
    """Same url and version with other content is a conflict even when the first upload went to the other
    worker (each worker used to check only against its own maps)."""
    first, second = two_workers
    assert _put(first, rsa_key, _doc()).status_code == 200
    changed = _doc()
    changed["group"][0]["element"][0]["display"] = "高血压"
    response = _put(second, rsa_key, changed)
    assert response.status_code == 409 and response.json()["resourceType"] == "OperationOutcome"


def test_a_folder_broken_by_hand_puts_no_map_in_force_in_any_worker(
        two_workers: tuple[Any, Any], rsa_key: Any, maps_dir: Path, caplog: Any) -> None:
    """Every worker serves what the folder loads: a broken folder, none (logged), and each answer lists the
    local codes it did not understand. (Keeping each worker's last maps let workers differ: review.)"""
    first, second = two_workers
    assert _put(first, rsa_key, _doc()).status_code == 200
    assert "OperationOutcome" not in _evaluate(second, rsa_key)
    (maps_dir / "zz-broken.json").write_text("{not json", encoding="utf-8")
    with caplog.at_level("ERROR", logger="cdss.service"):
        for worker in (first, second):
            assert "OperationOutcome" in _evaluate(worker, rsa_key)  # the local codes, listed as not understood
            assert worker.get("/concept-maps").json()["concept_maps"] == []
    assert "no longer load" in caplog.text and "zz-broken.json" in caplog.text
    (maps_dir / "zz-broken.json").unlink()
    for worker in (first, second):
        assert "OperationOutcome" not in _evaluate(worker, rsa_key)  # mapped again by 1.0.0


def test_upload_without_a_folder_is_refused_with_more_than_one_worker(tmp_path: Path, registry: Any,
                                                                      rsa_key: Any) -> None:
    """One worker's memory is not where the other workers look: refused, not served by one worker only."""
    with open_client(tmp_path / "data", engine=Engine(registry, cdss.evaluate), auth="on", workers=2,
                     auth_issuers={ISSUER: {"jwks": {"keys": [public_jwk(rsa_key, "k1")]}}}) as client:
        response = _put(client, rsa_key, _doc())
    assert response.status_code == 403
    assert "CDSS_CONCEPT_MAPS_DIR" in response.json()["issue"][0]["diagnostics"]


def test_no_upload_is_accepted_while_the_folder_does_not_load(two_workers: tuple[Any, Any], rsa_key: Any,
                                                              maps_dir: Path) -> None:
    """Review: a worker whose last look at a broken folder had failed accepted an upload against its own
    memory; the other workers never loaded it (one served 1.1.0, the other 1.0.0, for good). Now both serve
    what the folder loads (nothing, while it is broken) and the upload waits for the folder to be fixed."""
    first, second = two_workers
    assert _put(first, rsa_key, _doc()).status_code == 200
    assert [m["version"] for m in second.get("/concept-maps").json()["concept_maps"]] == ["1.0.0"]
    (maps_dir / "zz-broken.json").write_text("{not json", encoding="utf-8")
    for worker in (first, second):
        assert worker.get("/concept-maps").json()["concept_maps"] == []
    newer = _doc()
    newer["version"] = "1.1.0"
    response = _put(first, rsa_key, newer)
    assert response.status_code == 409 and "zz-broken.json" in response.json()["issue"][0]["diagnostics"]
    for worker in (first, second):  # the same in both, and the refused upload nowhere
        assert worker.get("/concept-maps").json()["concept_maps"] == []
    (maps_dir / "zz-broken.json").unlink()
    assert _put(first, rsa_key, newer).status_code == 200
    assert [m["version"] for m in second.get("/concept-maps").json()["concept_maps"]] == ["1.1.0"]


def test_a_folder_that_disappears_puts_no_map_in_force_and_is_logged(two_workers: tuple[Any, Any], rsa_key: Any,
                                                                      maps_dir: Path, caplog: Any) -> None:
    """Review: removing the folder dropped every site map silently; it is logged, and every worker (a worker
    started afterwards too) serves the same: no site map."""
    first, second = two_workers
    assert _put(first, rsa_key, _doc()).status_code == 200
    assert "OperationOutcome" not in _evaluate(second, rsa_key)
    shutil.rmtree(maps_dir)
    with caplog.at_level("ERROR", logger="cdss.service"):
        assert "OperationOutcome" in _evaluate(second, rsa_key)
    assert "missing or unreadable" in caplog.text
    assert first.get("/concept-maps").json()["concept_maps"] == []


def test_a_folder_whose_maps_conflict_refuses_uploads_with_409(secured: Any, rsa_key: Any, maps_dir: Path) -> None:
    """Two folder files mapping one code (put there by hand): the folder does not load, so an upload is a
    conflict with the folder (409), not a broken upload (review: it answered 422)."""
    assert _put(secured, rsa_key, _doc()).status_code == 200
    twin = _doc()
    twin["url"] = URL + "-copy"
    (maps_dir / "zz-copy.json").write_text(json.dumps(twin), encoding="utf-8")
    newer = _doc()
    newer["version"] = "1.1.0"
    response = _put(secured, rsa_key, newer)
    assert response.status_code == 409
    assert "duplicate-map-source" in response.json()["issue"][0]["diagnostics"]
