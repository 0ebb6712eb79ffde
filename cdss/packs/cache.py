"""Packs: a cache of checked packs, so that a process does not parse and check ~90 YAML files at start-up.

The bundled registry (concepts, catalogue, every pack) is stored pickled in a user cache folder, under a key
that is the sha256 of everything it was built from: the bytes and paths of every input file, the source of
the modules that read and check them (`cdss/vocab`, `cdss/packs`, `cdss/errors.py`), the Python and pydantic
versions and the working directory (messages show paths relative to it). A stored entry is used only when
its key, recomputed from the files, is the same; any other entry is ignored, and a failed read rebuilds.
The folder is safe to delete at any time. Other kinds stored the same way: `ready` (the registry with the
default packs compiled and indexed, `cdss.engine.plan_cache`) and `safety` (`cdss.packs.scope`); what is
cached and how it is invalidated: docs/reference/pack-cache.md.

A stored entry is read with the garbage collector paused, and what it read is then frozen out of the
collector's passes (`gc.freeze()`): the entries hold hundreds of thousands of objects that live as long as
the process, and the collector would otherwise walk them again and again while they are read and after
(about a quarter of the CPU of a `cdss evaluate` process, measured).

Where: `$CDSS_PACK_CACHE` if set (`off` disables the cache), else `$XDG_CACHE_HOME/cdss` or `~/.cache/cdss`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pydantic

T = TypeVar("T")
ENV = "CDSS_PACK_CACHE"
KEEP = 8  # entries kept per kind; older ones are removed
_CODE = Path(__file__).resolve().parent.parent  # the cdss package


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    configured = os.environ.get(ENV, "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cdss"


def content_key(files: Iterable[Path], *extra: str) -> str:
    """sha256 over the inputs: each file's path and bytes, the loading code, the versions, `extra`."""
    digest = hashlib.sha256()
    code = sorted([*(_CODE / "vocab").glob("*.py"), *(_CODE / "packs").glob("*.py"), _CODE / "errors.py"])
    for part in (sys.version, pydantic.VERSION, str(Path.cwd()), *extra):
        digest.update(part.encode() + b"\0")
    for path in [*code, *sorted(files)]:
        digest.update(str(path).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cached(kind: str, files: Iterable[Path], build: Callable[[], T], *extra: str) -> T:
    """`build()`, or its stored result when every input (the files, `extra`) is unchanged (see the module
    docstring)."""
    folder = cache_dir()
    if folder is None:
        return build()
    try:
        key = content_key(files, kind, *extra)
    except OSError:
        return build()
    path = folder / f"{kind}-{key}.pickle"
    try:
        stored_key, value = _load(path.read_bytes())
        if stored_key == key:
            return value
    except Exception:  # absent, unreadable, truncated or from another version: rebuild
        pass
    value = build()
    _store(folder, path, kind, (key, value))
    return value


def _load(data: bytes) -> tuple[str, object]:
    """Unpickle with the collector paused (nothing read is garbage), then freeze what was read."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        stored = pickle.loads(data)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    return stored


def _store(folder: Path, path: Path, kind: str, payload: object) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{kind}-", delete=False) as fh:
            fh.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(fh.name, path)  # atomic: a concurrent reader sees the old file or the new one
        entries = sorted(folder.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only or full disk: the cache is an optimisation only
