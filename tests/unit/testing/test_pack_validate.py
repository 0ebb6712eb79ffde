"""`cdss.testing.validate`: the editor's checks beyond the registry, the lock file and publishing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdss.errors import PackError
from cdss.packs.loader import bundled_dir
from cdss.packs.registry import Registry
from cdss.testing.validate import LOCK_NAME, find_lock, publish_pack, read_lock, validate_pack
from tests.unit.testing.conftest import edit


def test_validate_worked_pack_valid_and_matches_its_lock_entry(registry: Registry) -> None:
    root = bundled_dir("pathways")
    report = validate_pack(root / "htn-community", registry)
    assert report.ok, "\n".join(str(p) for p in report.problems)
    assert report.lock == root / LOCK_NAME
    assert read_lock(root / LOCK_NAME).entries[report.pack.key] == report.pack.sha256


def test_validate_copy_without_lock_warns_no_lock(htn_copy: Path, registry: Registry) -> None:
    report = validate_pack(htn_copy, registry)
    assert report.ok
    assert "no-lock" in [w.code for w in report.warnings]


def test_publish_then_change_content_same_version_fails_version_unchanged(htn_copy: Path, registry: Registry) -> None:
    lock_path = htn_copy.parent / LOCK_NAME
    first = publish_pack(validate_pack(htn_copy, registry, lock_path=lock_path), lock_path)
    assert first.changed and find_lock(htn_copy) == lock_path
    again = publish_pack(validate_pack(htn_copy, registry), lock_path)
    assert not again.changed
    edit(htn_copy, "rules/referral.yaml", "section: 基层血压急剧升高的处理}",
         "section: 基层血压急剧升高的处理（修订）}")
    report = validate_pack(htn_copy, registry)
    assert [p.code for p in report.problems] == ["version-unchanged"]
    problem = report.problems[0]
    assert problem.field == "version" and problem.line == 4 and problem.file.endswith("pack.yaml")
    assert "content changed but version is still '1.1.0'" in str(problem)
    with pytest.raises(PackError):
        publish_pack(report, lock_path)
    edit(htn_copy, "pack.yaml", "version: 1.1.0", "version: 1.2.0")
    bumped = validate_pack(htn_copy, registry)
    assert bumped.ok, bumped.problems
    assert publish_pack(bumped, lock_path).changed
    assert sorted(read_lock(lock_path).entries) == ["htn-community@1.1.0", "htn-community@1.2.0"]


def test_publish_draft_refused_draft_not_published(htn_copy: Path, registry: Registry) -> None:
    edit(htn_copy, "pack.yaml", "status: active", "status: draft")
    with pytest.raises(PackError) as err:
        publish_pack(validate_pack(htn_copy, registry, use_lock=False), htn_copy.parent / LOCK_NAME)
    assert err.value.code == "draft-not-published"
    assert not (htn_copy.parent / LOCK_NAME).exists()


def test_validate_case_naming_unknown_rule_reports_unknown_rule(htn_copy: Path, registry: Registry) -> None:
    edit(htn_copy, "cases/referral.yaml", "- {rule: referral/severe-bp-urgent-care}\n    forbid:\n"
         "      - {urgency: emergency}\n  - id: sbp-179",
         "- {rule: referral/severe-bp-urgent-cared}\n    forbid:\n      - {urgency: emergency}\n  - id: sbp-179")
    report = validate_pack(htn_copy, registry, use_lock=False)
    assert [p.code for p in report.problems] == ["unknown-rule"]
    assert "did you mean 'referral/severe-bp-urgent-care'?" in str(report.problems[0])


def test_validate_property_naming_unknown_concept_reports_it(htn_copy: Path, registry: Registry) -> None:
    edit(htn_copy, "rules/diagnosis.yaml", "{monotone_increasing: sbp}", "{monotone_increasing: spb}")
    report = validate_pack(htn_copy, registry, use_lock=False)
    assert [p.code for p in report.problems] == ["unknown-concept"]
    assert report.problems[0].field == "rules[0].properties[0].monotone_increasing"
