"""CLI: the one way the benchmarks print their figures: JSON, or a heading and an aligned table."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer

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
