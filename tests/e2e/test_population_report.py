"""report.html of a population run in Debian's headless Chromium (offline: no request leaves the page), and
`cdss report elderly` for one resident aged 65 or over."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cdss.errors import ConfigError
from cdss.packs.registry import default_registry
from cdss.population.elderly import elderly_report
from cdss.population.run import parse_period, run_batch
from cdss.testing.factories import CaseFact, bundle_from_facts
from cdss.testing.population import write_bulk_export

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SELF_CARE_19 = [("adl_feeding", 3), ("adl_grooming", 1), ("adl_dressing", 0), ("adl_toileting", 5),
                ("adl_activity", 10)]


def _elderly_bundle(age: float) -> dict:
    facts = [CaseFact(concept=c, value=v, days_ago=3) for c, v in SELF_CARE_19]
    facts += [CaseFact(concept="sbp", value=136, days_ago=3), CaseFact(has="annual_health_check", days_ago=3)]
    return bundle_from_facts(facts, concepts=default_registry().concepts, now=NOW, age_years=age, sex="female",
                             patient_id="old")


def test_elderly_report_shows_the_self_care_score_band_and_measurements():
    html = elderly_report(_elderly_bundle(81), now=NOW, registry=default_registry())
    assert "老年人年度健康评估报告" in html
    assert "<b>19.0</b>" in html and "不能自理" in html  # 3+1+0+5+10 = 19: the 规范's 不能自理 band
    assert "收缩压" in html and "136" in html


def test_elderly_report_refuses_a_resident_under_65():
    with pytest.raises(ConfigError) as exc:
        elderly_report(_elderly_bundle(60), now=NOW, registry=default_registry())
    assert exc.value.problems[0].code == "not-elderly"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_report_renders_offline_in_headless_chromium(tmp_path: Path, browser: object):
    # the module's browser (tests/e2e/conftest.py): a second sync_playwright() at once is refused
    sync_api = pytest.importorskip("playwright.sync_api")
    export = write_bulk_export(tmp_path / "in", 40, concepts=default_registry().concepts, now=NOW, seed=3)
    run_batch([str(export)], tmp_path / "out", now=NOW, period=parse_period("2026-04-01..2026-12-01", NOW),
              workers=1, trend=True)
    points = json.loads((tmp_path / "out" / "trend.json").read_text())["points"]
    assert [p["at"] for p in points] == ["2026-06-30", "2026-09-30", "2026-12-01"]
    indicators = json.loads((tmp_path / "out" / "indicators.json").read_text())["indicators"]
    requests: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1024, "height": 1400})  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto((tmp_path / "out" / "report.html").as_uri())
        sync_api.expect(page.locator("h1")).to_contain_text("人群健康管理报告")
        assert page.locator(".chart svg").count() == len({i["id"] for i in indicators})
        assert page.locator(".trend svg").count() == len({i["id"] for i in indicators})
        overall = page.locator("#indicators-overall tr")
        assert overall.count() == 1 + len({i["id"] for i in indicators})
        assert page.locator("section.doctor").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "population-report.png"), full_page=True)
        page.emulate_media(media="print")
        sync_api.expect(page.locator("h1")).to_be_visible()
    finally:
        context.close()
    assert [u for u in requests if not u.startswith("file://")] == []
