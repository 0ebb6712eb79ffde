"""The clinician panel end to end through the real app, engine and bundled packs (TestClient): every page and
every error path. The browser checks (layout, keyboard, fonts) are in test_panel_browser.py."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import cdss
from cdss.packs.registry import load_registry
from service.deps import Engine
from tests.unit.service.support import BASE_URL, load_hook, open_client

SAMPLES = Path(__file__).resolve().parents[2] / "service" / "static" / "samples"
EMERGENCY = "htn-emergency"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry_two_versions(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled packs plus a draft htn-community@9.0.0-test whose first referral threshold on sbp >= 180 is
    raised to 185 (so that the diff has a changed rule)."""
    root = tmp_path_factory.mktemp("packs")
    src = Path(str(cdss.load_registry().versions("htn-community")[0].path))
    dst = root / "htn-community-next"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("cases"))
    meta = (dst / "pack.yaml").read_text(encoding="utf-8")
    meta = re.sub(r"(?m)^version: .*$", "version: 9.0.0-test", meta)
    meta = re.sub(r"(?m)^status: .*$", "status: draft", meta)
    (dst / "pack.yaml").write_text(meta, encoding="utf-8")
    referral = dst / "rules" / "referral.yaml"
    text = referral.read_text(encoding="utf-8")
    text = text.replace("{concept: sbp, op: \">=\", value: 180", "{concept: sbp, op: \">=\", value: 185", 1)
    referral.write_text(text, encoding="utf-8")
    return load_registry([root])


@pytest.fixture(scope="module")
def engine(registry_two_versions: Any) -> Engine:
    return Engine(registry_two_versions, cdss.evaluate)


@pytest.fixture()
def client(tmp_path: Path, engine: Engine) -> Iterator[TestClient]:
    with open_client(tmp_path, engine=engine) as c:
        yield c


def csrf(client: TestClient) -> str:
    page = client.get("/panel/")
    assert page.status_code == 200, page.text
    token = client.cookies.get("cdss_panel_csrf")
    assert token and f'name="csrf" value="{token}"' in page.text
    return token


def post(client: TestClient, **fields: Any) -> Any:
    files = fields.pop("files", None)
    data = {"csrf": csrf(client), **fields}
    return client.post("/panel/evaluate", data=data, files=files, follow_redirects=False)


def evaluate_sample(client: TestClient, name: str = EMERGENCY, **fields: Any) -> tuple[str, str]:
    response = post(client, sample=name, **fields)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    page = client.get(location)
    assert page.status_code == 200, page.text
    return location, page.text


def errors_of(html: str) -> str:
    match = re.search(r'<section class="errors".*?</section>', html, re.S)
    assert match, html[:3000]
    return unescape(match.group(0))


# --- evaluate form --------------------------------------------------------------------------------------
def test_panel_evaluate_form_lists_samples_and_pack_versions(client: TestClient, engine: Engine) -> None:
    page = client.get("/panel/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "samesite=strict" in page.headers["set-cookie"].lower()
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))
    for entry in index["samples"]:
        assert entry["title"]["zh"] in page.text
    for pack in engine.registry.all():
        assert f'value="{pack.key}"' in page.text
    assert 'method="post" action="/panel/evaluate"' in page.text


def test_panel_root_without_slash_redirects(client: TestClient) -> None:
    response = client.get("/panel", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/panel/")


def test_panel_evaluate_is_post_only(client: TestClient) -> None:
    assert client.get("/panel/evaluate").status_code == 405


# --- advice and rationale --------------------------------------------------------------------------------
def test_panel_emergency_sample_shows_emergency_first_with_facts_citation_and_permalink(
        client: TestClient, engine: Engine) -> None:
    bundle = sample(EMERGENCY)
    expected = cdss.evaluate(bundle, now=dt.datetime.fromisoformat(bundle["timestamp"]),
                             registry=engine.registry)
    location, html = evaluate_sample(client)
    assert location == f"/panel/evaluations/{expected.id}"
    first = expected.suggestions[0]
    assert first.urgency == "emergency"
    cards = re.findall(r'<article class="card urgency-(\w+)" id="([0-9a-f]+)"', html)
    assert cards[0] == ("emergency", first.id)
    assert [u for u, _ in cards] == [s.urgency for s in expected.suggestions]
    groups = re.findall(r'<section class="group urgency-(\w+)"', html)
    assert groups[0] == "emergency" and groups == sorted(set(groups), key=groups.index)
    assert html.index('class="alert-emergency"') < html.index('id="group-emergency"')  # the banner comes first
    card = html[html.index(f'id="{first.id}"'):]
    card = card[:card.index("</article>")]
    for fact in first.facts():
        assert any(src in card for src in fact.source)
        if isinstance(fact.value, float):
            assert f"{fact.value:g}" in card
    assert first.citations[0].title in unescape(card)
    assert f"evidence-{first.evidence}" in card
    assert first.rule_id in card and f"{first.pack_id}@{first.pack_version}" in card
    assert f'href="/panel/evaluations/{expected.id}#{first.id}"' in card


def test_panel_evaluation_is_stored_and_readable_from_storage(client: TestClient) -> None:
    location, _ = evaluate_sample(client)
    evaluation_id = location.rsplit("/", 1)[1]
    storage = client.app.state.storage
    rows = storage.evaluations(evaluation_id=evaluation_id)
    assert rows and rows[0]["channel"] == "panel"
    client.app.state.panel_memory = None  # as another worker would see it: storage only
    page = client.get(location)
    assert page.status_code == 200
    assert "原始数据未保留" in page.text  # trends from the cited values only, and said so
    assert "<svg" in page.text


def test_panel_cds_hooks_card_link_opens_the_rationale(client: TestClient) -> None:
    response = client.post("/cds-services/cdss-patient-view", json=load_hook("patient-view-emergency.json"))
    assert response.status_code == 200, response.text
    links = [link["url"] for card in response.json()["cards"] for link in card.get("links", ())]
    assert links
    for url in links:
        assert url.startswith(BASE_URL + "/panel/evaluations/")
        path, _, anchor = url[len(BASE_URL):].partition("#")
        page = client.get(path)
        assert page.status_code == 200, page.text
        assert f'id="{anchor}"' in page.text


def test_panel_english_toggle(client: TestClient) -> None:
    location, html = evaluate_sample(client)
    assert '<html lang="zh-CN">' in html and "紧急" in html
    assert f'href="{location}?lang=en"' in html
    english = client.get(location + "?lang=en").text
    assert '<html lang="en">' in english
    assert "Emergency" in english and ">Advice</h1>" in english
    title_en = re.search(r'<h3 id="title-[0-9a-f]+">(.*?)</h3>', english)
    assert title_en and not re.search(r"[\u4e00-\u9fff]", unescape(title_en.group(1)))


def test_panel_unknown_lang_falls_back_to_chinese(client: TestClient) -> None:
    assert '<html lang="zh-CN">' in client.get("/panel/?lang=xx").text


def test_panel_data_gaps_are_shown(client: TestClient) -> None:
    _, html = evaluate_sample(client, "htn-no-recent-bp")
    gaps = html[html.index('id="data-gaps"'):]
    assert "sbp" in gaps and "无记录" in gaps


def test_panel_trends_draw_rule_thresholds_from_the_packs(client: TestClient, engine: Engine) -> None:
    _, html = evaluate_sample(client)
    trends = html[html.index('id="trends"'):]
    assert trends.count("<svg") >= 2
    fired = [s for s in cdss.evaluate(sample(EMERGENCY), now=dt.datetime.fromisoformat(
        sample(EMERGENCY)["timestamp"]), registry=engine.registry).suggestions]
    assert 'class="threshold fired"' in trends
    assert any(s.rule_id in trends for s in fired)


def test_panel_pinned_draft_version_is_used(client: TestClient) -> None:
    _, html = evaluate_sample(client, pin=["htn-community@9.0.0-test"])
    assert "htn-community@9.0.0-test" in html


def test_panel_pasted_and_uploaded_bundles(client: TestClient) -> None:
    text = json.dumps(sample(EMERGENCY), ensure_ascii=False)
    pasted = post(client, bundle=text, at="2026-11-22T09:00")
    assert pasted.status_code == 303, pasted.text
    uploaded = post(client, at="2026-11-22T09:00+08:00",
                    files={"file": ("b.json", text.encode(), "application/json")})
    assert uploaded.status_code == 303, uploaded.text
    assert uploaded.headers["location"] == pasted.headers["location"]  # +08:00 assumed without an offset


# --- bad input: a clear message on the page, never a trace --------------------------------------------
@pytest.mark.parametrize(("fields", "status", "says"), [
    ({"bundle": "this is not JSON"}, 422, "not-json"),
    ({"bundle": '{"resourceType": "Patient", "id": "x"}'}, 422, "not-a-bundle"),
    ({"bundle": "[1, 2]"}, 422, "Bundle"),
    ({}, 400, "Paste or upload a FHIR Bundle"),
    ({"sample": "no-such-sample"}, 400, "no-such-sample"),
    ({"sample": EMERGENCY, "at": "next tuesday"}, 400, "next tuesday"),
    ({"sample": EMERGENCY, "pin": "no-such-pack"}, 400, "unknown-pack"),
    ({"sample": EMERGENCY, "pin": "htn-community@0.0.1"}, 400, "unknown-pack"),
])
def test_panel_bad_input_shows_message(client: TestClient, fields: dict[str, Any], status: int, says: str) -> None:
    response = post(client, **fields)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    box = errors_of(response.text)
    assert says in box
    assert "Traceback" not in response.text and 'File "' not in response.text
    if "bundle" in fields:
        assert unescape(fields["bundle"]) in unescape(response.text)  # the input is kept for correction


def test_panel_post_without_csrf_token_is_refused(client: TestClient) -> None:
    csrf(client)
    response = client.post("/panel/evaluate", data={"sample": EMERGENCY}, follow_redirects=False)
    assert response.status_code == 403
    assert "reload this page" in errors_of(response.text)


def test_panel_post_from_another_origin_is_refused(client: TestClient) -> None:
    token = csrf(client)
    response = client.post("/panel/evaluate", data={"csrf": token, "sample": EMERGENCY},
                           headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert response.status_code == 403
    ok = client.post("/panel/evaluate", data={"csrf": token, "sample": EMERGENCY},
                     headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert ok.status_code == 303


def test_panel_unsupported_form_type_is_refused(client: TestClient) -> None:
    csrf(client)
    response = client.post("/panel/evaluate", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 415
    assert "Unsupported form type" in errors_of(response.text)


def test_panel_body_over_the_limit_is_refused(tmp_path: Path, engine: Engine) -> None:
    with open_client(tmp_path, engine=engine, max_body_bytes=2048) as small:
        response = post(small, bundle="x" * 5000)
    assert response.status_code == 413
    assert "CDSS_MAX_BODY_BYTES" in errors_of(response.text)


def test_panel_internal_error_gives_an_incident_id_not_a_trace(tmp_path: Path, engine: Engine) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internal detail")

    with open_client(tmp_path, engine=Engine(engine.registry, broken)) as c:
        response = post(c, sample=EMERGENCY)
    assert response.status_code == 500
    box = errors_of(response.text)
    assert re.search(r"[0-9a-f]{32}", box)
    assert "secret internal detail" not in response.text


@pytest.mark.parametrize("evaluation_id", ["0123456789abcdef", "not-an-id", "x" * 200])
def test_panel_unknown_evaluation_is_404_page(client: TestClient, evaluation_id: str) -> None:
    response = client.get(f"/panel/evaluations/{evaluation_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "没有此评估记录" in response.text


# --- catalogue ------------------------------------------------------------------------------------------
def test_panel_catalogue_lists_every_condition(client: TestClient, engine: Engine) -> None:
    html = client.get("/panel/catalogue").text
    rows = re.findall(r'<tr id="d-([^"]+)">', html)
    assert len(rows) == len(engine.registry.catalogue.diseases)


def test_panel_catalogue_search_and_filters(client: TestClient, engine: Engine) -> None:
    catalogue = engine.registry.catalogue
    covered = next(d for d in catalogue.diseases
                   if any(r.disease == d.id for p in engine.registry.select(()) for r in p.rules))
    html = client.get("/panel/catalogue", params={"q": covered.code}).text
    assert f'id="d-{covered.id}"' in html and covered.code in html
    assert covered.provenance.basis in unescape(html)
    rule = next(r for p in engine.registry.select(()) for r in p.rules if r.disease == covered.id)
    assert rule.full_id in html
    tcm = client.get("/panel/catalogue", params={"kind": "tcm"}).text
    assert len(re.findall(r'<tr id="d-', tcm)) == sum(d.kind == "tcm" for d in catalogue.diseases)
    department = catalogue.diseases[0].department
    by_dept = client.get("/panel/catalogue", params={"department": department}).text
    assert len(re.findall(r'<tr id="d-', by_dept)) == len(catalogue.search("", department=department))
    ignored = client.get("/panel/catalogue", params={"department": "<script>", "kind": "nope"})
    assert ignored.status_code == 200 and "<script>" not in ignored.text


# --- packs ----------------------------------------------------------------------------------------------
def test_panel_packs_list_and_pack_page(client: TestClient, engine: Engine) -> None:
    html = client.get("/panel/packs").text
    for pack in engine.registry.all():
        assert f"/panel/packs/{pack.id}?version={pack.version}" in html
    pack = engine.registry.select(())[0]
    page = client.get(f"/panel/packs/{pack.id}").text
    for rule in pack.rules:
        assert f'id="{rule.full_id}"' in page
    assert pack.meta.sources[0].title in unescape(page)


def test_panel_pack_diff_shows_changed_and_removed_rules(client: TestClient) -> None:
    html = client.get("/panel/packs/htn-community/diff",
                      params={"from": "1.3.0", "to": "9.0.0-test"}).text
    assert "htn-community@1.3.0" in html and "htn-community@9.0.0-test" in html
    changed = html[html.index('class="diff-changed"'):]
    assert "180" in changed and "185" in changed
    assert client.get("/panel/packs/htn-community/diff").status_code == 200  # default: two newest


@pytest.mark.parametrize("path", ["/panel/packs/no-such-pack", "/panel/packs/htn-community?version=0.0.1",
                                  "/panel/packs/htn-community/diff?from=0.0.1", "/panel/packs/no-such-pack/diff"])
def test_panel_unknown_pack_or_version_is_404_page(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


# --- static files ---------------------------------------------------------------------------------------
def test_panel_static_files_are_served_from_the_package(client: TestClient) -> None:
    css = client.get("/panel/static/panel.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "http://" not in css.text and "https://" not in css.text  # nothing from the network
    assert client.get("/panel/static/panel.js").status_code == 200
    assert client.get(f"/panel/static/samples/{EMERGENCY}.json").json()["resourceType"] == "Bundle"


@pytest.mark.parametrize("path", ["/panel/static/..%2Froutes%2Fpanel.py", "/panel/static/%2E%2E/app.py",
                                  "/panel/static/nope.css", "/panel/static/samples"])
def test_panel_static_refuses_other_files(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_panel_lists_unrecognised_codings(client: TestClient) -> None:
    bundle = sample(EMERGENCY)
    bundle["entry"].append({"resource": {
        "resourceType": "Observation", "id": "lab-local", "status": "final",
        "effectiveDateTime": "2026-11-20T08:00:00+08:00",
        "code": {"coding": [{"system": "urn:example:his-lab", "code": "K+", "display": "血钾"}]},
        "valueQuantity": {"value": 4.1, "unit": "mmol/L"}}})
    response = post(client, bundle=json.dumps(bundle, ensure_ascii=False), at="2026-11-22T09:00+08:00")
    assert response.status_code == 303, response.text
    html = client.get(response.headers["location"]).text
    section = html[html.index('id="unrecognised"'):]
    assert "未识别的编码" in section and "urn:example:his-lab" in section and "血钾" in section


def test_panel_shows_the_whole_differential_below_the_emergency_advice(client: TestClient, engine: Engine) -> None:
    bundle = sample(EMERGENCY)
    expected = cdss.evaluate(bundle, now=dt.datetime.fromisoformat(bundle["timestamp"]), registry=engine.registry)
    assert expected.suggestions[0].urgency == "emergency" and expected.differential
    _, html = evaluate_sample(client)
    assert html.index('id="group-emergency"') < html.index('id="differential"')
    section = unescape(html[html.index('id="differential"'):html.index('id="data-gaps"')])
    assert section.count('class="candidate ') == len(expected.differential)
    for c in expected.differential:
        assert c.disease.display in section
        for criterion in (*c.for_, *c.against):
            assert criterion.text in section
        if c.next_test:
            assert c.next_test.title["zh"] in section
