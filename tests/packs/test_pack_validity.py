"""Every bundled pack validates (schema, references, editor checks) and is published unchanged: a content
change without a new version, or an active pack never published, fails here before it can ship."""

from __future__ import annotations

import pytest

from cdss.packs.loader import bundled_dir
from cdss.packs.registry import default_registry, pack_folders
from cdss.testing.validate import read_lock, validate_pack

PATHWAYS = bundled_dir("pathways")


@pytest.mark.parametrize("folder", pack_folders(PATHWAYS), ids=lambda p: p.name)
def test_bundled_pack_validates_and_is_published(folder):
    report = validate_pack(folder, default_registry())
    assert report.ok, "\n".join(str(p) for p in report.problems)
    lock = read_lock(PATHWAYS / "PUBLISHED.lock")
    if report.pack.status == "active":
        assert report.pack.key in lock.entries, f"{report.pack.key} is active but not published: run " \
                                                f"`cdss pack publish {folder}`"
