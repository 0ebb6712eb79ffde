"""Service: the secret that keys the audit store's patient hash (HMAC-SHA256).

The key is generated on first start (32 random bytes, hex) in ``DATA_DIR/audit.key``, readable by the
service's user only, and read on every later start; all workers of a server share it. ``CDSS_AUDIT_SALT``,
when set, is used instead (for a database shared by servers with separate data folders). Rotation
(docs/reference/settings.md): stop the service, move the key file away, start it: new records are hashed
with the new key, and records stored before can no longer be tied to a patient by hash.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cdss.errors import ConfigError

KEY_FILE = "audit.key"


def audit_key(data_dir: Path, configured: str = "") -> bytes:
    """The HMAC key: `configured` if given, else the key file in `data_dir` (created when missing).

    Raises:
        ConfigError: the key file cannot be read or created, or holds no key [audit-key].
    """
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by an earlier start, or by another worker starting at the same moment
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.one(f"cannot read or create the audit key: {exc.strerror or exc}", "audit-key",
                              file=str(path), hint="check the data folder's permissions (CDSS_DATA_DIR)") from exc
    if len(key) < 32:
        raise ConfigError.one("the audit key file holds no key (fewer than 32 characters)", "audit-key",
                              file=str(path), hint="restore it from a backup, or move it away to generate "
                                                   "a new key (older records then cannot be linked)")
    return key.encode()
