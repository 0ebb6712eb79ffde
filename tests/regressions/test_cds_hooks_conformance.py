"""Regressions (reviews/conformance.md §0 items 5, 6, 8, 9; §1.2): order-select alerted on drafts outside
`context.selections`; REQUIRED context fields were not checked; `expires_in: 3600.45` refused the call;
no CORS; a data-gap card on order-sign for an unrelated rule; the source year printed twice and source
URLs not percent-encoded."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdss.render.cds_hooks import render_cards
from cdss.render.sources import uri, with_year
from tests.unit.service.support import NOW, fake_evaluate, load_hook


def _order_select() -> dict[str, Any]:
    body = copy.deepcopy(load_hook("order-sign-draft.json"))
    body["hook"] = "order-select"
    other = copy.deepcopy(body["context"]["draftOrders"]["entry"][0])
    other["resource"]["id"] = "draft-rx-2"
    body["context"]["draftOrders"]["entry"].append(other)
    body["context"]["selections"] = ["MedicationRequest/draft-rx-2"]
    return body


def _draft_cards(response: Any) -> set[str]:
    return {a["resourceId"] for c in response.json()["cards"] for s in c.get("suggestions", ())
            for a in s["actions"] if a["type"] == "delete"}


def test_order_select_checks_only_the_selections(client: Any) -> None:
    response = client.post("/cds-services/cdss-order-select", json=_order_select())
    assert response.status_code == 200, response.text
    assert _draft_cards(response) == {"MedicationRequest/draft-rx-2"}


@pytest.mark.parametrize(("service", "field"), [
    ("cdss-order-select", "selections"), ("cdss-order-select", "draftOrders"), ("cdss-order-select", "userId"),
    ("cdss-order-sign", "draftOrders"), ("cdss-patient-view", "userId"), ("cdss-patient-view", "patientId"),
])
def test_required_context_fields_are_400(client: Any, service: str, field: str) -> None:
    body = _order_select() if service == "cdss-order-select" else copy.deepcopy(
        load_hook("order-sign-draft.json" if service == "cdss-order-sign" else "patient-view-emergency.json"))
    body["context"].pop(field)
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == [f"context.{field}"]


@pytest.mark.parametrize("expires_in", [3600, 3600.45, 0])
def test_expires_in_is_any_json_number(client: Any, fhir_stub: Any, expires_in: float) -> None:
    body = load_hook("patient-view-emergency.json")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": expires_in}
    assert client.post("/cds-services/cdss-patient-view", json=body).status_code == 200


def test_fhir_authorization_without_fhir_server_is_400(client: Any) -> None:
    body = load_hook("patient-view-emergency.json")
    body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 300}
    response = client.post("/cds-services/cdss-patient-view", json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["fhirServer"]


def test_cors_preflight_from_an_allowed_origin(make_client: Any) -> None:
    client = make_client(cors_origins=("https://sandbox.cds-hooks.org",))
    headers = {"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type,authorization"}
    response = client.options("/cds-services/cdss-patient-view", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
    evil = client.options("/cds-services/cdss-patient-view", headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    assert client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"}) \
        .headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"


def test_no_cors_headers_without_the_setting(client: Any) -> None:
    response = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert "access-control-allow-origin" not in response.headers


def test_order_sign_gets_no_gap_card_for_other_advice(registry: Any) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}]}
    evaluation = fake_evaluate(bundle, now=NOW, registry=registry)
    assert evaluation.data_gaps  # a referral rule waits for a blood pressure
    patient_view = render_cards(evaluation, hook_instance="h", panel_url=None)
    order_sign = render_cards(evaluation, hook_instance="h", panel_url=None, gap_kinds=frozenset({"medication"}))
    assert len([c for c in patient_view.body["cards"] if c["summary"].startswith("缺少")]) == 1
    assert order_sign.body["cards"] == []


def test_the_year_is_printed_once_and_urls_are_uris() -> None:
    assert with_year("国家基层高血压防治管理指南（2017）", 2017) == "国家基层高血压防治管理指南（2017）"
    assert with_year("测试指南", 2020) == "测试指南（2020）"
    assert uri("https://cmab.yiigle.com/uploads/guide_html/中国成人社区获得性肺炎诊断和治疗指南(2016年版).html") == (
        "https://cmab.yiigle.com/uploads/guide_html/%E4%B8%AD%E5%9B%BD%E6%88%90%E4%BA%BA%E7%A4%BE%E5%8C%BA"
        "%E8%8E%B7%E5%BE%97%E6%80%A7%E8%82%BA%E7%82%8E%E8%AF%8A%E6%96%AD%E5%92%8C%E6%B2%BB%E7%96%97%E6%8C%87"
        "%E5%8D%97(2016%E5%B9%B4%E7%89%88).html")
    assert uri("https://a.example/x%20y?q=1#f") == "https://a.example/x%20y?q=1#f"
