"""Regressions: malformed inputs that answered 500 or held the service (reviews/reliability.md D1, D2, D10,
D11). Each sends the reproducing input to the real engine (hypertension pack) through the app, and the
same bundle to `cdss evaluate`: a 400/422 OperationOutcome naming the field, exit code 2 on the CLI."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import cdss
from cdss.cli import _register
from cdss.cli import app as cli_app
from cdss.vocab import units
from service.deps import Engine
from tests.conftest import load_bundle
from tests.unit.service.support import open_client

FHIR = {"content-type": "application/fhir+json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, registry: Any) -> Iterator[TestClient]:
    with open_client(tmp_path_factory.mktemp("data"), engine=Engine(registry, cdss.evaluate)) as c:
        yield c


def _bundle() -> dict[str, Any]:
    return copy.deepcopy(load_bundle("htn-emergency.json"))


def _index(bundle: dict[str, Any], rtype: str) -> int:
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == rtype)


def _quantity(bundle: dict[str, Any]) -> tuple[dict[str, Any], str]:
    i = _index(bundle, "Observation")
    res = bundle["entry"][i]["resource"]
    if "valueQuantity" in res:
        return res["valueQuantity"], f"Bundle.entry[{i}].resource.valueQuantity"
    return res["component"][0]["valueQuantity"], f"Bundle.entry[{i}].resource.component[0].valueQuantity"


def _raw(bundle: dict[str, Any], marker: str, replacement: str) -> bytes:
    """The bundle as JSON with a marker string replaced by raw JSON text (what json.dumps cannot write)."""
    return json.dumps(bundle).replace(json.dumps(marker), replacement).encode()


def _post(client: TestClient, body: bytes | dict[str, Any]) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/fhir/$evaluate", content=data, headers=FHIR)


def _expression(response: Any) -> list[str]:
    return [e for issue in response.json()["issue"] for e in issue.get("expression", ())]


def test_observation_status_list_is_422_at_its_path(client: TestClient) -> None:
    bundle = _bundle()
    i = _index(bundle, "Observation")
    bundle["entry"][i]["resource"]["status"] = ["final"]
    response = _post(client, bundle)
    assert response.status_code == 422
    assert _expression(response) == [f"Bundle.entry[{i}].resource.status"]


@pytest.mark.parametrize("key", ["verificationStatus", "clinicalStatus"])
def test_condition_status_coding_number_is_422(client: TestClient, key: str) -> None:
    bundle = _bundle()
    i = _index(bundle, "Condition")
    bundle["entry"][i]["resource"][key] = {"coding": 5}
    response = _post(client, bundle)
    assert response.status_code == 422
    assert _expression(response) == [f"Bundle.entry[{i}].resource.{key}.coding"]


def test_allergy_clinical_status_coding_number_is_422(client: TestClient) -> None:
    bundle = _bundle()
    bundle["entry"].append({"resource": {"resourceType": "AllergyIntolerance", "id": "a1",
                                         "clinicalStatus": {"coding": 5}}})
    response = _post(client, bundle)
    assert response.status_code == 422
    assert _expression(response) == [f"Bundle.entry[{len(bundle['entry']) - 1}].resource.clinicalStatus.coding"]


@pytest.mark.parametrize("digits", [400, 5000])
def test_huge_integer_value_is_400(client: TestClient, digits: int) -> None:
    bundle = _bundle()
    quantity, _ = _quantity(bundle)
    quantity["value"] = "MARK"
    response = _post(client, _raw(bundle, "MARK", "9" * digits))
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["issue"][0]["diagnostics"]


def test_huge_integer_in_a_parsed_bundle_is_an_intake_error(registry: Any) -> None:
    """The same number reaching read_bundle as a Python int (a caller that parsed it itself)."""
    bundle = _bundle()
    quantity, path = _quantity(bundle)
    quantity["value"] = int("9" * 400)
    with pytest.raises(cdss.IntakeError) as info:
        cdss.evaluate(bundle, now=cdss_now(), registry=registry)
    assert info.value.problems[0].field == f"{path}.value"


def cdss_now() -> Any:
    from tests.conftest import NOW

    return NOW


def test_parameters_with_a_number_for_parameter_is_422(client: TestClient) -> None:
    response = _post(client, {"resourceType": "Parameters", "parameter": 5})
    assert response.status_code == 422
    assert _expression(response) == ["Parameters.parameter"]


def test_lone_surrogate_patient_id_is_400(client: TestClient) -> None:
    bundle = _bundle()
    bundle["entry"][_index(bundle, "Patient")]["resource"]["id"] = "MARK"
    response = _post(client, _raw(bundle, "MARK", '"\\udc00"'))
    assert response.status_code == 400


def test_lone_surrogate_id_in_a_parsed_bundle_is_an_intake_error(registry: Any) -> None:
    bundle = _bundle()
    i = _index(bundle, "Patient")
    bundle["entry"][i]["resource"]["id"] = "\udc00"
    with pytest.raises(cdss.IntakeError) as info:
        cdss.evaluate(bundle, now=cdss_now(), registry=registry)
    assert info.value.problems[0].field == f"Bundle.entry[{i}].resource.id"


def test_status_list_on_the_cds_hooks_path_is_422(client: TestClient) -> None:
    call = json.loads((Path(__file__).parents[1] / "fixtures" / "hooks" /
                       "patient-view-emergency.json").read_text(encoding="utf-8"))
    call["prefetch"]["observations"]["entry"][0]["resource"]["status"] = ["final"]
    response = client.post("/cds-services/cdss-patient-view", json=call)
    assert response.status_code == 422
    assert _expression(response)[0].endswith(".resource.status")


@pytest.mark.parametrize("code", ["/m" * 50_000, "(" * 10_000 + "m" + ")" * 10_000, "((((m))))"])
def test_pathological_unit_is_422_without_parsing(client: TestClient, code: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    monkeypatch.setattr(units, "_parser", lambda: parsed.append("x") or pytest.fail("the unit was parsed"))
    bundle = _bundle()
    quantity, path = _quantity(bundle)
    quantity["code"] = code
    response = _post(client, bundle)
    assert response.status_code == 422
    assert _expression(response) == [f"{path}.code"]
    assert parsed == []


def test_unit_parsing_holds_no_lock() -> None:
    """Parsing happens outside the module lock: a request with a new unit never waits for another's parse."""
    seen: list[bool] = []
    real = units._parser

    def spy():  # noqa: ANN202
        seen.append(units._lock.locked())
        return real()

    units._pint_unit.cache_clear()
    try:
        units._parser, original = spy, units._parser
        units._pint_unit("mmol/L")
    finally:
        units._parser = original
    assert seen == [False]


@pytest.mark.parametrize("mutate", ["status-list", "coding-number"])
def test_cli_exits_2(tmp_path: Path, mutate: str) -> None:
    bundle = _bundle()
    if mutate == "status-list":
        bundle["entry"][_index(bundle, "Observation")]["resource"]["status"] = ["final"]
    else:
        bundle["entry"][_index(bundle, "Condition")]["resource"]["verificationStatus"] = {"coding": 5}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    _register()
    result = CliRunner().invoke(cli_app, ["evaluate", str(path), "--now", "2026-11-22T09:00:00+08:00"])
    assert result.exit_code == 2
    assert "Bundle.entry[" in result.output


def test_a_500_does_not_reset_the_connection_or_log_twice(tmp_path: Path, registry: Any,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(message)

    message = "Patient/" + "secret-id in the message"

    with open_client(tmp_path, engine=Engine(registry, broken)) as c:
        first = _post(c, _bundle())
        second = c.get("/healthz")
    assert first.status_code == 500
    assert first.json()["issue"][0]["code"] == "exception"
    assert second.status_code == 200
    incidents = [r for r in caplog.records if "incident" in r.getMessage()]
    assert len(incidents) == 1
    assert "secret-id" not in caplog.text


def test_too_many_prefetched_resources_are_refused_before_merging(make_client: Any) -> None:
    """reliability.md §7: 10k entries through the hook were refused only after 11.8 s of copying."""
    client = make_client(max_resources=10)
    call = json.loads((Path(__file__).parents[1] / "fixtures" / "hooks" /
                       "patient-view-emergency.json").read_text(encoding="utf-8"))
    entry = call["prefetch"]["observations"]["entry"][0]
    call["prefetch"]["observations"]["entry"] = [entry] * 21
    response = client.post("/cds-services/cdss-patient-view", json=call)
    assert response.status_code == 413
    assert response.json()["issue"][0]["expression"] == ["prefetch"]


def test_prefetched_bundle_whose_entry_is_not_a_list_is_422(client: TestClient) -> None:
    """Found by the structural-mutation property: `entry: true` in a prefetched Bundle answered 500."""
    call = json.loads((Path(__file__).parents[1] / "fixtures" / "hooks" /
                       "patient-view-emergency.json").read_text(encoding="utf-8"))
    call["prefetch"]["observations"]["entry"] = True
    response = client.post("/cds-services/cdss-patient-view", json=call)
    assert response.status_code == 422
    assert _expression(response) == ["Bundle.entry"]
