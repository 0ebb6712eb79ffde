"""The panel's yearly assessment report in Debian's headless Chromium (uvicorn on 127.0.0.1): from the
evaluation of a resident aged 65+ to the report by its link; the constitution shown; the print view hides the
navigation and the buttons. Screenshots in test-artifacts/ (gitignored). Skips without /usr/bin/chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import cdss
from cdss.packs.registry import load_registry
from service.app import create_app
from service.deps import Engine
from service.settings import Settings
from tests.e2e.browser import ARTIFACTS, expect, launch, serve, sync_api

ROOT = Path(__file__).resolve().parents[2]
TCM_BUNDLE = ROOT / "pathways/tcm-constitution/cases/bundles/qixu-yes-yinxu-tendency-questionnaire.json"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reg = load_registry([ROOT / "pathways/elderly-health-management", ROOT / "pathways/tcm-constitution"],
                        bundled=False)
    settings = Settings(data_dir=tmp_path_factory.mktemp("panel-data"), auth="off", host="127.0.0.1")
    with serve(create_app(settings, engine=Engine(reg, cdss.evaluate))) as url:
        yield url


def test_elderly_report_from_the_evaluation_link_and_its_print_view(base_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1024, "height": 900}, locale="zh-CN")
        page.goto(f"{base_url}/panel/")
        page.locator("#bundle").fill(TCM_BUNDLE.read_text("utf-8"))
        page.locator("details.advanced > summary").click()
        page.locator("#at").fill("2026-11-22T09:00")
        page.locator("#evaluate-top").click()
        expect(page).to_have_url(re.compile(r"/panel/evaluations/[0-9a-f]+"))
        page.get_by_role("link", name="打印老年人年度健康评估报告").click()
        expect(page).to_have_url(re.compile(r"/elderly-report$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("老年人年度健康评估报告")
        constitution = page.locator("#constitution .constitution")
        expect(constitution).to_have_count(2)
        expect(constitution.first).to_contain_text("气虚质（是）")
        expect(page.get_by_role("button", name="打印")).to_be_visible()  # shown by panel.js (CSP: no inline script)
        page.screenshot(path=str(ARTIFACTS / "panel-elderly-report.png"), full_page=True)
        page.emulate_media(media="print")
        expect(page.locator("header.top")).to_be_hidden()
        expect(page.locator(".report-actions")).to_be_hidden()
        expect(constitution.first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "panel-elderly-report-print.png"), full_page=True)
        browser.close()
