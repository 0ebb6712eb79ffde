"""Fixtures of the editor toolkit's tests: copies of the worked pack, edited in a tmp dir."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cdss.packs.registry import Pack, Registry, load_pack

# The worked pack (htn-community 1.1.0) frozen in format v1: these tests edit its text, which must not change
# when pathways/ is migrated to format v2 (`cdss pack migrate`) or edited by content engineers.
WORKED_V1 = Path(__file__).resolve().parents[2] / "fixtures" / "packs" / "htn-community-v1"

# The emergency test of the worked pack, and the same test with the comparison turned the wrong way.
EMERGENCY_TEST = '''        - any:
            - {concept: sbp, op: ">=", value: 180, within_days: 1}
            - {concept: dbp, op: ">=", value: 110, within_days: 1}
        - any:'''
WRONG_EMERGENCY_TEST = EMERGENCY_TEST.replace('op: ">=", value: 180', 'op: "<", value: 180')


def edit(folder: Path, relative: str, old: str, new: str) -> None:
    """Replace `old` (which must occur once) in a file of a copied pack."""
    path = folder / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{relative}: expected one occurrence of {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def htn_copy(tmp_path: Path) -> Path:
    """A copy of the worked pack in format v1 (WORKED_V1) in a tmp dir (no lock file above it)."""
    target = tmp_path / "htn-community"
    shutil.copytree(WORKED_V1, target)
    return target


@pytest.fixture
def load(registry: Registry) -> Callable[[Path], Pack]:
    return lambda folder: load_pack(folder, registry.concepts, registry.catalogue)
