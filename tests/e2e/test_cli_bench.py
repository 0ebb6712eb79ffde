"""`cdss bench --matcher`: either matcher can be timed, and an unknown one is a clear error (no timings asserted)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cdss.cli import _register, app

_register()
runner = CliRunner()


def test_bench_times_the_plain_matcher_and_says_so():
    result = runner.invoke(app, ["bench", "--sizes", "5", "--repeat", "3", "--matcher", "plain", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["matcher"] == "plain" and [c["resources"] for c in report["cases"]] == [5]


def test_bench_refuses_an_unknown_matcher():
    result = runner.invoke(app, ["bench", "--sizes", "5", "--repeat", "3", "--matcher", "rete"])
    assert result.exit_code == 1
    assert "unknown matcher 'rete'" in result.output and "[unknown-matcher]" in result.output


def test_startup_bench_processes_write_and_read_bytecode_even_when_the_machine_says_not_to(tmp_path):
    # With PYTHONDONTWRITEBYTECODE (set on this CI machine) every process compiled every module from source:
    # 0.05-0.15 s of CPU that no installed program pays, reported as start-up.
    from cdss.cli.bench import startup_env

    env = startup_env({"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin"}, tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "bytecode")
    assert env["PATH"] == "/usr/bin"
