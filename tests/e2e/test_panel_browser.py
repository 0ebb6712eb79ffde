"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, against the service run by
uvicorn on 127.0.0.1. Loads the emergency sample, sees the emergency card first, opens its rationale and
sees the facts and the citation; keyboard only; tablet width; bad input; English. Screenshots go to
test-artifacts/ (gitignored). Needs /usr/bin/chromium (`.ci/browser.sh` installs it); skips without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from service.app import create_app
from service.settings import Settings
from tests.e2e.browser import ARTIFACTS, expect, launch, serve, sync_api


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("panel-data"), auth="off", host="127.0.0.1")
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")  # type: ignore[attr-defined]
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()


def shot(page: object, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"panel-{name}.png"), full_page=full_page)  # type: ignore[attr-defined]


def evaluate_sample(page: object, base_url: str, sample_label: str) -> None:
    page.goto(f"{base_url}/panel/")  # type: ignore[attr-defined]
    page.get_by_label(sample_label).check()  # type: ignore[attr-defined]
    page.locator("#evaluate-top").click()  # type: ignore[attr-defined]
    expect(page).to_have_url(re.compile(r"/panel/evaluations/[0-9a-f]+"))


def test_panel_emergency_sample_shows_emergency_first_with_rationale_facts_and_citation(page, base_url) -> None:
    page.goto(f"{base_url}/panel/")
    expect(page.get_by_role("heading", level=1)).to_have_text("评估患者数据")
    shot(page, "1-evaluate")
    evaluate_sample(page, base_url, "王建国：今日血压 196/122 mmHg 伴剧烈头痛")

    first_card = page.locator("article.card").first
    expect(first_card).to_have_class(re.compile(r"\burgency-emergency\b"))
    expect(page.locator("section.group").first.get_by_role("heading", level=2)).to_contain_text("紧急")
    expect(page.get_by_role("alert").first).to_contain_text("紧急")
    shot(page, "2-advice", full_page=False)

    first_card.locator("summary").click()
    rationale = first_card.locator("details.rationale")
    expect(rationale).to_have_attribute("open", "")
    facts = rationale.locator("table.facts").first
    expect(facts).to_be_visible()
    expect(facts).to_contain_text("196")
    expect(facts).to_contain_text("mm[Hg]")
    expect(facts).to_contain_text("Observation/")
    expect(rationale.locator("ul.citations li").first).to_contain_text("指南")
    expect(rationale.locator(".badge.evidence").first).to_be_visible()
    expect(rationale.locator("dl.meta")).to_contain_text("htn-community@")
    first_card.scroll_into_view_if_needed()
    shot(page, "3-rationale", full_page=False)

    # The permalink (the one CDS Hooks cards use) opens the same rationale.
    href = rationale.locator("a.permalink").get_attribute("href")
    assert href is not None and re.search(r"^/panel/evaluations/[0-9a-f]+#[0-9a-f]+$", href), href
    page.goto(base_url + href)
    expect(page.locator(f"[id='{href.split('#')[1]}'] details.rationale")).to_have_attribute("open", "")

    page.locator("#trends").scroll_into_view_if_needed()
    expect(page.locator("#trends svg.trend").first).to_be_visible()
    expect(page.locator("#trends svg.trend .threshold.fired").first).to_be_attached()
    page.locator("#trends").screenshot(path=str(ARTIFACTS / "panel-4-trends.png"))


def test_panel_keyboard_only_evaluate_and_open_rationale(page, base_url) -> None:
    page.goto(f"{base_url}/panel/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.get_by_label("王建国：今日血压 196/122 mmHg 伴剧烈头痛").focus()
    page.keyboard.press("Space")
    page.locator("#evaluate-top").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/panel/evaluations/[0-9a-f]+"))
    summary = page.locator("article.card").first.locator("summary")
    for _ in range(80):
        page.keyboard.press("Tab")
        if summary.evaluate("el => el === document.activeElement"):
            break
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("article.card").first.locator("details.rationale")).to_have_attribute("open", "")
    shot(page, "5-keyboard", full_page=False)


def test_panel_tablet_width_has_no_page_overflow_and_cjk_font(page, base_url) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    evaluate_sample(page, base_url, "王建国：今日血压 196/122 mmHg 伴剧烈头痛")
    page.locator("article.card").first.locator("summary").click()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at tablet width"
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '紧急')"), \
        "no CJK font: install fonts-noto-cjk (.ci/browser.sh)"
    shot(page, "6-tablet", full_page=False)


def test_panel_bad_input_shows_message_not_trace(page, base_url) -> None:
    page.goto(f"{base_url}/panel/")
    page.get_by_label("粘贴 FHIR Bundle（JSON）").fill("this is not JSON")
    page.locator("#evaluate-top").click()
    alert = page.locator("#errors")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("无法评估")
    expect(alert).to_contain_text("not-json")
    expect(page.locator("body")).not_to_contain_text("Traceback")
    expect(page.get_by_label("粘贴 FHIR Bundle（JSON）")).to_have_value("this is not JSON")
    shot(page, "7-bad-input", full_page=False)


def test_panel_english_toggle_and_catalogue_and_packs(page, base_url) -> None:
    evaluate_sample(page, base_url, "王建国：今日血压 196/122 mmHg 伴剧烈头痛")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Advice")
    expect(page.locator("section.group").first.get_by_role("heading", level=2)).to_contain_text("Emergency")
    page.get_by_role("link", name="Disease catalogue").click()
    page.get_by_label("Search (name, alias, code)").fill("I10")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.catalogue tbody tr").first).to_contain_text("I10")
    shot(page, "8-catalogue-en", full_page=False)
    page.get_by_role("link", name="Rule packs").click()
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("规则包")
    shot(page, "9-packs", full_page=False)


def test_panel_for_a_family_doctor_button_on_top_and_patient_in_the_header(page, base_url) -> None:
    """The evaluate button is in the first screen, the pack pins are folded away, the header says who."""
    page.goto(f"{base_url}/panel/")
    button = page.locator("#evaluate-top")
    expect(button).to_be_visible()
    assert button.bounding_box()["y"] < 800  # within the first 1280x800 screen
    expect(page.locator("details.advanced select").first).to_be_hidden()
    shot(page, "10-evaluate-first-screen", full_page=False)
    page.get_by_label("王建国：今日血压 196/122 mmHg 伴剧烈头痛").check()
    button.click()
    expect(page).to_have_url(re.compile(r"/panel/evaluations/[0-9a-f]+"))
    header = page.locator("dl.summary")
    expect(header).to_contain_text("王建国")
    expect(header).to_contain_text("男")
    expect(header).to_contain_text("岁")
    shot(page, "11-header", full_page=False)


def test_panel_every_other_page_renders(page, base_url) -> None:
    page.goto(f"{base_url}/panel/packs/htn-community")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("（2017） (2017)")
    shot(page, "12-pack")
    page.goto(f"{base_url}/panel/packs/htn-community/diff")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shot(page, "13-pack-diff", full_page=False)
    page.goto(f"{base_url}/panel/evaluations/0000000000000000")
    expect(page.locator("body")).to_contain_text("没有此评估记录")
    shot(page, "14-not-found", full_page=False)
    page.goto(f"{base_url}/panel/")
    page.get_by_label("粘贴 FHIR Bundle（JSON）").fill('{"resourceType": "Patient"}')
    page.locator("#evaluate-top").click()
    expect(page.locator("#errors")).to_contain_text("内容不是 FHIR Bundle")
    shot(page, "15-error-chinese", full_page=False)
