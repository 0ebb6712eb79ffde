"""Regressions (reviews/conformance.md §5, items 1-3): the 评估 button sat ~2,570 px down below 21 pack-version
dropdowns; the header showed `Patient/wang-jianguo`, not name, sex and age; intake errors on the Chinese
form were English only."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.e2e.test_panel import client, csrf, engine, errors_of, evaluate_sample, post, registry_two_versions  # noqa: F401


def test_the_header_names_the_patient_with_sex_and_age(client: Any) -> None:  # noqa: F811
    _, page = evaluate_sample(client)
    header = re.search(r'<dl class="summary">.*?</dl>', page, re.S).group(0)
    assert "王建国" in header
    assert "男" in header and "68 岁" in header  # born 1958-03-14, evaluated 2026-11-22
    assert "Patient/wang-jianguo" not in header


def test_an_infants_header_gives_her_age_in_months(client: Any) -> None:  # noqa: F811
    """An infant's header said "0 岁"; it gives completed months under one year."""
    infant = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Patient", "id": "infant", "gender": "female", "birthDate": "2026-01-22",
        "name": [{"family": "李", "given": ["小雨"]}]}}]}
    response = post(client, bundle=json.dumps(infant, ensure_ascii=False), at="2026-11-22T09:00+08:00")
    assert response.status_code == 303, response.text
    header = re.search(r'<dl class="summary">.*?</dl>', client.get(response.headers["location"]).text, re.S).group(0)
    assert "女 · 10 月龄" in header and "0 岁" not in header


def test_the_evaluate_button_comes_before_the_pack_pins(client: Any) -> None:  # noqa: F811
    page = client.get("/panel/").text
    button, pins = page.index('id="evaluate-top"'), page.index('name="pin"')
    assert button < pins
    details = page.index('<details class="advanced"')
    assert details < pins and " open" not in page[details:details + 40]


def test_form_errors_are_in_chinese_first(client: Any) -> None:  # noqa: F811
    response = post(client, bundle='{"resourceType": "Patient"}')
    assert response.status_code == 422
    text = errors_of(response.text)
    assert "内容不是 FHIR Bundle" in text and "[not-a-bundle]" in text
