"""Packs: the one check phase refuses, at load time, what only the editor's tool used to refuse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdss.errors import PackError
from cdss.packs.registry import load_registry

HTN = Path(__file__).resolve().parents[2] / "fixtures" / "packs" / "htn-community-v1"  # frozen: its lines stay put
CYCLE = """
  - id: score_a
    title: {zh: 甲, en: A}
    combine: sum
    parts: [{label: {zh: 乙, en: B}, points: 1, when: {concept: score_b, op: ">=", value: 1}}]
    citation: {source: htn-primary-2019, section: test}
    evidence: unverified
  - id: score_b
    title: {zh: 乙, en: B}
    combine: sum
    parts: [{label: {zh: 甲, en: A}, points: 1, when: {concept: score_a, op: ">=", value: 1}}]
    citation: {source: htn-primary-2019, section: test}
    evidence: unverified
"""
HALF_A_YEAR = """
  - id: infant_flag
    title: {zh: 婴儿, en: Infant}
    combine: sum
    parts: [{label: {zh: 小于6月龄, en: under 6 months}, points: 1, when: {concept: age_years, op: "<", value: 0.5}}]
    citation: {source: htn-primary-2019, section: test}
    evidence: unverified
"""
SHADOW = """
  - id: sbp
    title: {zh: 收缩压, en: Systolic}
    combine: max
    parts: [{label: {zh: 高, en: High}, points: 1, when: {concept: dbp, op: ">=", value: 90}}]
    citation: {source: htn-primary-2019, section: test}
    evidence: unverified
"""


def _load(tmp_path: Path, extra_derived: str) -> PackError:
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder, ignore=shutil.ignore_patterns("cases"))
    grading = folder / "rules" / "grading.yaml"
    text = grading.read_text(encoding="utf-8")
    grading.write_text(text.replace("derived:\n", "derived:" + extra_derived, 1), encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_registry([tmp_path], bundled=False)
    return caught.value


def test_derived_facts_in_a_cycle_are_refused_with_their_place(tmp_path: Path):
    error = _load(tmp_path, CYCLE)
    (problem,) = [p for p in error.problems if p.code == "derived-cycle"]
    assert "score_a -> score_b -> score_a" in problem.message
    assert problem.file.endswith("grading.yaml") and problem.line == 3


def test_a_derived_fact_named_like_a_concept_is_refused(tmp_path: Path):
    error = _load(tmp_path, SHADOW)
    assert [p.code for p in error.problems] == ["derived-shadows-concept"]


def test_a_fractional_age_threshold_is_refused(tmp_path: Path):
    """Regression: `age_years < 0.5` (meant: under 6 months) held for every infant under 1, since ages are
    completed years; the check names the place and points to age_months."""
    error = _load(tmp_path, HALF_A_YEAR)
    (problem,) = [p for p in error.problems if p.code == "not-whole"]
    assert problem.file.endswith("grading.yaml") and problem.line == 6
    assert "'age_years' is a whole number" in problem.message and "age_months" in (problem.hint or "")


def test_a_fractional_age_band_is_refused():
    """A population band in completed years with a fraction (`max: 0.5`) holds for every infant under 1."""
    from pydantic import ValidationError

    from cdss.packs.scope import AgeBand

    with pytest.raises(ValidationError, match="age_months"):
        AgeBand(max=0.5)
    assert AgeBand(min=0, max=1).max == 1
