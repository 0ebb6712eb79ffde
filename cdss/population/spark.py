"""Population: the Spark engine (pyspark). The same job as the local engine, with Spark doing the
grouping: file ranges are read on the executors, resources keyed by patient, grouped (`groupByKey`, a
shuffle to disk), evaluated per partition by one worker per executor Python process (packs compiled once),
sorted by patient and streamed back to the driver (`toLocalIterator`, one partition at a time).

Without a master it runs `local[*]` (no setup; Java 17 on the PATH). On a cluster:

    spark-submit --master spark://HOST:7077 --conf spark.executor.memory=4g \\
      "$(python -c 'import cdss.cli.spark_submit as m; print(m.__file__)')" \\
      INPUT... --out DIR --now 2026-12-31

Executors need Python 3.11/3.12 with this project installed (`pip install cdss-*.whl`: the packs and the
catalogue ship inside the wheel), and a shared file system (or the same paths) for INPUT; the driver writes
DIR. docs/reference/population.md has the details.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cdss.population.job import JobConfig, worker
from cdss.population.sources import chunks, read_range


def _session(partitions: int):  # noqa: ANN202
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("cdss-batch").config("spark.ui.enabled", "false") \
        .config("spark.default.parallelism", str(partitions)) \
        .config("spark.ui.showConsoleProgress", "true" if sys.stderr.isatty() else "false")
    if not SparkConf().contains("spark.master"):  # spark-submit sets the master; alone we run local[*]
        builder = builder.master("local[*]")
    return builder.getOrCreate()


def _read(task: tuple[str, int, int]) -> Iterator[tuple[str, str, bytes]]:
    for item in read_range(*task):
        yield item.kind, item.key, item.payload


def _evaluate(config_json: str, groups: Iterator[tuple[str, Any]], counter: Any) -> Iterator[tuple[str, str]]:
    w = worker(JobConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(config_json).items()}))
    for key, resources in groups:
        counter.add(1)
        yield key, w.record(key, list(resources))


def run_spark(files: list[Path], config: JobConfig,
              workers: int) -> tuple[Iterator[dict[str, Any]], list[dict], dict[str, dict], Any]:
    """The records in patient order, the input errors, the shared resources, and (the session, the count of
    patient evaluations): stop the session when the records have been consumed."""
    tasks = chunks(files)
    partitions = max(2, workers * 4)
    spark = _session(partitions)
    sc = spark.sparkContext
    sc.setLogLevel("ERROR")
    from pyspark import StorageLevel

    items = sc.parallelize(tasks, max(1, len(tasks))).flatMap(_read).persist(StorageLevel.DISK_ONLY)
    errors = [json.loads(p) for _, _, p in items.filter(lambda t: t[0] == "error").collect()]
    shared = {k: json.loads(p) for _, k, p in items.filter(lambda t: t[0] == "shared").collect()}
    config_json = json.dumps(config.to_json())
    counter = sc.accumulator(0)  # patients evaluated (a recomputed stage would count twice)
    # Kept on disk: sortByKey samples its input (one pass) before it sorts (another); without this each
    # patient would be evaluated twice.
    evaluated = (items.filter(lambda t: t[0] == "resource").map(lambda t: (t[1], t[2]))
                 .groupByKey(partitions)
                 .mapPartitions(lambda groups: _evaluate(config_json, groups, counter))
                 .persist(StorageLevel.DISK_ONLY))
    records = evaluated.sortByKey(numPartitions=partitions).values()

    def stream() -> Iterator[dict[str, Any]]:
        for line in records.toLocalIterator():
            yield json.loads(line)
        evaluated.unpersist()
        items.unpersist()

    return stream(), errors, shared, (spark, counter)

