"""CLI end to end: `cdss evaluate` through the real command, exit codes and output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cdss.cli import _register, app
from tests.conftest import FIXTURES

_register()
runner = CliRunner()
NOW = "2026-11-22T09:00:00+08:00"
EMERGENCY = str(FIXTURES / "bundles" / "htn-emergency.json")


def _run(*args: str, input: bytes | None = None):
    return runner.invoke(app, list(args), input=input)


def test_evaluate_json_contract():
    result = _run("evaluate", EMERGENCY, "--now", NOW, "--pack", "htn-community")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= {"patient", "now", "packs", "suggestions", "data_gaps"}
    assert out["patient"] == "Patient/wang-jianguo"
    assert {"id", "version", "sha256"} <= set(out["packs"][0])
    first = out["suggestions"][0]
    assert set(first) >= {"id", "kind", "urgency", "disease", "title", "detail", "rule", "rationale", "citations",
                          "evidence"}
    assert first["urgency"] == "emergency" and first["disease"]["code"] == "I10"
    assert first["rule"].startswith("htn-community@1.3.0#htn-community/referral/")


def test_evaluate_stdin_and_file_agree():
    from_file = _run("evaluate", EMERGENCY, "--now", NOW)
    from_stdin = _run("evaluate", "-", "--now", NOW, input=open(EMERGENCY, "rb").read())
    assert from_file.exit_code == from_stdin.exit_code == 0, from_file.output + from_stdin.output
    assert from_file.stdout == from_stdin.stdout


def test_evaluate_text_is_chinese_first():
    result = _run("evaluate", EMERGENCY, "--now", NOW, "--format", "text")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    zh = next(i for i, line in enumerate(lines) if "急救车转诊" in line)
    en = next(i for i, line in enumerate(lines) if "ambulance" in line)
    assert zh < en
    assert "Observation/bp2" in result.stdout


@pytest.mark.parametrize("content, code", [
    (b"{oops", "not-json"),
    (b'{"resourceType": "Patient"}', "not-a-bundle"),
    (b'{"resourceType": "Bundle", "type": "collection", "entry": []}', "no-patient"),
])
def test_evaluate_bad_input_exits_2_with_one_line(tmp_path, content, code):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = _run("evaluate", str(path), "--now", NOW)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"[{code}]" in result.stderr and "bad.json" in result.stderr


def test_evaluate_bad_now_and_unknown_pack_exit_2():
    assert _run("evaluate", EMERGENCY, "--now", "yesterday").exit_code == 2
    result = _run("evaluate", EMERGENCY, "--now", NOW, "--pack", "nope@9.9.9")
    assert result.exit_code == 2 and "unknown-pack" in result.stderr


def test_evaluate_missing_file_exits_2():
    result = _run("evaluate", "/nonexistent/bundle.json", "--now", NOW)
    assert result.exit_code == 2 and "file-unreadable" in result.stderr
