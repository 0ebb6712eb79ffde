"""Vocabulary floor: module locks that a forked child gets back released.

A process forked while another of its threads holds a module lock (compiling packs the first time, say)
copies a lock held by a thread that does not exist in the child, which would then wait for ever on its
first evaluation. Every module-level lock of cdss is made by `module_lock`, so the child of any fork (a
process pool, a pre-forking server) starts with a fresh one. The caches those locks guard are filled by
single assignments under the lock, so the child's copy holds whole entries or none.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_renewed: list[tuple[dict[str, Any], str, bool]] = []  # (a module's globals, the lock's name, reentrant)


def module_lock(namespace: dict[str, Any], name: str, *, reentrant: bool = False) -> Any:
    """A new lock for the module global `name` of `namespace` (pass `globals()`), replaced by a new one in
    the child of every fork: `_lock = module_lock(globals(), "_lock")`. The module reads it by name
    (`with _lock:`) and keeps it nowhere else."""
    _renewed.append((namespace, name, reentrant))
    return threading.RLock() if reentrant else threading.Lock()


def _after_fork_in_child() -> None:
    for namespace, name, reentrant in _renewed:
        namespace[name] = threading.RLock() if reentrant else threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
