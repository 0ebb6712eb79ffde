"""Regression: `cdss pack diff` crashed (TypeError in the side-by-side text) when no patient whose advice
differs got any advice from the OLD pack - e.g. diffing a pack that had rules removed against the version
that has them: the column width was `max(20, *())`."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

import cdss.cli.pack  # noqa: F401 - registers the command group
from cdss.cli import app
from cdss.packs.loader import bundled_dir

CASE = """cases:
  - id: severe-bp-no-diagnosis
    description: BP 185/115 today, no hypertension on the record.
    now: 2026-11-22T09:00:00+08:00
    patient:
      age_years: 50
      sex: male
      facts:
        - {concept: sbp, value: 185, days_ago: 0}
        - {concept: dbp, value: 115, days_ago: 0}
"""


def _copy(tmp_path: Path, name: str, keep_rules: tuple[str, ...] | None = None) -> Path:
    folder = tmp_path / name / "htn-community"
    shutil.copytree(bundled_dir("pathways") / "htn-community", folder)
    shutil.rmtree(folder / "cases")
    (folder / "cases").mkdir()
    (folder / "cases" / "one.yaml").write_text(CASE, encoding="utf-8")
    if keep_rules is not None:
        for path in (folder / "rules").glob("*.yaml"):
            if path.name not in keep_rules:
                path.unlink()
    return folder


def test_pack_diff_when_the_old_version_gives_no_advice(tmp_path: Path) -> None:
    old = _copy(tmp_path, "old", keep_rules=("pathway.yaml",))  # follow-up rules only: nothing for this patient
    new = _copy(tmp_path, "new")
    res = CliRunner().invoke(app, ["pack", "diff", str(old), str(new), "--patients", "0"])
    assert res.exit_code == 0, res.output
    assert "behaviour: 1 of 1 example cases" in res.output
    assert "(no advice)" in res.output and "referral/" in res.output
    assert "  + severe-bp-urgent-care" in res.output  # the rules the old version lacks are listed as added
