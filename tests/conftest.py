"""Shared fixtures: the bundled registry, a fixed evaluation time, fixture bundles by name."""

from __future__ import annotations

import datetime as dt
import json
import lzma
import os
from pathlib import Path

import pytest

from cdss.packs.registry import Registry, load_registry

# Tests always read the packs' YAML (tests/unit/packs/test_cache.py tests the pack cache with its own folder).
os.environ.setdefault("CDSS_PACK_CACHE", "off")

FIXTURES = Path(__file__).parent / "fixtures"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def registry() -> Registry:
    """Bundled concepts and catalogue with the hypertension pack alone: the spine's tests do not change
    when other packs are added (tests/packs and tests/properties cover every pack)."""
    return load_registry([ROOT / "pathways" / "htn-community"], bundled=False)


@pytest.fixture
def now() -> dt.datetime:
    return NOW


def load_bundle(name: str) -> dict:
    """A fixture bundle by file name (tests/fixtures/bundles/NAME)."""
    path = FIXTURES / "bundles" / name
    if path.suffix == ".xz":
        return json.loads(lzma.decompress(path.read_bytes()))
    return json.loads(path.read_text(encoding="utf-8"))


def synthea_files() -> list[Path]:
    return sorted((FIXTURES / "bundles" / "synthea").glob("*.json.xz"))


# Under CI the real PostgreSQL and Chromium are installed by dev.py's service scripts: a test that skips
# because one of them is missing would hide a broken set-up, so there such a skip counts as a failure.
_SERVICE_WORDS = ("postgres", "chromium")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201 - pytest hook
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and call.when in ("setup", "call"):
        reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr).lower()
        if any(word in reason for word in _SERVICE_WORDS):
            report.outcome = "failed"
            report.longrepr = f"skipped under CI, where its service must be present: {reason}"
collect_ignore_glob = ["fixtures/*"]  # frozen pack copies (golden/) are data, not packs for the pytest plugin to run
