"""`cdss bench --http` end to end: a real `cdss serve` on loopback, tiny numbers, the report's shape, no
errors, and no server process left afterwards. No timing asserts: the machine may be loaded."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from cdss.cli import _register, app, bench, bench_http

_register()
runner = CliRunner()

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")


@pytest.fixture
def servers(monkeypatch):
    """Every server the benchmark starts, with its pid and data folder recorded while it ran."""
    started = []
    real = bench_http.start_server

    def recording(workers: int, progress=lambda msg: None):
        server = real(workers, progress)
        started.append({"pid": server.proc.pid, "data": server.data, "workers": server.workers})
        return server

    monkeypatch.setattr(bench_http, "start_server", recording)
    return started


def test_bench_http_json_report_and_server_stopped(servers):
    result = runner.invoke(app, ["bench", "--http", "--workers", "2", "--concurrency", "1,2", "--requests", "5",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads(result.stdout)
    assert report["workers"] == 2 and report["resources"] == 500
    assert [c["concurrency"] for c in report["cases"]] == [1, 2]
    for case in report["cases"]:
        assert set(case) == {"concurrency", "requests", "errors", "rps", "p50_ms", "p99_ms", "server_cpu_ms",
                             "client_cpu_ms"}
        assert case["requests"] == 5 and case["errors"] == 0
        assert case["rps"] > 0 and 0 < case["p50_ms"] <= case["p99_ms"]
        # the server evaluated 5 requests in the level: its processes used CPU for them (Linux: from /proc)
        assert case["server_cpu_ms"] is None or case["server_cpu_ms"] > 0
        assert case["client_cpu_ms"] >= 0
    assert len(report["load_average"]) == 3
    assert "server stopped" in result.stderr
    assert len(servers) == 1
    pid = servers[0]["pid"]
    assert not bench_http.group_alive(pid), "the server or one of its workers is still running"
    assert not servers[0]["data"].exists()


def test_bench_http_text_table(servers):
    result = runner.invoke(app, ["bench", "--http", "--concurrency", "1", "--requests", "2"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "--workers 1" in result.stdout and "p99 ms" in result.stdout and "server CPU ms/req" in result.stdout
    assert not bench_http.group_alive(servers[0]["pid"])


@pytest.mark.parametrize("args", [["--concurrency", "1,x"], ["--concurrency", "0"], ["--requests", "0"]])
def test_bench_http_refuses_bad_numbers_without_starting_a_server(servers, args):
    result = runner.invoke(app, ["bench", "--http", *args])
    assert result.exit_code == 2
    assert servers == []


def test_quantile_is_the_one_of_statistics_for_both_benchmarks():
    values = [float(v) for v in range(1, 101)]
    assert bench_http.quantile is bench.quantile
    assert bench_http.quantile(values, 0.5) == 50.5
    assert bench_http.quantile(values, 0.99) == pytest.approx(99.01)
    assert bench_http.quantile([7.0], 0.99) == 7.0
