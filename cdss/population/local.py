"""Population: the local engine. Partition the input to temporary files by patient (a hash of the patient
id picks the bucket, so that one patient's resources meet in one bucket, and a bucket is a small share of
the input), then a process pool evaluates the buckets (each worker compiles the packs once), each writing
its records sorted by patient; the parts are merged in patient order into the outputs.

Memory: the partition step holds one input line (or one Bundle file) at a time; a worker holds one bucket;
the merge holds one record per part.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from cdss.population.job import JobConfig, worker
from cdss.population.sources import Item, read_all

TARGET_BUCKET_BYTES = 32 * 2**20
MAX_BUCKETS = 4096


def bucket_count(input_bytes: int, workers: int) -> int:
    """Enough buckets that each is about 32 MB of input at most, and a few per worker to balance load."""
    return max(1, min(MAX_BUCKETS, max(workers * 4, input_bytes // TARGET_BUCKET_BYTES + 1)))


def partition(items: Iterator[Item], tmp: Path, buckets: int,
              on_item: Callable[[], None] | None = None) -> tuple[list[Path], list[dict], dict[str, dict]]:
    """Write each patient's resources to its bucket file (`<key>\\t<json>` lines); return the bucket
    files, the input errors and the shared resources (Organization, Practitioner ...)."""
    paths = [tmp / f"bucket-{i:05d}.tsv" for i in range(buckets)]
    handles: dict[int, Any] = {}
    errors: list[dict] = []
    shared: dict[str, dict] = {}
    try:
        for item in items:
            if on_item:
                on_item()
            if item.kind == "error":
                errors.append(json.loads(item.payload))
            elif item.kind == "shared":
                shared[item.key] = json.loads(item.payload)
            else:
                b = zlib.crc32(item.key.encode()) % buckets
                fh = handles.get(b)
                if fh is None:
                    fh = handles[b] = open(paths[b], "ab")
                    if len(handles) > 256:  # keep the number of open files bounded
                        oldest = next(iter(handles))
                        handles.pop(oldest).close()
                fh.write(item.key.encode() + b"\t" + item.payload + b"\n")
    finally:
        for fh in handles.values():
            fh.close()
    return [p for p in paths if p.exists()], errors, shared


def read_bucket(path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A bucket's patients, sorted by patient id, each with its resources."""
    groups: dict[str, list[bytes]] = {}
    with open(path, "rb") as fh:
        for line in fh:
            key, _, payload = line.rstrip(b"\n").partition(b"\t")
            groups.setdefault(key.decode(), []).append(payload)
    for key in sorted(groups):
        yield key, groups.pop(key)


def evaluate_bucket(config: JobConfig, path: str) -> tuple[str, int]:
    """Evaluate one bucket; write its records, sorted, beside it; return the part file and its count."""
    w = worker(config)
    part = Path(path).with_suffix(".part.ndjson")
    n = 0
    with open(part, "w", encoding="utf-8") as out:
        for key, line in w.records(read_bucket(Path(path))):
            out.write(json.dumps(key) + "\t" + line + "\n")
            n += 1
    os.unlink(path)
    return str(part), n


def merged(parts: list[str]) -> Iterator[dict[str, Any]]:
    """The records of all parts in patient order (each part is sorted)."""
    def stream(part: str) -> Iterator[tuple[str, str]]:
        with open(part, encoding="utf-8") as fh:
            for line in fh:
                key, _, rec = line.rstrip("\n").partition("\t")
                yield json.loads(key), rec

    for _, rec in heapq.merge(*(stream(p) for p in parts), key=lambda kv: kv[0]):
        yield json.loads(rec)


def run_local(files: list[Path], config: JobConfig, tmp: Path, workers: int, input_bytes: int,
              progress: Any = None) -> tuple[Iterator[dict[str, Any]], list[dict], dict[str, dict]]:
    """The records in patient order, the input errors and the shared resources."""
    buckets = bucket_count(input_bytes, workers)
    task = progress.add_task("分组 grouping", total=None) if progress else None
    paths, errors, shared = partition(read_all(files), tmp, buckets,
                                      (lambda: progress.advance(task)) if progress else None)
    parts: list[str] = []
    etask = progress.add_task("评估 evaluating", total=len(paths)) if progress else None
    if workers <= 1:
        for p in paths:
            parts.append(evaluate_bucket(config, str(p))[0])
            if progress:
                progress.advance(etask)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for part, _ in pool.map(evaluate_bucket, [config] * len(paths), [str(p) for p in paths]):
                parts.append(part)
                if progress:
                    progress.advance(etask)
    return merged(parts), errors, shared
