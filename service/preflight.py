"""Service: everything that can stop a start, checked once before uvicorn starts its workers.

`cdss serve` calls `preflight(settings)` so that an unusable data folder, an empty or corrupt database,
an unreadable audit key, JWT keys that cannot be loaded, or a pack that is not the published one stop the
command with one line per problem and exit code 2, not with a worker's traceback. The app's lifespan
makes the same checks (each worker, and tests that build the app directly) and raises the same errors.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cdss.errors import ConfigError, Problem
from service.audit_key import audit_key
from service.settings import Settings
from service.storage import Storage, StorageFault

if TYPE_CHECKING:
    from cdss.packs.registry import Registry


def open_storage(settings: Settings, now: dt.datetime) -> Storage:
    """The audit database, created if new and probed (a read and a write).

    Raises:
        ConfigError: the data folder, key or database is unusable [database-unusable, audit-key].
    """
    key = audit_key(settings.data_dir, settings.audit_salt)
    try:
        storage = Storage(settings.db_url, retention_days=settings.retention_days, salt=key,
                          data_dir=settings.data_dir)
        storage.create(now)
    except StorageFault as exc:
        raise ConfigError.one(str(exc), "database-unusable", field="CDSS_DATA_DIR",
                              hint="see docs/reference/settings.md, 'The audit database'") from None
    except OSError as exc:
        raise ConfigError.one(f"cannot use the data folder: {exc.strerror or exc}", "database-unusable",
                              file=str(settings.data_dir), field="CDSS_DATA_DIR",
                              hint="give a writable folder (--data)") from None
    return storage


def check_verifier(settings: Settings, storage: Storage) -> None:
    """Load the configured JWT keys as the verifier will.

    Raises:
        ConfigError: a JWK Set is not JSON or has no `keys` array [unsafe-setting].
    """
    from service.auth import TokenVerifier

    try:
        TokenVerifier(settings, storage, None)  # type: ignore[arg-type] - no HTTP call at construction
    except (OSError, ValueError) as exc:
        raise ConfigError(Problem(f"cannot load the issuers' JWK Sets: {exc}", "unsafe-setting",
                                  field="CDSS_AUTH_ISSUERS", hint="give a JWK Set: {\"keys\": [...]}")) from None


def preflight(settings: Settings, *, registry: Registry | None = None) -> None:
    """All start-up checks, then everything is closed again (the workers open their own).

    Raises:
        ConfigError: one problem per thing that stops the start.
    """
    from service.packs_check import check_packs

    storage = open_storage(settings, dt.datetime.now(dt.UTC))
    try:
        check_verifier(settings, storage)
    finally:
        storage.close()
    if registry is None:
        from cdss.packs.registry import load_registry

        registry = load_registry()
    check_packs(registry, allow_unpublished=settings.allow_unpublished_packs)
