"""Service: the CPU-bound part of a request (parse, evaluate, audit write, render) in one thread hop.

An evaluation holds the GIL for its whole run, so in one worker process two evaluations running at once
in two threads take as long as running them one after the other, and each of them ends later. Worse, with
many such threads (Starlette's pool has 40) the event loop thread must win the GIL from all of them every
time it reads a request body chunk or answers ``/healthz``: with 32 clients the answer times spread from
one to several seconds and the slowest is several times the median. So each worker runs the CPU work of
at most EVALUATION_THREADS requests at a time; the others wait, first come first served, in the event
loop, which stays free to read bodies, answer health checks and send responses. One worker per core
(``cdss serve --workers N``) then uses the machine fully.

A request's CPU work is one call, `run_cpu(request, fn, ...)`: one hop to the thread and back, not one
per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request

T = TypeVar("T")

# GIL-bound work in one process gains nothing from a second thread; see the module docstring.
EVALUATION_THREADS = 1


def install(app: FastAPI) -> None:
    """Make the app's limiter (call in the lifespan: it belongs to the running event loop)."""
    app.state.cpu_limiter = anyio.CapacityLimiter(EVALUATION_THREADS)


async def run_cpu(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread, at most EVALUATION_THREADS at a time in this process (FIFO)."""
    limiter = getattr(request.app.state, "cpu_limiter", None)
    if limiter is None:  # an app whose lifespan did not run (a test building routes alone)
        install(request.app)
        limiter = request.app.state.cpu_limiter
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
