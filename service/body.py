"""Service: reading a JSON request body within limits (media type 415, size 413, syntax 400).

Routes read their bodies through here rather than through FastAPI's model binding so that the status
codes are the ones the FHIR and CDS Hooks callers expect, and the body size is capped while reading.
Their OpenAPI description still shows the body schema (``json_body``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel

from service.errors import ApiError

JSON_TYPES = ("application/json", "application/fhir+json")


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """`application/fhir+json; fhirVersion=4.0` -> ("application/fhir+json", {"fhirversion": "4.0"})."""
    if not header:
        return "", {}
    kind, *params = header.split(";")
    out = {}
    for p in params:
        key, _, value = p.strip().partition("=")
        out[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), out


async def read_json(request: Request, max_bytes: int, accepted: tuple[str, ...] = JSON_TYPES) -> Any:
    """The parsed JSON body.

    Raises:
        ApiError: 415 wrong media type, 413 larger than `max_bytes`, 400 empty or not JSON.
    """
    return parse(await read_body(request, max_bytes, accepted))


async def read_body(request: Request, max_bytes: int, accepted: tuple[str, ...] = JSON_TYPES) -> bytes:
    """The raw JSON body, not yet parsed (`parse` it, e.g. in the worker thread of service.compute).

    Raises:
        ApiError: 415 wrong media type, 413 larger than `max_bytes`, 400 empty.
    """
    kind, _ = media_type(request.headers.get("content-type"))
    if kind not in accepted:
        raise ApiError(415, f"unsupported media type {kind or '(none)'!r}; send {' or '.join(accepted)}",
                       code="not-supported")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, f"request body of {int(declared)} bytes is larger than the limit of {max_bytes} "
                            f"bytes (CDSS_MAX_BODY_BYTES)", code="too-costly")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"request body is larger than the limit of {max_bytes} bytes "
                                f"(CDSS_MAX_BODY_BYTES)", code="too-costly")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "empty request body; send a JSON object", code="structure")
    return raw


def parse(raw: bytes) -> Any:
    """JSON bytes -> Python, as the CLI reads them (orjson): strict RFC 8259, so NaN, Infinity, a number
    no double holds, a lone surrogate escape, a byte-order mark and nesting deeper than MAX_JSON_DEPTH
    are 400s here rather than failures deep inside the evaluation.

    Raises:
        ApiError: 400 not UTF-8 or not JSON.
    """
    try:
        doc = orjson.loads(raw)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not UTF-8 text: {exc.reason} at byte {exc.start}",
                       code="structure") from exc
    except json.JSONDecodeError as exc:
        msg = exc.msg
        if "depth" in msg or "recursion" in msg:
            msg = "JSON nested too deeply"
        raise ApiError(400, f"malformed JSON at line {exc.lineno} column {exc.colno}: {msg}",
                       code="structure") from exc
    if json_depth(doc) > MAX_JSON_DEPTH:
        raise ApiError(400, f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)", code="structure")
    return doc


# FHIR resources nest a dozen levels or so; anything deeper is refused before code that recurses sees it.
MAX_JSON_DEPTH = 100


def json_depth(doc: Any) -> int:
    """How many levels of arrays and objects `doc` (parsed JSON: plain dicts and lists) nests; iterative,
    level by level: no recursion on hostile input, and no stack entry per value."""
    level = [doc] if type(doc) is dict or type(doc) is list else []
    depth = 0
    while level:
        depth += 1
        inner: list[Any] = []
        for value in level:
            for item in value.values() if type(value) is dict else value:
                if type(item) is dict or type(item) is list:
                    inner.append(item)
        level = inner
    return depth


def json_body(model: type[BaseModel], *, media_types: tuple[str, ...] = ("application/json",),
              description: str = "") -> dict[str, Any]:
    """`openapi_extra` describing a JSON request body by a pydantic model (see app.py for components)."""
    BODY_MODELS[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "description": description,
                            "content": {m: {"schema": schema} for m in media_types}}}


# Models named by json_body; app.py adds their JSON schemas to the OpenAPI components.
BODY_MODELS: dict[str, type[BaseModel]] = {}
