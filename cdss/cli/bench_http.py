"""CLI: `cdss bench --http`: load benchmark of the real service over HTTP, on loopback only.

Starts `cdss serve` in a subprocess (uvicorn with the ``service.app:create_app`` factory, ``--workers N``)
on 127.0.0.1 with a free port, a temporary ``--data`` folder and ``CDSS_AUTH=off``; polls ``GET /healthz``
a bounded number of times; then, for each concurrency level, sends a fixed number of ``POST /fhir/$evaluate``
requests carrying one generated 500-resource patient Bundle from that many concurrent clients (asyncio
coroutines sharing one bounded request counter, each waiting for its answer before sending the next). It
reports requests per second (requests / wall time of the level), p50 and p99 latency (nearest rank, over the
answered requests), the number of errors (any answer but 200, or a transport error), and the CPU time per
request of the server (all its processes, from /proc; None elsewhere) and of this client process. The server is
always stopped: ``finally``, an ``atexit`` hook, SIGTERM turned into an exit, and on Linux the server dies
with this process (``PR_SET_PDEATHSIG``). Inherited ``CDSS_*`` variables are not passed to the server, so
the figures are those of the defaults (SQLite audit storage, default limits).

The client runs on the same machine and takes its CPU from the server's: it keeps one HTTP/1.1 keep-alive
connection per client and sends the body encoded once, but httpx is pure Python and costs a few ms of CPU
per request (the report shows how much). The CPU figures bound what the latencies can be: a closed loop of
C clients on N CPUs answers at most N / (server + client CPU per request) requests per second, and by
Little's law each request then takes about C / that rate; the load average printed with the table says how
much of the machine other processes took meanwhile.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import typer

from cdss.cli.bench_table import quantile

HOST = "127.0.0.1"  # loopback only: the benchmark never sends traffic anywhere else
RESOURCES = 500
READY_ATTEMPTS = 1800  # x READY_INTERVAL_S: at most about 3 minutes for the workers to load the packs (loaded box)
READY_INTERVAL_S = 0.1
START_ATTEMPTS = 3  # a new free port when another process took ours between choosing and binding
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 120.0
MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 256
FHIR_JSON = "application/fhir+json"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


class BenchError(Exception):
    """The benchmark could not run (the server did not start, or answered its first request wrongly)."""


@dataclass
class Case:
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_ms: float | None = None  # CPU time of the server's processes per request (Linux /proc)
    client_cpu_ms: float | None = None  # CPU time of this (client) process per request


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in process group `pgid`."""
    proc = Path("/proc")
    if proc.is_dir():
        for stat in proc.glob("[0-9]*/stat"):
            try:
                # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_cpu_s(pgid: int) -> float | None:
    """User + system CPU seconds used so far by the live processes of process group `pgid` (None without /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after comm: state ppid pgrp ... utime stime
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def own_cpu_s() -> float:
    """User + system CPU seconds of this process (every thread)."""
    return time.process_time()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """`cdss serve` in a subprocess of its own process group, on loopback, auth off, data in a temporary folder."""

    def __init__(self, workers: int, data: Path | None = None) -> None:
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.data = data or Path(tempfile.mkdtemp(prefix="cdss-bench-http-"))
        self.log_path = self.data / "server.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDSS_")}
        env["CDSS_AUTH"] = "off"
        self.port = free_port()
        args = [sys.executable, "-c", "from cdss.cli import main; main()", "serve", "--host", HOST,
                "--port", str(self.port), "--data", str(self.data), "--workers", str(self.workers)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        atexit.register(self.stop)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, client: httpx.Client) -> dict[str, Any]:
        """The /healthz body once the server is ready, polling at most READY_ATTEMPTS times.

        Ready means: uvicorn's log says it bound *our* port (so /healthz is not answered by another process
        that took the port meanwhile), every worker logged "Application startup complete", none logged a
        failed startup, and /healthz answers 200.

        Raises:
            BenchError: the server exited, a worker failed to start, or it did not become ready.
        """
        assert self.proc is not None
        for _ in range(READY_ATTEMPTS):
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            if self.proc.poll() is not None or "Application startup failed" in log:
                raise BenchError(f"the server failed to start (exit code {self.proc.poll()}):\n{self.log_tail()}")
            if (f"running on {self.url}" in log
                    and log.count("Application startup complete") >= self.workers):
                try:
                    resp = client.get(f"{self.url}/healthz", timeout=2.0)
                    if resp.status_code == 200:
                        return resp.json()
                except httpx.TransportError:
                    pass
            time.sleep(READY_INTERVAL_S)
        raise BenchError(f"the server was not ready after {READY_ATTEMPTS} polls of /healthz:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server and every worker (SIGTERM, then SIGKILL to the group), remove the data folder.
        Idempotent."""
        self.halt()
        shutil.rmtree(self.data, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server and every worker, keeping the data folder. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(STOP_TIMEOUT_S)
            if group_alive(proc.pid):  # a worker outlived the supervisor
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                # SIGKILL is delivered asynchronously: return only once the group is gone (bounded wait), so
                # that "stopped" is true when this returns.
                deadline = time.monotonic() + STOP_TIMEOUT_S
                while group_alive(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)


def start_server(workers: int, progress=lambda msg: None) -> Server:
    """A ready server, trying again (at most START_ATTEMPTS starts) when the chosen port was taken meanwhile.

    Raises:
        BenchError: the server did not start.
    """
    data = None
    for attempt in range(START_ATTEMPTS):
        server = Server(workers, data)
        try:
            server.start()
            with httpx.Client(trust_env=False) as client:
                health = server.wait_ready(client)
        except BaseException as exc:
            server.halt()
            text = server.log_path.read_text(errors="replace").lower() if isinstance(exc, BenchError) else ""
            if attempt + 1 < START_ATTEMPTS and "address already in use" in text:
                server.stop()
                continue
            server.stop()
            raise
        if health.get("auth") != "off":
            server.stop()
            raise BenchError(f"the server runs with auth {health.get('auth')!r}; expected off on loopback")
        return server
    raise AssertionError("unreachable")


async def _send(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[float, str | None]:
    """(latency in ms, None) for a 200 answer, else (latency, what went wrong)."""
    t0 = time.perf_counter()
    try:
        resp = await client.post(url, content=body, headers={"content-type": FHIR_JSON, "accept": FHIR_JSON})
        problem = None if resp.status_code == 200 else f"HTTP {resp.status_code}: {resp.text[:200]}"
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    return (time.perf_counter() - t0) * 1000, problem


async def run_case(url: str, body: bytes, concurrency: int, requests: int) -> tuple[Case, list[str]]:
    """Send `requests` requests from `concurrency` closed-loop clients; the case and the first few errors."""
    latencies: list[float] = []
    problems: list[str] = []
    errors = 0
    tickets = iter(range(requests))  # shared: each request is sent once, by whichever client is free

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(trust_env=False, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:

        async def one_client() -> None:
            nonlocal errors
            for _ in tickets:
                ms, problem = await _send(client, url, body)
                if problem is None:
                    latencies.append(ms)
                else:
                    errors += 1
                    if len(problems) < 5:
                        problems.append(problem)

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    case = Case(concurrency=concurrency, requests=requests, errors=errors, rps=round(requests / wall, 2),
                p50_ms=round(quantile(latencies, 0.50), 1) if latencies else None,
                p99_ms=round(quantile(latencies, 0.99), 1) if latencies else None)
    return case, problems


async def _warm_up(url: str, body: bytes, workers: int) -> None:
    """A few requests, not counted, so that every worker has answered once; the first answer must be a Bundle.

    Raises:
        BenchError: the service does not answer the benchmark request with 200 and a Bundle.
    """
    async with httpx.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_S) as client:
        resp = await client.post(url, content=body, headers={"content-type": FHIR_JSON, "accept": FHIR_JSON})
        if resp.status_code != 200 or resp.json().get("resourceType") != "Bundle":
            raise BenchError(f"POST /fhir/$evaluate answered {resp.status_code}: {resp.text[:500]}")
    case, problems = await run_case(url, body, concurrency=workers, requests=2 * workers)
    if case.errors:
        raise BenchError(f"{case.errors} warm-up request(s) failed: {problems[0]}")


def benchmark_body() -> bytes:
    """The request: one deterministic 500-resource patient Bundle, serialised once."""
    from cdss.packs.registry import default_registry
    from cdss.testing.factories import synthetic_bundle

    registry = default_registry()
    return json.dumps(synthetic_bundle(RESOURCES, concepts=registry.concepts, now=NOW)).encode()


def parse_levels(text: str) -> list[int]:
    """`1,8,32` -> [1, 8, 32].

    Raises:
        ValueError: not a list of whole numbers from 1 to MAX_CONCURRENCY.
    """
    levels = [int(s) for s in text.split(",") if s.strip()]
    if not levels or any(not 1 <= n <= MAX_CONCURRENCY for n in levels):
        raise ValueError(text)
    return levels


def run(workers: int, levels: list[int], requests: int, progress=lambda msg: None) -> dict[str, Any]:
    """Start the server, run every level, stop the server; the report.

    Raises:
        BenchError: the server did not start or does not answer the benchmark request.
    """
    body = benchmark_body()
    progress(f"starting cdss serve on {HOST} with {workers} worker(s), auth off")
    t0 = time.perf_counter()
    server = start_server(workers, progress)
    try:
        url = f"{server.url}/fhir/$evaluate"
        progress(f"ready after {time.perf_counter() - t0:.1f} s at {server.url}; warming up")
        asyncio.run(_warm_up(url, body, workers))
        cases = []
        for level in levels:
            progress(f"concurrency {level}: {requests} requests ...")
            server_cpu, client_cpu = group_cpu_s(server.proc.pid), own_cpu_s()
            case, problems = asyncio.run(run_case(url, body, level, requests))
            server_after = group_cpu_s(server.proc.pid)
            if server_cpu is not None and server_after is not None:
                case.server_cpu_ms = round((server_after - server_cpu) * 1000 / requests, 1)
            case.client_cpu_ms = round((own_cpu_s() - client_cpu) * 1000 / requests, 1)
            for problem in problems:
                progress(f"  error: {problem}")
            progress(f"  {case.rps} req/s, p50 {case.p50_ms} ms, p99 {case.p99_ms} ms, {case.errors} error(s); "
                     f"CPU per request: server {case.server_cpu_ms} ms, client {case.client_cpu_ms} ms")
            if server.proc is None or server.proc.poll() is not None:
                raise BenchError(f"the server stopped during the run:\n{server.log_tail()}")
            cases.append(asdict(case))
        if any(c["errors"] for c in cases):
            progress(f"server log (last lines):\n{server.log_tail(30)}")
    finally:
        server.stop()
        progress("server stopped")
    return {"workers": workers, "resources": RESOURCES, "bundle_bytes": len(body), "cpus": os.cpu_count(),
            "load_average": _load_average(), "cases": cases}


def _load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages at the end of the run (None where the system has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def run_http_bench(*, workers: int, concurrency: str, requests: int, fmt: str) -> None:
    """The `cdss bench --http` command: print the report (text table or JSON); exit 1 when a request failed."""
    try:
        levels = parse_levels(concurrency)
    except ValueError:
        typer.echo(f"cdss: --concurrency: not a list of numbers from 1 to {MAX_CONCURRENCY} (got {concurrency!r}) "
                   f"[bad-concurrency]", err=True)
        raise typer.Exit(2) from None
    if not 1 <= requests <= MAX_REQUESTS:
        typer.echo(f"cdss: --requests: from 1 to {MAX_REQUESTS} (got {requests}) [bad-requests]", err=True)
        raise typer.Exit(2)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main_thread else None
    try:
        report = run(workers, levels, requests, progress=lambda msg: typer.echo(f"cdss bench: {msg}", err=True))
    except BenchError as exc:
        typer.echo(f"cdss: the benchmark could not run: {exc} [bench-failed]", err=True)
        raise typer.Exit(1) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if fmt == "json":
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(f"POST /fhir/$evaluate, one {RESOURCES}-resource patient ({report['bundle_bytes']} bytes), "
                   f"server: cdss serve --workers {workers} on {HOST} (auth off, SQLite audit), "
                   f"{report['cpus']} CPU(s) shared with the client")
        load = report["load_average"]
        if load:
            typer.echo(f"load average at the end: {load[0]} {load[1]} {load[2]}")
        typer.echo(f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                   f"{'server CPU ms/req':>17} {'client CPU ms/req':>17}")
        for c in report["cases"]:
            typer.echo(f"{c['concurrency']:>7} {c['requests']:>8} {c['errors']:>6} {c['rps']:>8} "
                       f"{c['p50_ms']!s:>8} {c['p99_ms']!s:>8} {c['server_cpu_ms']!s:>17} {c['client_cpu_ms']!s:>17}")
    if any(c["errors"] for c in report["cases"]):
        raise typer.Exit(1)
