"""Service: reading a JSON request body within limits (media type 415, size 413, syntax 400).

Routes read their bodies through here rather than through FastAPI's model binding so that the status
codes are the ones the FHIR and CDS Hooks callers expect, and the body size is capped while reading.
Their OpenAPI description still shows the body schema (``json_body``).
"""

from __future__ import annotations

import json
from typing import Any

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
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not UTF-8 text: {exc.reason} at byte {exc.start}",
                       code="structure") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                       code="structure") from exc
    except RecursionError as exc:
        raise ApiError(400, "JSON nested too deeply", code="structure") from exc


def json_body(model: type[BaseModel], *, media_types: tuple[str, ...] = ("application/json",),
              description: str = "") -> dict[str, Any]:
    """`openapi_extra` describing a JSON request body by a pydantic model (see app.py for components)."""
    BODY_MODELS[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "description": description,
                            "content": {m: {"schema": schema} for m in media_types}}}


# Models named by json_body; app.py adds their JSON schemas to the OpenAPI components.
BODY_MODELS: dict[str, type[BaseModel]] = {}
