"""Packs: the cache of checked packs is used only when every input is unchanged, and is safe to lose."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdss.packs import cache
from cdss.packs.registry import _bundled_inputs, load_registry


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    return tmp_path


def _counting(value: object):  # noqa: ANN202
    calls = []

    def build() -> object:
        calls.append(1)
        return value
    return build, calls


def test_an_unchanged_input_is_read_from_the_cache(folder: Path):
    src = folder / "a.yaml"
    src.write_text("x: 1\n")
    build, calls = _counting({"v": 1})
    assert cache.cached("t", [src], build) == {"v": 1}
    assert cache.cached("t", [src], build) == {"v": 1}
    assert len(calls) == 1


def test_a_changed_input_rebuilds(folder: Path):
    src = folder / "a.yaml"
    src.write_text("x: 1\n")
    build, calls = _counting("first")
    cache.cached("t", [src], build)
    src.write_text("x: 2\n")
    build2, calls2 = _counting("second")
    assert cache.cached("t", [src], build2) == "second"
    assert len(calls2) == 1


def test_a_corrupt_entry_is_ignored_and_rebuilt(folder: Path):
    src = folder / "a.yaml"
    src.write_text("x: 1\n")
    cache.cached("t", [src], lambda: "good")
    for entry in (folder / "cache").glob("t-*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert cache.cached("t", [src], lambda: "rebuilt") == "rebuilt"


def test_an_entry_under_another_key_is_never_trusted(folder: Path):
    src = folder / "a.yaml"
    src.write_text("x: 1\n")
    cache.cached("t", [src], lambda: "good")
    (entry,) = (folder / "cache").glob("t-*.pickle")
    other = folder / "b.yaml"
    other.write_text("y: 1\n")
    key = cache.content_key([other], "t")
    entry.rename(folder / "cache" / f"t-{key}.pickle")  # the right name, the wrong content
    assert cache.cached("t", [other], lambda: "rebuilt") == "rebuilt"


def test_off_disables_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.cache_dir() is None
    build, calls = _counting(1)
    cache.cached("t", [], build)
    cache.cached("t", [], build)
    assert len(calls) == 2


def test_the_cached_bundled_registry_is_the_registry(folder: Path):
    fresh = load_registry()
    cache.cached("registry", _bundled_inputs(), load_registry)
    stored = cache.cached("registry", _bundled_inputs(), lambda: pytest.fail("the cache was not used"))
    assert stored.concepts.sha256 == fresh.concepts.sha256
    assert [(p.key, p.sha256) for p in stored.all()] == [(p.key, p.sha256) for p in fresh.all()]
    assert [r.file for p in stored.all() for r in p.rules] == [r.file for p in fresh.all() for r in p.rules]


def test_every_bundled_rule_file_is_an_input_of_the_key():
    inputs = set(_bundled_inputs())
    rules = {r for r in Path(__file__).resolve().parents[3].joinpath("pathways").glob("*/rules/*.yaml")}
    assert {p.resolve() for p in rules} <= {p.resolve() for p in inputs}
