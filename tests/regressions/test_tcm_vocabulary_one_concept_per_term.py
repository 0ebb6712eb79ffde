"""Regression (tcm-differentiation 1.1.0): a synonym of the TCM findings vocabulary must name one finding only.

Two findings added in 1.1.0 first reused 壮热 (already 发热) and 气急 / 气促 (already 呼吸困难): the parser would then
read one phrase as two findings, and a red-flag concept could appear next to a syndrome finding from the same words.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import yaml

from cdss.intake.tcm_text import load_vocabulary

ROOT = Path(__file__).resolve().parents[2]


def test_each_term_of_a_category_belongs_to_one_finding() -> None:
    data = yaml.safe_load((ROOT / "catalogue" / "tcm" / "findings.yaml").read_text("utf-8"))
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for finding in data["findings"]:
        for term in [finding["zh"], *finding.get("terms", [])]:
            owners[(finding["category"], term)].add(finding["code"])
    assert {key: codes for key, codes in owners.items() if len(codes) > 1} == {}


def test_new_symptom_phrases_give_one_finding_each() -> None:
    vocab = load_vocabulary()
    for text, code in [("壮热", "fever"), ("高热", "high-fever"), ("呼吸增快", "rapid-breathing"),
                       ("胃脘痞满", "epigastric-fullness"), ("胁肋疼痛", "hypochondrial-pain"), ("风团", "wheals")]:
        assert {f.code for f in vocab.parse(text) if not f.negated} == {code}, text
