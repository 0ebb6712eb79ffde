"""Regression (reviews/reliability.md D7): with `--workers 2`, `kill -9` of the master left the workers
serving (re-parented to init) and a restart could not bind. Each worker now watches its parent."""

from __future__ import annotations

import threading

from service.workers import orphaned, watch_parent


def test_orphaned_when_the_parent_pid_changes() -> None:
    assert not orphaned(100, lambda: 100)
    assert orphaned(100, lambda: 1)


def test_the_watch_stops_the_worker_once_the_master_is_gone() -> None:
    parents = iter([4242, 4242, 1])  # at start, first poll (alive), second poll (re-parented to init)
    stopped = threading.Event()
    thread = watch_parent(poll_s=0.001, on_orphan=stopped.set, getppid=lambda: next(parents, 1))
    thread.join(timeout=5)
    assert stopped.is_set()


def test_the_watch_does_nothing_while_the_master_lives() -> None:
    stop = threading.Event()
    calls: list[int] = []

    def getppid() -> int:
        calls.append(1)
        if len(calls) > 5:
            stop.set()
        return 4242

    thread = watch_parent(poll_s=0.001, stop=stop, on_orphan=lambda: calls.append(-1), getppid=getppid)
    thread.join(timeout=5)
    assert -1 not in calls
