"""`cdss pack` end to end through the Typer app (CliRunner); exit codes asserted with the output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cdss.cli.pack  # noqa: F401 - registers the command group
from cdss.cli import app
from cdss.packs.registry import bundled_dir
from cdss.testing.cases import load_cases

REPO = Path(__file__).resolve().parents[2]
HTN = bundled_dir("pathways") / "htn-community"
BROKEN = REPO / "tests" / "fixtures" / "packs" / "broken"
EMERGENCY = 'value: 180, within_days: 1}\n            - {concept: dbp, op: ">=", value: 110, within_days: 1}\n' \
            '        - any:\n            - {has: severe_headache'


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str):  # noqa: ANN201
    return runner.invoke(app, ["pack", *args])


@pytest.fixture
def wrong_copy(tmp_path: Path) -> Path:
    """htn-community with its neurological emergency rule testing sbp < 180 instead of >= 180."""
    target = tmp_path / "htn-community"
    shutil.copytree(HTN, target)
    path = target / "rules" / "referral.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(EMERGENCY) == 1
    text = text.replace('{concept: sbp, op: ">=", ' + EMERGENCY, '{concept: sbp, op: "<", ' + EMERGENCY)
    path.write_text(text, encoding="utf-8")
    return target


def test_cli_pack_validate_worked_pack_exit_0(runner: CliRunner) -> None:
    res = run(runner, "validate", str(HTN))
    assert res.exit_code == 0, res.output
    assert "htn-community@1.3.0: valid" in res.output


def test_cli_pack_validate_broken_exit_1_with_located_message(runner: CliRunner,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    res = run(runner, "validate", "tests/fixtures/packs/broken/unknown-disease")
    assert res.exit_code == 1, res.output
    assert (BROKEN / "unknown-disease.expected").read_text(encoding="utf-8").strip() in res.output


def test_cli_pack_validate_json_lists_problems(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    res = run(runner, "validate", "tests/fixtures/packs/broken/version-unchanged", "--format", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["ok"] is False
    problem = doc["packs"][0]["problems"][0]
    assert problem["code"] == "version-unchanged" and problem["field"] == "version" and problem["line"] == 3


def test_cli_pack_validate_missing_folder_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    res = run(runner, "validate", str(tmp_path / "nowhere"))
    assert res.exit_code == 2, res.output
    assert "[not-a-pack]" in res.output


def test_cli_pack_test_worked_pack_exit_0(runner: CliRunner) -> None:
    res = run(runner, "test", str(HTN), "--examples", "5")
    assert res.exit_code == 0, res.output
    cases = sum(len(load_cases(f)) for f in sorted((HTN / "cases").glob("*.yaml")))
    assert f"example cases: {cases} passed, 0 failed" in res.output and "result: PASSED" in res.output


def test_cli_pack_test_wrong_threshold_exit_1_with_counterexample(runner: CliRunner, wrong_copy: Path) -> None:
    res = run(runner, "test", str(wrong_copy), "--examples", "10")
    assert res.exit_code == 1, res.output
    assert "FAIL monotone_increasing sbp htn-community/referral/ambulance-bp-neurological" in res.output
    assert "minimal FHIR bundle:" in res.output and "trace:" in res.output


def test_cli_pack_test_json_for_ci(runner: CliRunner, wrong_copy: Path) -> None:
    res = run(runner, "test", str(wrong_copy), "--examples", "5", "--format", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    failed = [p for p in doc["packs"][0]["properties"] if p["status"] == "failed"]
    assert failed and failed[0]["counterexample"]["bundle"]["resourceType"] == "Bundle"
    # The example cases still pass (DBP 122 meets the other branch): only the property finds the slip.
    assert all(c["passed"] for c in doc["packs"][0]["cases"])


def test_cli_pack_diff_side_by_side(runner: CliRunner, wrong_copy: Path) -> None:
    # A case below the threshold, so that the slip shows whatever patients the generator draws.
    (wrong_copy / "cases" / "below-threshold.yaml").write_text(
        "cases:\n  - id: bp-170-100-with-headache\n    now: 2026-11-22T09:00:00+08:00\n    patient:\n"
        "      age_years: 60\n      sex: male\n      facts:\n        - {has: hypertension, days_ago: 900}\n"
        "        - {concept: sbp, value: 170, days_ago: 0}\n        - {concept: dbp, value: 100, days_ago: 0}\n"
        "        - {has: severe_headache, days_ago: 0}\n", encoding="utf-8")
    res = run(runner, "diff", str(HTN), str(wrong_copy), "--patients", "10", "--exit-code")
    assert res.exit_code == 1, res.output
    assert "~ ambulance-bp-neurological" in res.output
    assert "when.all[0].any[0].op: '>=' -> '<'" in res.output
    assert "| NEW htn-community@1.3.0" in res.output


def test_cli_pack_publish_writes_lock_and_refuses_changed_content(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "htn-community"
    shutil.copytree(HTN, target)
    res = run(runner, "publish", str(target))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "PUBLISHED.lock").read_text(encoding="utf-8").count("htn-community@1.3.0: ") == 1
    path = target / "rules" / "diagnosis.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("诊断标准（诊室血压）", "诊断标准"), encoding="utf-8")
    res = run(runner, "publish", str(target))
    assert res.exit_code == 1, res.output
    assert "[version-unchanged]" in res.output


def test_cli_pack_schema_markdown_names_every_rule_key(runner: CliRunner) -> None:
    res = run(runner, "schema", "--format", "markdown")
    assert res.exit_code == 0, res.output
    for key in ("`excludes`", "`properties`", "`monotone_increasing`", "`within_days`", "`on_days`"):
        assert key in res.output


def test_pytest_on_pathways_runs_cases_and_properties(tmp_path: Path, wrong_copy: Path) -> None:
    """`pytest pathways/` collects example cases and property groups; the wrong threshold fails."""
    pathways = tmp_path / "pathways"
    pathways.mkdir()
    shutil.move(str(wrong_copy), pathways / "htn-community")
    env = {**os.environ, "CDSS_PACK_EXAMPLES": "5"}
    proc = subprocess.run([sys.executable, "-m", "pytest", str(pathways), "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "FAILED pathways/htn-community/pack.yaml::properties-declared" in out
    assert "monotone_increasing sbp" in out and "minimal FHIR bundle" in out
    assert " passed" in out  # the example cases and the other property groups
