"""Regression: the ready registry from the pack cache (`cdss.engine.plan_cache`) changes start-up, never advice.

The stored entry (registry, compiled packs, rule indexes, merged stages) must give byte-identical JSON to
a registry loaded and indexed afresh, on every pack case; a corrupt entry or one under another key is
rebuilt, never used; a change of a pack, a concept or an engine module changes the key.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cdss.engine import compile as compile_
from cdss.engine import evaluate as evaluate_mod
from cdss.engine import plan, plan_cache
from cdss.engine.evaluate import evaluate_facts
from cdss.intake.bundle import read_bundle
from cdss.packs import cache
from cdss.packs.registry import load_registry
from cdss.render.json import render_json
from cdss.testing.cases import case_bundle, read_pack_cases
from cdss.testing.factories import synthetic_bundle

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cases(registry):  # noqa: ANN001, ANN202 - (label, pack, case) of every pack case
    for pack in registry.all():
        files, problems = read_pack_cases(pack)
        assert not problems
        for f in files:
            for n, (case, line) in enumerate(f.cases):
                yield f"{f.path}:{line}: {case.id}", pack, n == 0, case, f.path


def _answers(registry) -> dict[str, str]:  # noqa: ANN001
    """Every pack case with its own pack, and the first case of each file with all packs, as JSON."""
    out = {}
    everything = registry.select()
    for label, pack, first, case, path in _cases(registry):
        facts = read_bundle(case_bundle(case, path, registry), registry.concepts)
        for packs in ([pack], everything) if first else ([pack],):
            out[f"{label} ({len(packs)})"] = render_json(evaluate_facts(facts, now=case.now, registry=registry,
                                                                         packs=packs))
    return out


def _empty_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's per-process caches empty (restored after the test)."""
    monkeypatch.setattr(compile_, "_cache", {})
    monkeypatch.setattr(plan, "_indexes", {})
    monkeypatch.setattr(plan, "_merged", {})
    monkeypatch.setattr(plan, "_selections", set())


def test_the_stored_ready_registry_gives_the_same_answers_byte_for_byte(folder: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    _empty_engine(monkeypatch)
    fresh = _answers(load_registry())
    _empty_engine(monkeypatch)
    plan_cache.load_ready()  # builds and stores
    _empty_engine(monkeypatch)
    monkeypatch.setattr(plan_cache, "_build", lambda: pytest.fail("the stored entry was not used"))
    registry, state = plan_cache.load_ready()  # read back from the file: objects of their own
    plan_cache.install(state)
    assert state["compiled"] and state["indexes"] and state["merged"]

    def no_rebuild(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the default selection was compiled, indexed or merged again")
    with monkeypatch.context() as m:
        m.setattr(compile_, "_compile", no_rebuild)
        m.setattr(evaluate_mod.plan, "make_baseline", no_rebuild)
        m.setattr(plan, "MergedStage", no_rebuild)
        facts = read_bundle(synthetic_bundle(20, concepts=registry.concepts, now=NOW), registry.concepts)
        evaluate_facts(facts, now=NOW, registry=registry, packs=registry.select())  # all packs: nothing rebuilt
    stored = _answers(registry)  # with the stored compiled packs and indexes (a lone pack's stages merge anew)
    assert stored.keys() == fresh.keys()
    assert len(stored) > 700
    differ = [k for k in fresh if fresh[k] != stored[k]]
    assert not differ, "\n".join(differ[:20])


def _fake_build(calls: list[int]):  # noqa: ANN202
    def build() -> tuple[str, dict]:
        calls.append(1)
        return f"registry {len(calls)}", {"compiled": {}, "indexes": [], "merged": {}}
    return build


def test_a_corrupt_ready_entry_is_ignored_and_rebuilt(folder: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    monkeypatch.setattr(plan_cache, "_build", _fake_build(calls))
    assert plan_cache.load_ready()[0] == "registry 1"
    assert plan_cache.load_ready()[0] == "registry 1"  # from the file
    (entry,) = folder.glob("ready-*.pickle")
    entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2])  # truncated
    assert plan_cache.load_ready()[0] == "registry 2"
    entry.write_bytes(b"\x80\x05garbage")
    assert plan_cache.load_ready()[0] == "registry 3"
    assert len(calls) == 3


def test_a_changed_pack_file_rebuilds_the_ready_entry(folder: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    from cdss.packs import registry as registry_mod

    rule = tmp_path / "rules.yaml"
    rule.write_text("rules: []\n")
    monkeypatch.setattr(registry_mod, "_bundled_inputs", lambda: [rule])
    calls: list[int] = []
    monkeypatch.setattr(plan_cache, "_build", _fake_build(calls))
    plan_cache.load_ready()
    plan_cache.load_ready()
    assert len(calls) == 1
    rule.write_text("rules: [changed]\n")
    assert plan_cache.load_ready()[0] == "registry 2"


def test_a_changed_engine_module_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    code = tmp_path / "cdss"
    (code / "engine").mkdir(parents=True)
    module = code / "engine" / "plan.py"
    module.write_text("X = 1\n")
    monkeypatch.setattr(plan_cache, "_CODE", code)
    monkeypatch.setattr(plan_cache, "_digest", None)
    before = plan_cache.code_digest()
    module.write_text("X = 2\n")
    monkeypatch.setattr(plan_cache, "_digest", None)
    assert plan_cache.code_digest() != before


def test_the_key_covers_every_module_of_the_engine():
    engine = Path(plan_cache.__file__).resolve().parent
    covered = set(plan_cache._CODE.rglob("*.py"))
    assert set(engine.glob("*.py")) <= covered
    assert {p for d in ("intake", "packs", "vocab") for p in (plan_cache._CODE / d).glob("*.py")} <= covered
