"""The panel's yearly assessment report in Debian's headless Chromium (uvicorn on 127.0.0.1): from the
evaluation of a resident aged 65+ to the report by its link; the constitution shown; the print view hides the
navigation and the buttons; a resident under 65 gets a page headed 不适用 with the reason. Screenshots in
test-artifacts/ (gitignored). Skips without /usr/bin/chromium. Fixtures: tests/e2e/conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
expect = sync_api.expect
expect.set_options(timeout=20_000)

import cdss  # noqa: E402
from cdss.packs.registry import load_registry  # noqa: E402
from service.deps import Engine  # noqa: E402
from tests.e2e.conftest import shot  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TCM_BUNDLE = ROOT / "pathways/tcm-constitution/cases/bundles/qixu-yes-yinxu-tendency-questionnaire.json"
YOUNG = ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": '
         '"Patient", "id": "young", "gender": "female", "birthDate": "1980-05-06"}}]}')


@pytest.fixture(scope="module")
def panel_engine() -> Engine:
    reg = load_registry([ROOT / "pathways/elderly-health-management", ROOT / "pathways/tcm-constitution"],
                        bundled=False)
    return Engine(reg, cdss.evaluate)


def _evaluate(page: object, base_url: str, bundle: str) -> None:
    page.goto(f"{base_url}/panel/")  # type: ignore[attr-defined]
    page.locator("#bundle").fill(bundle)  # type: ignore[attr-defined]
    page.locator("details.advanced > summary").click()  # type: ignore[attr-defined]
    page.locator("#at").fill("2026-11-22T09:00")  # type: ignore[attr-defined]
    page.locator("#evaluate-top").click()  # type: ignore[attr-defined]
    expect(page).to_have_url(re.compile(r"/panel/evaluations/[0-9a-f]+"))


def test_elderly_report_from_the_evaluation_link_and_its_print_view(page, base_url: str) -> None:
    page.set_viewport_size({"width": 1024, "height": 900})
    _evaluate(page, base_url, TCM_BUNDLE.read_text("utf-8"))
    page.get_by_role("link", name="打印老年人年度健康评估报告").click()
    expect(page).to_have_url(re.compile(r"/elderly-report$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("老年人年度健康评估报告")
    constitution = page.locator("#constitution .constitution")
    expect(constitution).to_have_count(2)
    expect(constitution.first).to_contain_text("气虚质（是）")
    expect(page.get_by_role("button", name="打印")).to_be_visible()  # shown by panel.js (CSP: no inline script)
    shot(page, "elderly-report")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator(".report-actions")).to_be_hidden()
    expect(constitution.first).to_be_visible()
    shot(page, "elderly-report-print")


def test_the_report_of_a_resident_under_65_is_headed_not_applicable(page, base_url: str) -> None:
    _evaluate(page, base_url, YOUNG)
    page.goto(page.url.split("?")[0] + "/elderly-report")
    expect(page.get_by_role("heading", level=1)).to_have_text("不适用")
    expect(page.locator("section.errors")).to_contain_text("仅适用于65岁及以上居民")
    shot(page, "16-elderly-not-applicable", full_page=False)
