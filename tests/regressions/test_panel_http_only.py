"""Regressions (issue #15/#16, the panel): the route does HTTP only through the framework's own tools; the
rationale and pack pages say conditions in words; the under-65 report refusal is headed 不适用, not 未找到;
the file input is labelled in Chinese; the trend charts name their thresholds and tick on calendar dates."""

from __future__ import annotations

import ast
import datetime as dt
import re
from html import unescape
from pathlib import Path
from typing import Any

from cdss.render.svg import time_ticks
from tests.e2e.test_panel import client, csrf, engine, errors_of, evaluate_sample, registry_two_versions  # noqa: F401
from tests.e2e.test_panel_elderly_report import evaluate

PANEL = Path(__file__).resolve().parents[2] / "service/routes/panel.py"


def test_the_panel_route_hand_rolls_no_parser_file_server_or_template_env() -> None:
    tree = ast.parse(PANEL.read_text("utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"email.parser", "email.policy", "parse_qs", "FileResponse"}, imported
    assert {"StaticFiles", "Jinja2Templates"} <= imported
    assert "jinja2.Environment(" not in PANEL.read_text("utf-8")
    assert "def _trends" not in PANEL.read_text("utf-8")  # the view-model lives in cdss/render/trends.py


def test_a_malformed_multipart_form_is_a_400_on_the_page(client: Any) -> None:  # noqa: F811
    csrf(client)
    response = client.post("/panel/evaluate", content=b"--x\r\nnot a part", headers={
        "content-type": "multipart/form-data; boundary=x"}, follow_redirects=False)
    assert response.status_code == 400, response.text  # never a 500 or a trace
    assert "表单格式不正确" in errors_of(response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text


def test_the_rationale_says_conditions_in_chinese_with_english_beside(client: Any) -> None:  # noqa: F811
    _, page = evaluate_sample(client)
    text = unescape(page)
    assert '<span class="words">收缩压 ≥ 180 mmHg（1 天内）</span>' in text
    assert "Systolic blood pressure ≥ 180 mmHg within 1 day" in text
    assert "sbp latest &gt;= 180" in page or "sbp latest >= 180" in text  # the formula stays, smaller
    english = unescape(client.get(re.search(r'href="(/panel/evaluations/[0-9a-f]+)', page).group(1)
                                  + "?lang=en").text)
    assert '<span class="words">Systolic blood pressure ≥ 180 mmHg within 1 day</span>' in english


def test_the_pack_page_says_each_rule_condition_in_words(client: Any) -> None:  # noqa: F811
    text = unescape(client.get("/panel/packs/htn-community").text)
    assert "有：高血压" in text and "has: hypertension" in text
    assert "全部满足" in text


def test_the_under_65_report_refusal_is_headed_not_applicable(client: Any) -> None:  # noqa: F811
    bundle = ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": '
              '"Patient", "id": "young", "gender": "female", "birthDate": "1980-05-06"}}]}')
    refused = client.get(f"{evaluate(client, bundle)}/elderly-report")
    assert refused.status_code == 400
    h1 = re.search(r"<h1>(.*?)</h1>", refused.text).group(1)
    assert h1 == "不适用" and "未找到" not in refused.text
    assert "仅适用于65岁及以上居民" in unescape(refused.text)


def test_the_file_input_is_labelled_in_the_page_language(client: Any) -> None:  # noqa: F811
    page = client.get("/panel/").text
    assert '<label for="file" class="file-button" aria-hidden="true">选择文件…</label>' in page
    assert "未选择文件" in page
    assert "Choose a file…" in client.get("/panel/?lang=en").text


def test_time_ticks_are_calendar_dates_and_never_crowded() -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    two_years = time_ticks(dt.datetime(2024, 11, 3, 9, tzinfo=tz), dt.datetime(2026, 11, 22, 9, tzinfo=tz))
    assert 2 <= len(two_years) <= 6
    assert all(re.fullmatch(r"\d{4}-\d{2}", label) for _, label in two_years)
    assert all(t.day == 1 and t.hour == 0 for t, _ in two_years)
    week = time_ticks(dt.datetime(2026, 11, 15, 9, tzinfo=tz), dt.datetime(2026, 11, 22, 9, tzinfo=tz))
    assert 2 <= len(week) <= 6 and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", label) for _, label in week)


def test_threshold_lines_are_named_by_the_concept(client: Any) -> None:  # noqa: F811
    _, page = evaluate_sample(client)
    trends = unescape(page[page.index('id="trends"'):])
    # "收缩压 ≥ 180", or "收缩压 180" when rules test both sides of the cut-off (bp_grade's rows: < 180, >= 180)
    assert re.search(r"<text[^>]*>收缩压 (≥ )?180</text>", trends), trends[:2000]
    assert not re.search(r"<text[^>]*>sbp ", trends)
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", trends, re.S).group(1)
    assert "收缩压 ≥ 180" in desc and "sbp " not in desc  # screen readers hear names, not ids


def test_a_count_of_readings_draws_no_threshold_line() -> None:
    """Regression: `stat: count` of sbp >= 2 (two visits) was drawn as an SBP line at 2 mmHg."""
    from cdss.packs.schema import Leaf
    from cdss.render.svg import _add

    found: dict = {}
    _add(found, Leaf(concept="sbp", op=">=", value=2, stat="count"), {"r"})
    _add(found, Leaf(concept="sbp", op=">=", value=180), {"r"})
    assert list(found) == [("sbp", ">=", 180.0)]


def test_every_intake_error_code_has_a_chinese_sentence_on_the_form() -> None:
    """Form errors in Chinese: each code intake raises has its own sentence, not the generic one."""
    from cdss.render import html as H

    root = Path(__file__).resolve().parents[2] / "cdss/intake"
    codes = {m for f in root.glob("*.py") for m in re.findall(r'(?:Error\.one|fail)\([^)]*?"([a-z]+(?:-[a-z]+)+)"',
                                                               f.read_text("utf-8"), re.S)}
    codes -= {"file-unreadable", "bad-vocabulary"}  # CLI and loader errors, never met on the form
    assert {"other-patient", "two-patients", "bad-date"} <= codes
    assert not [c for c in sorted(codes) if H.error_zh(c) == H.ERROR_ZH_DEFAULT]
