"""Module locks and fork: a child forked while another thread holds a cdss module lock can take it."""

from __future__ import annotations

import os
import threading

import cdss.engine.evaluate  # noqa: F401 - imports the engine's modules and so registers their locks
import cdss.engine.plan_cache  # noqa: F401
import cdss.render.conditions  # noqa: F401
from cdss.vocab import locks


def _held_by_another_thread() -> tuple[list[tuple[dict, str]], threading.Event, threading.Thread]:
    """Every registered module lock, acquired by a thread that is still alive (and holds them) on return."""
    names = [(namespace, name) for namespace, name, _ in locks._renewed]
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        for namespace, name in names:
            namespace[name].acquire()
        holding.set()
        release.wait()
        for namespace, name in reversed(names):
            namespace[name].release()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    return names, release, holder


def test_a_child_forked_while_another_thread_holds_every_module_lock_can_take_them() -> None:
    """Regression: compile, plan, plan_cache, supersede, units and the card wording kept plain module locks;
    a process forked while another of its threads compiled packs would hang on its first evaluation."""
    names, release, holder = _held_by_another_thread()
    try:
        modules = {namespace["__name__"] for namespace, _ in names}
        assert {"cdss.engine.compile", "cdss.engine.plan", "cdss.engine.plan_cache", "cdss.engine.supersede",
                "cdss.engine.durable", "cdss.vocab.units", "cdss.render.conditions"} <= modules
        pid = os.fork()
        if pid == 0:  # the child: exit 0 when it could take every lock without waiting
            free = all(namespace[name].acquire(blocking=False) for namespace, name in names)
            os._exit(0 if free else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "a forked child found a module lock held"
    finally:
        release.set()
        holder.join()


def test_the_parent_keeps_its_locks() -> None:
    """Only the child's locks are new: the parent's are the same objects before and after a fork."""
    before = [namespace[name] for namespace, name, _ in locks._renewed]
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert [namespace[name] for namespace, name, _ in locks._renewed] == before
