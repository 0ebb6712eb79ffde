"""`cdss pack migrate`: v1 -> v2 with the layout kept, deterministic, proved unchanged before writing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdss.cli import _register, app
from cdss.errors import PackError
from cdss.packs.registry import Registry, load_pack
from cdss.testing import migrate as migration
from cdss.testing.migrate import migrate, rewrite, write
from tests.unit.testing.conftest import WORKED_V1

HTN = WORKED_V1  # a v1 pack, whatever the format of pathways/
_register()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


def test_rewrite_keeps_comments_layout_and_writes_text_leaves(registry: Registry) -> None:
    source = """\
# header comment
rules:
  - id: x   # trailing comment
    when:
      all:
        - {has: hypertension}
        - concept: sbp
          op: ">="
          value: 180
          within_days: 1
        - any: [{concept: sex, op: in, value: [male, female]}, {concept: sbp, op: "<", value: 90}]
    evidence: verified
"""
    out = rewrite(source, dict(registry.concepts.by_id), None, may_hoist=True)
    assert out == """\
# header comment
rules:
  - id: x   # trailing comment
    when:
      all:
        - has hypertension
        - sbp >= 180 mmHg within 1 day
        - any: ["sex in [male, female]", "sbp < 90 mmHg"]
    evidence: verified
"""


def test_a_common_window_is_hoisted_to_the_files_defaults(registry: Registry) -> None:
    leaves = "".join(f'        - {{concept: sbp, op: ">=", value: {v}, within_days: 90}}\n' for v in (140, 150, 160))
    source = "rules:\n  - id: x\n    when:\n      any:\n" + leaves + "        - {concept: sbp, op: '<', value: 90}\n"
    out = rewrite(source, dict(registry.concepts.by_id), None, may_hoist=True)
    assert "defaults: {within: 90 days}\nrules:\n" in out
    one_day = rewrite(source.replace("within_days: 90", "within_days: 1"), dict(registry.concepts.by_id), None,
                      may_hoist=True)
    assert "defaults: {within: 1 day}\n" in one_day  # `1 days` would not be valid
    assert "- sbp >= 140 mmHg\n" in out and "- sbp < 90 mmHg ever\n" in out


def test_migrate_write_proves_bumps_and_is_deterministic(tmp_path: Path, registry: Registry) -> None:
    runs = []
    for name in ("one", "two"):
        folder = tmp_path / name / "htn-community"
        shutil.copytree(HTN, folder)
        result = CliRunner().invoke(app, ["pack", "migrate", str(folder), "--write"])
        assert result.exit_code == 0, result.output
        assert "1.1.0 -> 1.2.0" in result.output and "cdss pack publish" in result.output
        runs.append(_files(folder))
    assert runs[0] == runs[1]  # same input, same bytes
    folder = tmp_path / "one" / "htn-community"
    grading = (folder / "rules" / "grading.yaml").read_text(encoding="utf-8")
    assert grading.startswith("# Derived facts of this pack.")  # comments kept
    assert "concept:" not in grading and "- sbp >= " not in grading and '"sbp >= 140 mmHg"' in grading
    after = load_pack(folder, registry.concepts, registry.catalogue)
    before = load_pack(HTN, registry.concepts, registry.catalogue)
    assert after.version == "1.2.0"
    assert [r.rule for r in after.rules] == [r.rule for r in before.rules]
    again = CliRunner().invoke(app, ["pack", "migrate", str(folder), "--check"])
    assert again.exit_code == 0 and "already format v2" in again.output
    assert _files(folder) == runs[0]


def test_check_reports_a_v1_pack_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder)
    before = _files(folder)
    result = CliRunner().invoke(app, ["pack", "migrate", str(folder), "--check"])
    assert result.exit_code == 1 and "needs migrating" in result.output
    assert _files(folder) == before


def test_a_migration_that_would_change_behaviour_is_refused(tmp_path: Path, registry: Registry,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder)
    before = _files(folder)
    real = migration.render

    def off_by_one(leaf, concepts, default=None):  # noqa: ANN001, ANN202 - a converter with a defect
        if leaf.concept == "sbp" and leaf.value == 180:
            leaf = leaf.model_copy(update={"value": 181.0})
        return real(leaf, concepts, default)

    monkeypatch.setattr(migration, "render", off_by_one)
    result = migrate(folder, registry)
    assert not result.ok
    assert any("differ" in d for d in result.differences)
    with pytest.raises(PackError) as caught:
        write(result)
    assert {p.code for p in caught.value.problems} == {"migration-differs"}
    cli = CliRunner().invoke(app, ["pack", "migrate", str(folder), "--write"])
    assert cli.exit_code == 1 and "not migrated" in cli.output
    assert _files(folder) == before


def test_check_and_write_together_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["pack", "migrate", str(HTN), "--check", "--write"])
    assert result.exit_code == 2
