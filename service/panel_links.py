"""Service: signed links from a CDS Hooks card to its rationale page, for deployments with JWT auth on.

The panel has no login of its own; with auth on it is off (CDSS_PANEL=auto), and cards would carry no
link. Instead each card link carries a token ``t=<expiry>.<signature>``: an HMAC-SHA256, with a key derived
from the audit key, of the evaluation id and the expiry time. The token opens that one evaluation's page
(and nothing else) until it expires (``CDSS_PANEL_LINK_TTL_S``); whoever holds the card can read why the
card says what it says, which is the card's own content in more detail. No separate login is needed.
"""

from __future__ import annotations

import hashlib
import hmac

PURPOSE = b"cdss-panel-link-v1"


def link_key(audit_key: bytes) -> bytes:
    """The signing key, derived from the audit key (rotating that key invalidates every link)."""
    return hmac.new(audit_key, PURPOSE, hashlib.sha256).digest()


def sign(key: bytes, evaluation_id: str, expires: int) -> str:
    """The token for one evaluation page, valid until `expires` (Unix seconds)."""
    mac = hmac.new(key, f"{evaluation_id}|{expires}".encode(), hashlib.sha256).hexdigest()[:40]
    return f"{expires}.{mac}"


def verify(key: bytes, evaluation_id: str, token: str | None, now: float) -> bool:
    """True when `token` was made by `sign` for this evaluation and has not expired."""
    if not token or "." not in token:
        return False
    expires_text, _, _ = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) < now:
        return False
    return hmac.compare_digest(token, sign(key, evaluation_id, int(expires_text)))
