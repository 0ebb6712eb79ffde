"""End-to-end fixtures: the real engine with the bundled packs, and a running app per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.deps import Engine
from tests.unit.service.support import open_client


@pytest.fixture(scope="module")
def engine() -> Engine:
    import cdss
    from cdss.packs.registry import default_registry

    return Engine(default_registry(), cdss.evaluate)


@pytest.fixture()
def client(tmp_path: Path, engine: Engine) -> Iterator[TestClient]:
    with open_client(tmp_path, engine=engine) as c:
        yield c
