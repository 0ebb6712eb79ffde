"""Regression (reviews/reliability.md D4): an emptied rules file, a threshold edited in place, a version
never published, or a pack folder without pack.yaml were served (or silently left out) as if they were
the released packs. The service now checks every pack against PUBLISHED.lock at start."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdss.errors import ConfigError
from cdss.packs.registry import load_registry
from service.packs_check import check_packs
from tests.conftest import ROOT

LINE = re.compile(r"^\S+:\d+: ")


@pytest.fixture()
def packs(tmp_path: Path) -> Path:
    """A packs folder holding the published hypertension pack and its lock entry."""
    shutil.copytree(ROOT / "pathways" / "htn-community", tmp_path / "htn-community")
    version = re.search(r"^version: (\S+)", (tmp_path / "htn-community" / "pack.yaml").read_text(), re.M).group(1)
    entry = next(line for line in (ROOT / "pathways" / "PUBLISHED.lock").read_text().splitlines()
                 if line.startswith(f"htn-community@{version}:"))  # the lock keeps every published version
    (tmp_path / "PUBLISHED.lock").write_text(f"# lock\n{entry}\n")
    return tmp_path


def _check(root: Path, *, allow: bool = False) -> None:
    check_packs(load_registry([root / "htn-community"], bundled=False), allow_unpublished=allow, root=root)


def test_the_published_pack_passes(packs: Path) -> None:
    _check(packs)


def test_an_emptied_rules_file_is_refused(packs: Path) -> None:
    (packs / "htn-community" / "rules" / "referral.yaml").write_text("rules: []\n")
    with pytest.raises(ConfigError) as info:
        _check(packs)
    (problem,) = info.value.problems
    assert problem.code == "pack-changed"
    assert LINE.match(str(problem)) and "\n" not in str(problem)
    assert "PUBLISHED.lock:2" in str(problem)


def test_a_threshold_edited_in_place_is_refused(packs: Path) -> None:
    rules = packs / "htn-community" / "rules" / "referral.yaml"
    text = re.sub(r"(value: |>= )180", r"\g<1>280", rules.read_text(), count=1)  # pack format v1 or v2
    assert "280" in text
    rules.write_text(text)
    with pytest.raises(ConfigError) as info:
        _check(packs)
    assert info.value.problems[0].code == "pack-changed"


def test_an_unpublished_version_is_refused_unless_development(packs: Path, caplog: pytest.LogCaptureFixture) -> None:
    meta = packs / "htn-community" / "pack.yaml"
    meta.write_text(re.sub(r"(?m)^version: .*$", "version: 9.0.0", meta.read_text()))
    with pytest.raises(ConfigError) as info:
        _check(packs)
    assert info.value.problems[0].code == "pack-unpublished"
    assert "pack.yaml:" in str(info.value.problems[0])
    caplog.set_level(logging.WARNING)
    _check(packs, allow=True)
    assert "pack-unpublished" in caplog.text


def test_a_pack_folder_without_pack_yaml_is_an_error(packs: Path) -> None:
    (packs / "withdrawn-pack" / "rules").mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        _check(packs)
    assert [p.code for p in info.value.problems] == ["no-pack-file"]


def test_cdss_serve_stops_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, packs: Path) -> None:
    from cdss.cli import _register, app

    (packs / "htn-community" / "rules" / "referral.yaml").write_text("rules: []\n")
    registry = load_registry([packs / "htn-community"], bundled=False)
    monkeypatch.setattr("cdss.packs.registry.load_registry", lambda: registry)
    monkeypatch.setattr("service.packs_check.bundled_dir", lambda _: packs)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    for name in ("CDSS_HOST", "CDSS_PORT", "CDSS_WORKERS", "CDSS_DATA_DIR"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    _register()
    result = CliRunner().invoke(app, ["serve", "--data", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "[pack-changed]" in result.output
    assert "Traceback" not in result.output
