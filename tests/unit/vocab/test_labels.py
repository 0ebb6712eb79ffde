"""Labels: every value of the schema that a reader sees has Chinese and English words, in one file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from cdss.engine.results import STATUS_ORDER
from cdss.engine.truth import Truth
from cdss.packs import catalogue, schema
from cdss.vocab import labels
from cdss.vocab.model import Status

ROOT = Path(__file__).resolve().parents[3]


def _literal(model: type, field: str) -> tuple[str, ...]:
    return get_args(model.model_fields[field].annotation)


def _reasons_in_code() -> set[str]:
    """Every `missing = "..."` reason the engine and intake can set (a new one must get words)."""
    found: set[str] = set()
    for path in [*ROOT.joinpath("cdss", "engine").glob("*.py"), *ROOT.joinpath("cdss", "intake").glob("*.py")]:
        found.update(re.findall(r'missing\s*=\s*"([a-z-]+)"', path.read_text(encoding="utf-8")))
    return found


VALUES: dict[str, tuple[str, ...]] = {
    "urgency": schema.URGENCY_ORDER,
    "kind": schema.KIND_ORDER,
    "evidence": get_args(schema.Evidence),
    "evidence_help": get_args(schema.Evidence),
    "outcome": tuple(t.value for t in Truth),
    "combinator": ("all", "any", "not"),
    "stat": (*get_args(schema.Stat), *_literal(schema.Derived, "combine"), "day-mean", "present"),
    "status": get_args(Status),
    "disease_kind": _literal(catalogue.Disease, "kind"),
    "role": _literal(catalogue.Disease, "role"),
    "provenance": _literal(catalogue.Provenance, "status"),
    "differential_status": STATUS_ORDER,
    "reason": ("absent", "stale", "unknown-unit", "implausible", *sorted(_reasons_in_code())),
}


@pytest.mark.parametrize("group", sorted(VALUES))
def test_every_value_has_chinese_and_english_words(group):
    assert set(VALUES[group]) == set(VALUES[group]) & set(labels.table(group)), \
        f"{group}: no label for {sorted(set(VALUES[group]) - set(labels.table(group)))}"
    for key in VALUES[group]:
        row = labels.table(group)[key]
        assert row["zh"].strip() and row["en"].strip(), f"{group}.{key}"
        assert re.search(r"[\u4e00-\u9fff]", row["zh"]), f"{group}.{key}: zh is not Chinese"


# How a rule condition is said (cdss.render.wording): phrasing, not engine values; that every leaf of every
# shipped pack reads in both languages is tests/unit/render/test_conditions.py's property.
PHRASING = ("condition_phrase", "condition_join", "condition_combinator", "condition_value", "unit_display")


# The clinician panel's own words (cdss.render.html.UI): headings, buttons and help texts, not engine values.
PANEL = ("ui",)


def test_every_group_of_the_file_is_checked():
    assert set(labels.groups()) == set(VALUES) | set(PHRASING) | set(PANEL)


def test_every_panel_word_is_written_in_both_languages():
    for key, row in labels.table("ui").items():
        assert set(row) == {"zh", "en"} and row["zh"].strip() and row["en"].strip(), f"ui.{key}"


@pytest.mark.parametrize("group", PHRASING)
def test_every_phrasing_row_has_both_languages(group):
    for key, row in labels.table(group).items():
        assert set(row) == {"zh", "en"}, f"{group}.{key}"  # an empty word is allowed: a unit not written


def test_the_lookup_is_tiny_and_chinese_first():
    assert labels.label("urgency", "emergency", "zh") == "紧急"
    assert labels.bilingual("urgency", "emergency") == "紧急 / Emergency"
    assert labels.label("urgency", "not-a-value", "en") == "not-a-value"  # newer than the file: shown as is
    with pytest.raises(TypeError):
        labels.table("urgency")["emergency"]["zh"] = "x"  # type: ignore[index]
