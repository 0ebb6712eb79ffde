"""The panel's printable yearly assessment report (GET /panel/evaluations/{id}/elderly-report): linked from
the evaluation of a resident aged 65 or over, Chinese first, with the TCM constitution result; on a registry
of the two packs it reads (elderly-health-management, tcm-constitution)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import cdss
from cdss.packs.registry import load_registry
from service.deps import Engine
from tests.unit.service.support import open_client

ROOT = Path(__file__).resolve().parents[2]
TCM_BUNDLE = ROOT / "pathways/tcm-constitution/cases/bundles/qixu-yes-yinxu-tendency-questionnaire.json"
AT = "2026-11-22T09:00:00+08:00"  # the resident (born 1952-03-04) is 74


@pytest.fixture(scope="module")
def engine() -> Engine:
    reg = load_registry([ROOT / "pathways/elderly-health-management", ROOT / "pathways/tcm-constitution"],
                        bundled=False)
    return Engine(reg, cdss.evaluate)


@pytest.fixture()
def client(tmp_path: Path, engine: Engine) -> Iterator[TestClient]:
    with open_client(tmp_path, engine=engine) as c:
        yield c


def evaluate(client: TestClient, bundle: str) -> str:
    """Post the bundle on the evaluate form; the evaluation page's path."""
    assert client.get("/panel/").status_code == 200
    response = client.post("/panel/evaluate", data={"csrf": client.cookies.get("cdss_panel_csrf"), "bundle": bundle,
                                                    "at": AT}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].split("?")[0]


def test_the_evaluation_links_the_report_which_shows_the_constitution_in_chinese(client: TestClient) -> None:
    location = evaluate(client, TCM_BUNDLE.read_text("utf-8"))
    page = client.get(location)
    assert page.status_code == 200
    link = f"{location}/elderly-report"
    assert f'href="{link}"' in page.text and "打印老年人年度健康评估报告" in page.text
    report = client.get(link)
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("text/html")
    text = unescape(report.text)
    assert re.search(r"<h1>老年人年度健康评估报告</h1>", text)
    for heading in ("测量", "评分", "中医体质辨识", "建议"):
        assert re.search(rf'<h2 id="[a-z-]+">{heading}</h2>', text), heading
    section = text.split('<section id="constitution"', 1)[1].split("</section>", 1)[0]
    assert section.index("气虚质（是）") < section.index("阴虚质（倾向是）")  # highest score first
    assert "<strong>12</strong>" in section and "<strong>9</strong>" in section
    assert "气海、关元" in section and "未完成体质辨识" not in section
    assert "女 · 74 岁" in text
    english = unescape(client.get(f"{link}?lang=en").text)
    assert "Qi-deficiency (yes)" in english and "TCM constitution" in english


def test_the_report_without_a_constitution_questionnaire_says_not_done(client: TestClient) -> None:
    bundle = ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": '
              '"Patient", "id": "old", "gender": "male", "birthDate": "1940-05-06"}}]}')
    location = evaluate(client, bundle)
    text = unescape(client.get(f"{location}/elderly-report").text)
    assert "未完成体质辨识" in text
    assert "未见中医体质辨识记录" in text  # the yearly reminder stays in the advice


def test_no_link_and_a_clear_refusal_for_a_resident_under_65(client: TestClient) -> None:
    bundle = ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": '
              '"Patient", "id": "young", "gender": "female", "birthDate": "1980-05-06"}}]}')
    location = evaluate(client, bundle)
    assert "elderly-report" not in client.get(location).text
    refused = client.get(f"{location}/elderly-report")
    assert refused.status_code == 400
    assert "仅适用于65岁及以上居民" in unescape(refused.text) and "Traceback" not in refused.text


def test_an_unknown_evaluation_is_404(client: TestClient) -> None:
    assert client.get("/panel/evaluations/0123456789abcdef/elderly-report").status_code == 404
    assert client.get("/panel/evaluations/not-an-id/elderly-report").status_code == 404


def test_the_report_link_age_comes_from_the_pack_versions_the_evaluation_ran_with() -> None:
    # review of round 6: the link's age came from today's default packs, not the evaluation's own versions
    from cdss.packs.registry import default_registry

    registry = default_registry()
    (elderly,) = [p for p in registry.select() if p.id == "elderly-health-management"]
    trace = {"packs": [{"id": elderly.id, "version": elderly.version}, {"id": elderly.id, "version": "0.0.1"},
                       {"id": "no-such-pack", "version": "1.0.0"}]}
    assert registry.stamped(trace["packs"]) == [elderly]  # versions no longer loaded are left out
    assert registry.stamped([]) == []
