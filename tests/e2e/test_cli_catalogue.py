"""`cdss catalogue` end to end through the Typer app (CliRunner); exit codes asserted with the output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cdss.cli.catalogue  # registers the command group
from cdss.cli import app
from cdss.errors import PackError
from cdss.packs.catalogue import bundled_catalogue_dir, load_bundled_catalogue, load_catalogue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "catalogue"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str):
    return runner.invoke(app, ["catalogue", *args])


def test_cli_catalogue_list_json_all_entries_with_kind_code(runner: CliRunner) -> None:
    res = run(runner, "list", "--format", "json")
    assert res.exit_code == 0, res.output
    entries = json.loads(res.stdout)
    assert len(entries) == 275
    for e in entries:
        assert {"id", "kind", "code", "name", "department", "role", "provenance"} <= e.keys()
        assert set(e["name"]) == {"zh", "en"}
    assert sum(e["kind"] == "tcm" for e in entries) == 114


def test_cli_catalogue_list_text_says_draft_and_chinese_first(runner: CliRunner) -> None:
    res = run(runner, "list", "--kind", "western", "--department", "心血管")
    assert res.exit_code == 0, res.output
    assert "非官方清单" in res.stdout and "not copied from the official list" in res.stdout
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("hypertension "))
    assert line.index("高血压") < line.index("Essential hypertension")
    assert "tcm-" not in res.stdout


def test_cli_catalogue_search_alias_json(runner: CliRunner) -> None:
    res = run(runner, "search", "房颤", "--format", "json")
    assert res.exit_code == 0, res.output
    assert [e["id"] for e in json.loads(res.stdout)] == ["atrial-fibrillation"]


def test_cli_catalogue_show_tcm_entry_with_syndromes(runner: CliRunner) -> None:
    res = run(runner, "show", "tcm-xiaoke")
    assert res.exit_code == 0, res.output
    assert "消渴病" in res.stdout and "A06.09" in res.stdout and "(derived)" in res.stdout


def test_cli_catalogue_show_unknown_id_exit_2_with_hint(runner: CliRunner) -> None:
    res = run(runner, "show", "hypertensoin")
    assert res.exit_code == 2, res.output
    assert "did you mean 'hypertension'?" in res.output and "[unknown-disease]" in res.output


def test_cli_catalogue_bad_kind_is_usage_error(runner: CliRunner) -> None:
    res = run(runner, "list", "--kind", "ayurveda")
    assert res.exit_code == 2, res.output


def test_cli_catalogue_other_catalogue_dir(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    shutil.copytree(bundled_catalogue_dir(), folder)
    (folder / "tcm.yaml").unlink()
    res = run(runner, "list", "--format", "json", "--catalogue", str(folder))
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)) == 161


def test_cli_catalogue_broken_catalogue_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    shutil.copytree(bundled_catalogue_dir(), folder)
    (folder / "western.yaml").write_text("diseases:\n  - id: x\n", encoding="utf-8")
    res = run(runner, "list", "--catalogue", str(folder))
    assert res.exit_code == 1, res.output
    assert "western.yaml:2:" in res.output and "[missing-key]" in res.output


def test_cli_catalogue_import_broken_file_exit_1_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "new"
    res = run(runner, "import", str(FIXTURES / "broken.csv"), "--version", "1.0.0", "--out", str(out))
    assert res.exit_code == 1, res.output
    for line in (FIXTURES / "broken.expected").read_text(encoding="utf-8").splitlines():
        assert line.split(": ", 1)[1] in res.output
    assert "nothing was written" in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_catalogue_import_official_sample_writes_version_and_diff(runner: CliRunner, tmp_path: Path,
                                                                     fixed_rules: None) -> None:
    out = tmp_path / "v1"
    res = run(runner, "import", str(FIXTURES / "official-sample.csv"), "--version", "1.0.0", "--out", str(out),
              "--effective", "2024-01-01", "--format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["catalogue"] == "community-basic-2023@1.0.0" and report["entries"] == 7
    assert report["diff"]["added"] == ["icd-z99-9"]
    assert {"id": "copd", "from": "慢性阻塞性肺疾病", "to": "慢阻肺"} in report["diff"]["renamed"]
    assert report["rules_losing_disease"] == {}  # hypertension, the only disease with rules, is kept
    written = load_catalogue(out)
    assert written.meta.status == "draft"
    assert all(d.provenance.status == "official" for d in written.diseases)


def test_cli_catalogue_import_removed_disease_lists_losing_rules(runner: CliRunner, tmp_path: Path,
                                                                 fixed_rules: None) -> None:
    path = tmp_path / "list.csv"
    path.write_text("序号,类别,病种名称,ICD-10编码\n1,西医,慢阻肺,J44.9\n", encoding="utf-8")
    res = run(runner, "import", str(path), "--version", "1.0.0", "--out", str(tmp_path / "v1"))
    assert res.exit_code == 0, res.output
    assert "rules that would lose their disease (1):" in res.stdout
    assert "hypertension: htn-community/referral/a" in res.stdout


def test_cli_catalogue_export_csv_import_round_trip(runner: CliRunner, tmp_path: Path, fixed_rules: None) -> None:
    csv_path = tmp_path / "all.csv"
    res = run(runner, "export", "--format", "csv", "--out", str(csv_path))
    assert res.exit_code == 0, res.output
    res = run(runner, "import", str(csv_path), "--version", "0.2.0", "--out", str(tmp_path / "v2"))
    assert res.exit_code == 0, res.output
    assert "added (0)" in res.stdout and "removed (0)" in res.stdout and "recoded (0)" in res.stdout
    assert load_catalogue(tmp_path / "v2").diseases == load_bundled_catalogue().diseases


def test_cli_catalogue_import_existing_out_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    res = run(runner, "import", str(FIXTURES / "official-sample.csv"), "--version", "1.0.0", "--out",
              str(tmp_path))
    assert res.exit_code == 2, res.output
    assert "[output-exists]" in res.output


@pytest.mark.parametrize(("fmt", "kind", "resource"), [
    ("codesystem", None, "CodeSystem"), ("valueset", "tcm", "ValueSet"), ("valueset", None, "ValueSet")])
def test_cli_catalogue_export_fhir(runner: CliRunner, fmt: str, kind: str | None, resource: str) -> None:
    res = run(runner, "export", "--format", fmt, *(["--kind", kind] if kind else []))
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    items = data if isinstance(data, list) else [data]
    assert all(r["resourceType"] == resource for r in items)


RULES = [("htn-community/referral/a", "referral", "hypertension"), ("x/pathway/b", "pathway", None)]


@pytest.fixture
def fixed_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rule packs of other work in progress must not decide these tests: rules are handed in.
    monkeypatch.setattr(cdss.cli.catalogue, "rule_pairs", lambda catalogue_dir: RULES)


def test_cli_catalogue_coverage_text_lists_covered_and_uncovered(runner: CliRunner, fixed_rules: None) -> None:
    res = run(runner, "coverage")
    assert res.exit_code == 0, res.output
    assert "hypertension" in res.stdout and "[htn-community]" in res.stdout
    assert "# covered 1 of 275" in res.stdout and "# uncovered (274)" in res.stdout


def test_cli_catalogue_coverage_broken_rule_pack_exit_1(runner: CliRunner,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(catalogue_dir: Path | None) -> list:
        raise PackError.one("a pack needs at least one rules/*.yaml file", "no-rules", file="pathways/x/pack.yaml")

    monkeypatch.setattr(cdss.cli.catalogue, "rule_pairs", broken)
    res = run(runner, "coverage")
    assert res.exit_code == 1, res.output
    assert "pathways/x/pack.yaml: a pack needs at least one rules/*.yaml file [no-rules]" in res.output


def test_cli_catalogue_coverage_json_shape(runner: CliRunner, fixed_rules: None) -> None:
    res = run(runner, "coverage", "--format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert set(report) == {"diseases", "totals"}
    assert len(report["diseases"]) == 275
    first = report["diseases"][0]
    assert set(first) == {"id", "kind", "code", "name", "rules"}
    assert set(first["rules"]) == {"diagnosis", "treatment", "referral", "pathway", "medication"}
    totals = report["totals"]
    assert totals["covered"] + totals["uncovered"] == 275 == totals["diseases"]
    assert len(totals["uncovered_ids"]) == totals["uncovered"]
    hypertension = next(d for d in report["diseases"] if d["id"] == "hypertension")
    assert hypertension["rules"]["referral"] == 1 and totals["covered"] == 1
