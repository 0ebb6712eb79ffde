"""CLI end to end: `cdss terminology scan|check|suggest` and `cdss evaluate --concept-map`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cdss.cli import _register, app
from tests.conftest import FIXTURES

_register()
runner = CliRunner()
NOW = "2026-11-22T09:00:00+08:00"
LOCAL = str(FIXTURES / "bundles" / "htn-controlled-local-codes.json")
STANDARD = str(FIXTURES / "bundles" / "htn-controlled-loinc-k.json")
R4 = str(FIXTURES / "concept-maps" / "site-map-r4.json")
R5 = str(FIXTURES / "concept-maps" / "site-map-r5.json")


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_scan_json_contract():
    result = _run("terminology", "scan", LOCAL, "--format", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["unrecognised"]
    assert {tuple(sorted(i)) for i in items} == {("code", "count", "display", "resource_type", "system")}
    assert [(i["resource_type"], i["code"], i["count"]) for i in items] == [
        ("Condition", "GXY-01", 1), ("Observation", "K", 1), ("Observation", "XY", 2),
        ("Observation.component", "XY-DBP", 2), ("Observation.component", "XY-SBP", 2)]


def test_scan_with_the_map_finds_nothing_left_and_text_says_so():
    result = _run("terminology", "scan", LOCAL, "--concept-map", R4)
    assert result.exit_code == 0, result.output
    # the BP panel's own local code is not listed: its components are understood
    assert "no unrecognised codings (1 files)" in result.stdout


def test_scan_summary_gives_recognition_shares():
    result = _run("terminology", "scan", str(FIXTURES / "bundles" / "synthea"), "--summary", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["files"] == 8
    assert summary["recognition"]["Condition (active)"]["share"] >= 0.6


def test_scan_of_a_missing_file_is_exit_2():
    result = _run("terminology", "scan", "no/such/file.json")
    assert result.exit_code == 2 and "[file-unreadable]" in result.output


def test_check_accepts_good_maps_and_names_each():
    for path in (R4, R5):
        result = _run("terminology", "check", path)
        assert result.exit_code == 0, result.output
        assert "cdss-site-map|1.0.0" in result.stdout and "4 mapped" in result.stdout


def test_check_reports_problems_with_file_and_path(tmp_path):
    doc = json.loads(open(R4, encoding="utf-8").read())
    doc["group"][1]["element"][0]["target"][0]["code"] = "sbpp"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    result = _run("terminology", "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: ConceptMap.group[1].element[0].target[0].code: the target is no known concept" in result.output
    assert "did you mean 'sbp'?" in result.output and "[unknown-target-concept]" in result.output


def test_check_json_and_bad_json(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{\n  nope", encoding="utf-8")
    result = _run("terminology", "check", str(broken), "--format", "json")
    assert result.exit_code == 1
    problem = json.loads(result.stdout)["problems"][0]
    assert problem["code"] == "not-json" and problem["line"] == 2


def test_evaluate_with_concept_map_gives_the_standard_advice_and_names_the_map():
    standard = json.loads(_run("evaluate", STANDARD, "--now", NOW).stdout)
    mapped = json.loads(_run("evaluate", LOCAL, "--now", NOW, "--concept-map", R5).stdout)
    assert [s["id"] for s in mapped["suggestions"]] == [s["id"] for s in standard["suggestions"]]
    assert mapped["concept_maps"][0]["version"] == "1.0.0" and len(mapped["concept_maps"][0]["sha256"]) == 64


def test_suggest_writes_an_unconfirmed_draft_that_changes_nothing(tmp_path):
    out = tmp_path / "draft.json"
    result = _run("terminology", "suggest", LOCAL, "--out", str(out))
    assert result.exit_code == 0, result.output
    draft = json.loads(out.read_text(encoding="utf-8"))
    assert draft["resourceType"] == "ConceptMap" and draft["status"] == "draft"
    targets = [t for g in draft["group"] for e in g["element"] for t in e["target"]]
    assert targets and {t["equivalence"] for t in targets} == {"relatedto"}
    assert all(t["comment"].startswith("UNCONFIRMED") for t in targets)
    by_code = {e["code"]: [t["code"] for t in e["target"]] for g in draft["group"] for e in g["element"]}
    assert "sbp" in by_code["XY-SBP"] and "potassium" in by_code["K"]
    # the draft is valid, but maps nothing: every entry waits for a person
    check = _run("terminology", "check", str(out), "--format", "json")
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["maps"][0]["applied"] == 0
    unchanged = json.loads(_run("evaluate", LOCAL, "--now", NOW, "--concept-map", str(out)).stdout)
    assert {u["code"] for u in unchanged["unrecognised"]} >= {"XY-SBP", "K"}


def test_suggest_r5_uses_relationship():
    result = _run("terminology", "suggest", LOCAL, "--fhir-version", "R5")
    assert result.exit_code == 0, result.output
    targets = [t for g in json.loads(result.stdout)["group"] for e in g["element"] for t in e["target"]]
    assert {t["relationship"] for t in targets} == {"related-to"}
