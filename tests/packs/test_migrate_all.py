"""Every shipped pack migrates to format v2 with its content hash, compiled tests and example-case results
unchanged (the proof `cdss pack migrate` runs before writing), in a temporary copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdss.packs.loader import bundled_dir
from cdss.packs.registry import load_registry, pack_folders
from cdss.testing.migrate import migrate, write

PACKS = pack_folders(bundled_dir("pathways"))


@pytest.mark.slow  # about 70 s for all packs on 2 cores
def test_every_shipped_pack_migrates_with_behaviour_unchanged(tmp_path: Path) -> None:
    registry = load_registry(bundled=False)
    refused = {}
    for folder in PACKS:
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        result = migrate(copy, registry)
        if not result.ok:
            refused[folder.name] = result.differences
            continue
        write(result)
        assert migrate(copy, registry).changed is False, f"{folder.name}: a second run still changes files"
    assert not refused, refused
