"""Packs: YAML with line marks -> validated models; every error carries file:line:col and the field path.

All problems in a file are reported at once, in line order. Semantic checks (unknown concept, unknown
source, duplicate rule id, unknown disease) run after the schema and use the same positions.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cdss.errors import PackError, Problem

M = TypeVar("M", bound=BaseModel)


def bundled_dir(package: str) -> Path:
    """The folder of a data package shipped with cdss (catalogue/ or pathways/)."""
    return Path(str(importlib.resources.files(package)))


def display_path(path: Path) -> str:
    """A path as a person would type it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class YamlDoc:
    """A parsed YAML file that remembers where each key and item stands."""

    def __init__(self, path: Path, data: Any, shown: str | None = None):
        self.path = path
        self.shown = shown or display_path(path)
        self.data = data

    def position(self, loc: Sequence[str | int]) -> tuple[int | None, int | None, str]:
        """(line, col, field path) of the deepest node of `loc` that exists; lines count from 1.

        Steps of `loc` that are not in the data (pydantic's union tags) are skipped.
        """
        node = self.data
        line = col = None
        fields: list[str] = []
        for step in loc:
            if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
                pos = _lc_item(node, step)
                fields[-1:] = [f"{fields[-1]}[{step}]"] if fields else [f"[{step}]"]
                node = node[step]
            elif isinstance(step, str) and isinstance(node, dict) and step in node:
                pos = _lc_key(node, step)
                fields.append(step)
                node = node[step]
            elif step == "not_" and isinstance(node, dict) and "not" in node:
                pos = _lc_key(node, "not")
                fields.append("not")
                node = node["not"]
            else:
                continue
            if pos is not None:
                line, col = pos[0] + 1, pos[1] + 1
        return line, col, ".".join(fields)

    def problem(self, loc: Sequence[str | int], message: str, code: str, **extra: Any) -> Problem:
        line, col, field = self.position(loc)
        return Problem(message, code, file=self.shown, line=line, col=col, field=field or None, **extra)


def _lc_key(node: Any, key: str) -> tuple[int, int] | None:
    try:
        return node.lc.key(key)
    except (AttributeError, KeyError, TypeError):
        return None


def _lc_item(node: Any, index: int) -> tuple[int, int] | None:
    try:
        return node.lc.item(index)
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


def read_yaml(path: Path, shown: str | None = None) -> YamlDoc:
    """Parse a YAML file, keeping line marks.

    Raises:
        PackError: the file is missing, unreadable or not valid YAML (with line and column).
    """
    from ruamel.yaml import YAML  # not imported at start-up when the packs come from the pack cache
    from ruamel.yaml.error import MarkedYAMLError

    shown = shown or display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PackError.one("file not found", "file-not-found", file=shown) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError.one(f"cannot read the file: {exc}", "file-unreadable", file=shown) from exc
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PackError.one(
            f"not valid YAML: {exc.problem or exc.context}", "yaml-syntax", file=shown,
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None,
            hint="check indentation and quoting near this position",
        ) from exc
    if data is None:
        data = {}
    return YamlDoc(path, data, shown)


# pydantic error type -> (our stable code, message); anything else is an invalid value.
_SCHEMA_CODES = {
    "extra_forbidden": ("unknown-key", "unknown key"),
    "missing": ("missing-key", "missing required key"),
}


def validate(model: type[M], doc: YamlDoc, root: Sequence[str | int] = ()) -> M:
    """Validate `doc.data` against `model`, turning pydantic's errors into located problems.

    Raises:
        PackError: every schema problem of the file, in line order.
    """
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise PackError(list(schema_problems(exc, doc, root))) from exc


def schema_problems(exc: ValidationError, doc: YamlDoc, root: Sequence[str | int] = ()) -> Iterator[Problem]:
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    for err, loc in zip(errors, locs, strict=True):
        # An error on a container whose child also failed is a consequence: report the child only.
        if any(other != loc and other[: len(loc)] == loc for other in locs):
            continue
        code, message = _SCHEMA_CODES.get(
            err["type"], ("invalid-value", err["msg"].removeprefix("Value error, ")))
        message = message[:1].lower() + message[1:]
        extra: dict[str, Any] = {}
        if err["type"] == "extra_forbidden":
            extra["hint"] = "remove it or check its spelling (the pack format is docs/editor/pack-format.md)"
        elif err["type"] not in ("missing",) and not isinstance(err.get("input"), dict | list):
            extra["got"] = err.get("input")
        yield doc.problem((*root, *loc), message, code, **extra)
