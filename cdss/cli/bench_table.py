"""CLI: the one way the benchmarks count and print their figures: the quantile of every p50 / p99, and JSON
or a heading and an aligned table."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer


def quantile(values: list[float], q: float) -> float:
    """The `q`-quantile (a multiple of 0.01) of the values, by `statistics.quantiles` (inclusive method:
    linear interpolation between the closest ranks); the one definition of p50 / p99 for every benchmark."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


# (title, format spec of the value: alignment, width and precision, value of a case)
Column = tuple[str, str, Callable[[Mapping[str, Any]], Any]]


def col(title: str, spec: str, key: str | None = None) -> Column:
    """A column that shows one figure of the case (`key`, default: the title)."""
    name = key or title
    return title, spec, lambda c: c[name]


def echo_cases(cases: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, as_json: Mapping[str, Any] | None,
               heading: str) -> None:
    """`{**as_json, "cases": cases}` as JSON when `as_json` is given; else the heading, then one row a case."""
    if as_json is not None:
        typer.echo(json.dumps({**as_json, "cases": list(cases)}, indent=2))
        return
    typer.echo(heading)
    typer.echo(" ".join(f"{title:{spec.split('.')[0]}}" for title, spec, _ in columns))
    for c in cases:
        typer.echo(" ".join(f"{value(c):{spec}}" for _, spec, value in columns))
