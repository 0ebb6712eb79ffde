"""Service: the packs served must be the published ones (cdss.packs.published), checked at start.

An unpublished or changed pack, or a pack folder without pack.yaml, stops the start with one line per
problem (`file:line: ... [code]`), unless ``CDSS_ALLOW_UNPUBLISHED_PACKS=on`` (development), which serves
them with a warning in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cdss.errors import ConfigError
from cdss.packs.loader import bundled_dir
from cdss.packs.published import LOCK_NAME, check_published, stray_folders
from cdss.packs.registry import Registry

log = logging.getLogger("cdss.service")


def check_packs(registry: Registry, *, allow_unpublished: bool, root: Path | None = None) -> None:
    """Verify every loaded pack against `root`/PUBLISHED.lock (default: the bundled pathways).

    Raises:
        ConfigError: a pack is unpublished or changed, or a pack folder has no pack.yaml.
    """
    root = root or bundled_dir("pathways")
    problems = [*stray_folders(root), *check_published(registry.all(), root / LOCK_NAME)]
    if not problems:
        return
    if allow_unpublished:
        for problem in problems:
            log.warning("CDSS_ALLOW_UNPUBLISHED_PACKS is on; serving anyway: %s", problem)
        return
    raise ConfigError(problems)
