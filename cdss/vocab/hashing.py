"""Vocabulary: content hashes, the one home of sha256 over canonical JSON (same content, same hash)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_sha256(*parts: Any) -> str:
    """sha256 of the parts as canonical JSON (keys sorted, text as is): the content hash of a pack, of the
    catalogue and of the concept dictionary (recorded in PUBLISHED.lock and in every evaluation)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# What json.dumps(..., sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")) uses, made once:
# json.dumps makes a new encoder for every call with options, and an evaluation makes an id per suggestion.
_COMPACT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def content_id(*parts: Any, length: int = 16) -> str:
    """A short stable id from content (sha256 of its compact canonical JSON): ids of suggestions."""
    return hashlib.sha256(_COMPACT.encode(parts).encode()).hexdigest()[:length]
