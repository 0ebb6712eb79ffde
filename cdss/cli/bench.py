"""CLI: `cdss bench`: how fast intake and evaluation are, against plain `json.loads` of the same bytes."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path

import typer

from cdss.cli import OutputFormat, app, fail
from cdss.cli.bench_table import col, echo_cases, quantile
from cdss.errors import CdssError
from cdss.vocab.collector import settle_long_lived


@app.command("bench")
def bench_command(
    sizes: str = typer.Option("50,500,5000", "--sizes", help="Bundle sizes (resources), comma-separated."),
    repeat: int = typer.Option(30, "--repeat", min=3, help="Timed evaluations per size."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    http: bool = typer.Option(False, "--http", help="Load-test the real server over loopback HTTP instead "
                                                    "(cdss/cli/bench_http.py)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="With --http: server worker processes."),
    concurrency: str = typer.Option("1,8,32", "--concurrency", help="With --http: concurrent clients, "
                                                                     "comma-separated levels."),
    requests: int = typer.Option(200, "--requests", min=1, help="With --http: requests per level."),
    batch: bool = typer.Option(False, "--batch", help="Benchmark `cdss batch` instead: patients/s, MB/s per "
                                                      "core and peak memory on generated populations "
                                                      "(--population) and the Synthea samples "
                                                      "(cdss/cli/bench_batch.py)."),
    population: str = typer.Option("1000,10000", "--population", help="With --batch: generated population "
                                                                     "sizes, comma-separated."),
    matcher_name: str = typer.Option("durable", "--matcher", help="Which matcher decides the tests: durable "
                                     "(durable-rules, the default) or plain (the reference)."),
    startup: bool = typer.Option(False, "--startup", help="Measure instead the start-up of `cdss evaluate` of a "
                                 "small bundle with all packs, in fresh processes with bytecode (CPU seconds): "
                                 "without the pack cache (at most 5 runs), filling it, and from it (--repeat "
                                 "runs)."),
    rules_scale: str = typer.Option("", "--rules-scale", help="Measure instead how evaluation time grows with "
                                    "the rules: comma-separated scales (e.g. 1,5,10), each running every pack "
                                    "and scale - 1 renamed copies of it, timed on a small and a 500-resource "
                                    "bundle (cdss/cli/bench_scale.py)."),
    own_concepts: bool = typer.Option(False, "--own-concepts", help="With --rules-scale: each copy tests "
                                      "concepts of its own, which no record mentions (new content for other "
                                      "conditions), instead of the original's (the worst case)."),
    plot: Path | None = typer.Option(None, "--plot", help="With --rules-scale: also write the curve as SVG."),
) -> None:
    """Measure intake + evaluation per bundle (p50, p99), bundles per second on one core, peak memory, and the
    ratio to `json.loads` of the same bytes (the floor: nothing can be faster than reading the JSON).
    With --http: requests per second and p50 / p99 latency of POST /fhir/$evaluate on a real server."""
    if batch:
        from cdss.cli.bench_batch import run_batch_bench

        run_batch_bench(population, 0 if workers == 1 else workers, fmt.value)
        return
    if rules_scale:
        _scale_bench(rules_scale, repeat=repeat, matcher_name=matcher_name, fmt=fmt, plot_path=plot,
                     own_concepts=own_concepts)
        return
    if startup:
        _startup_bench(repeat=repeat, fmt=fmt)
        return
    if http:
        from cdss.cli.bench_http import run_http_bench

        run_http_bench(workers=workers, concurrency=concurrency, requests=requests, fmt=fmt.value)
        return
    from cdss.engine.evaluate import evaluate
    from cdss.engine.matcher import matcher_named
    from cdss.packs.registry import default_registry
    from cdss.testing.factories import synthetic_bundle

    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
        registry = default_registry()
        matcher = matcher_named(matcher_name)
    except ValueError:
        typer.echo(f"cdss: --sizes: not a list of numbers (got {sizes!r}) [bad-sizes]", err=True)
        raise typer.Exit(2) from None
    except CdssError as exc:
        fail(exc, 1)
    now = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
    cases = []
    differential_ms: list[float] = []
    _time_differential(differential_ms)
    with typer.progressbar(counts, label="benchmarking", file=sys.stderr) as bar:  # progress on stderr
        for n in bar:
            data = json.dumps(synthetic_bundle(n, concepts=registry.concepts, now=now)).encode()
            evaluate(data, now=now, registry=registry, matcher=matcher)  # warm-up: compile packs, convert units once
            loads, whole = [], []
            differential_ms.clear()
            settle_long_lived()  # as the service does once its registry is loaded (service/deps.py)
            for _ in range(repeat):
                t0 = time.perf_counter()
                json.loads(data)
                t1 = time.perf_counter()
                evaluate(data, now=now, registry=registry, matcher=matcher)
                t2 = time.perf_counter()
                loads.append((t1 - t0) * 1000)
                whole.append((t2 - t1) * 1000)
            ddx = list(differential_ms)
            tracemalloc.start()
            evaluate(data, now=now, registry=registry, matcher=matcher)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            p50, loads_ms = statistics.median(whole), statistics.median(loads)
            cases.append({"resources": n, "bytes": len(data), "p50_ms": round(p50, 3),
                          "p99_ms": round(quantile(whole, 0.99), 3), "json_loads_ms": round(loads_ms, 3),
                          "ratio": round(p50 / loads_ms, 2), "per_second": round(1000 / p50, 1),
                          "peak_mb": round(peak, 2), "differential_p50_ms": round(statistics.median(ddx), 3),
                          "differential_share": round(statistics.median(ddx) / p50, 3)})
    packs = [p.key for p in registry.select()]
    echo_cases(cases, [
        col("resources", ">9"), col("bytes", ">9"), col("p50 ms", ">8", "p50_ms"), col("p99 ms", ">8", "p99_ms"),
        col("loads ms", ">9", "json_loads_ms"), col("ratio", ">6"), col("per s", ">7", "per_second"),
        col("peak MB", ">8", "peak_mb"), col("ddx ms", ">7", "differential_p50_ms"),
        ("ddx %", ">6", lambda c: f"{c['differential_share'] * 100:.1f}%")],
        as_json={"packs": packs, "matcher": matcher.name, "repeat": repeat} if fmt is OutputFormat.json else None,
        heading=f"packs: {', '.join(packs)}; matcher {matcher.name}; {repeat} timed runs per size, one core")


def _time_differential(into: list[float]) -> None:
    """Time the differential inside each evaluation (`ddx ms`: building it from the decided diagnosis rules),
    by wrapping the engine's call for this process only."""
    from cdss.engine import evaluate as engine

    build = engine.build_differential

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - a transparent wrapper
        t0 = time.perf_counter()
        try:
            return build(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - t0) * 1000)

    engine.build_differential = timed  # type: ignore[assignment]


def startup_env(environ: Mapping[str, str], tmp: Path) -> dict[str, str]:
    """The environment of the start-up bench's processes: bytecode written once, to `tmp`, and then read."""
    env = {name: value for name, value in environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "bytecode")
    return env


def _startup_bench(*, repeat: int, fmt: OutputFormat) -> None:
    """CPU seconds (user + system) of whole `cdss evaluate` processes, cache off / cold / warm.

    The processes run with bytecode (compiled once, into a temporary folder), as an installed package does:
    with PYTHONDONTWRITEBYTECODE set (as on some CI machines) every process would compile every module from
    source, a cost no installed program pays."""
    import os
    import resource
    import subprocess
    import tempfile

    from cdss.packs.cache import ENV
    from cdss.packs.registry import load_registry
    from cdss.testing.factories import synthetic_bundle

    now = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory(prefix="cdss-startup-") as tmp:
        bundle = Path(tmp) / "bundle.json"
        bundle.write_text(json.dumps(synthetic_bundle(20, concepts=load_registry(bundled=False).concepts, now=now)))
        command = [sys.executable, "-c", "from cdss.cli import main; main()", "evaluate", str(bundle), "--now",
                   now.isoformat()]

        env = startup_env(os.environ, Path(tmp))

        def cpu(cache: str) -> float:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, env={**env, ENV: cache}, stdout=subprocess.DEVNULL, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 3)

        cache_dir = str(Path(tmp) / "cache")
        cpu("off")  # compiles the bytecode
        runs = {"no cache": [cpu("off") for _ in range(min(repeat, 5))], "filling the cache": [cpu(cache_dir)],
                "from the cache": [cpu(cache_dir) for _ in range(repeat)]}
    figures = {name: {"median_cpu_s": statistics.median(v), "runs": v} for name, v in runs.items()}
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"startup": figures}, indent=2))
        return
    typer.echo("`cdss evaluate` of a 20-resource bundle with all packs, whole process, CPU seconds (user + system)")
    for name, f in figures.items():
        typer.echo(f"{name:>18}: {f['median_cpu_s']:.3f} s (median of {len(f['runs'])}; "
                   f"{min(f['runs']):.3f}-{max(f['runs']):.3f})")


def _scale_bench(scales_text: str, *, repeat: int, matcher_name: str, fmt: OutputFormat,
                 plot_path: Path | None, own_concepts: bool) -> None:
    from cdss.cli.bench_scale import measure, parse_scales, plot, print_table

    try:
        scales = parse_scales(scales_text)
    except ValueError:
        typer.echo(f"cdss: --rules-scale: not a list of whole numbers >= 1 (got {scales_text!r}) [bad-scales]",
                   err=True)
        raise typer.Exit(2) from None
    try:
        result = measure(scales, repeat=repeat, matcher_name=matcher_name, own_concepts=own_concepts)
    except CdssError as exc:
        fail(exc, 1)
    if plot_path is not None:
        plot(result, plot_path)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result, indent=2))
        return
    print_table(result)
