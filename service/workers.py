"""Service: a worker of `cdss serve --workers N` exits when its master process dies.

uvicorn's master restarts dead workers, but nothing stops the workers when the master itself is killed
(`kill -9`): they are re-parented to init, keep serving on the shared socket, and a new `cdss serve` on
the same port cannot bind. Each worker therefore watches its parent: once the parent is gone (the
parent pid changed), it stops itself with SIGTERM (uvicorn's graceful shutdown) and, if that has not
ended it within GRACE_S, exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

log = logging.getLogger("cdss.service")

POLL_S = 1.0
GRACE_S = 10.0


def orphaned(parent: int, getppid: Callable[[], int] = os.getppid) -> bool:
    """True when the process that started this one is no longer its parent."""
    return getppid() != parent


def watch_parent(*, poll_s: float = POLL_S, stop: threading.Event | None = None,
                 on_orphan: Callable[[], None] | None = None,
                 getppid: Callable[[], int] = os.getppid) -> threading.Thread:
    """Start a daemon thread that calls `on_orphan` (default: stop this process) once the parent dies."""
    parent = getppid()
    stop = stop or threading.Event()
    action = on_orphan or _stop_self

    def run() -> None:
        while not stop.wait(poll_s):
            if orphaned(parent, getppid):
                log.warning("the master process %s is gone; this worker stops", parent)
                action()
                return

    thread = threading.Thread(target=run, name="cdss-parent-watch", daemon=True)
    thread.start()
    return thread


def _stop_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    # uvicorn may be stuck in a long request: the process ends whatever happens.
    timer = threading.Timer(GRACE_S, os._exit, args=(0,))
    timer.daemon = True
    timer.start()
