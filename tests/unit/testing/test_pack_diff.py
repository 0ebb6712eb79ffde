"""Pack diff: field-by-field content changes and the patients whose advice differs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cdss.packs.loader import bundled_dir
from cdss.packs.registry import Pack, Registry
from cdss.testing.cases import read_pack_cases
from cdss.testing.diff import diff_packs, render_diff
from tests.unit.testing.conftest import WORKED_V1, edit


def test_diff_same_pack_no_change(load: Callable[[Path], Pack], registry: Registry) -> None:
    pack = load(bundled_dir("pathways") / "htn-community")
    diff = diff_packs(pack, pack, registry, generated=10)
    assert not diff.content_changed and not diff.behaviour_changed
    cases = sum(len(f.cases) for f in read_pack_cases(pack)[0])
    assert cases >= 12 and diff.cases_compared == cases and diff.patients_compared > 0
    assert "content: no change" in render_diff(diff)


def test_diff_lowered_threshold_changed_field_and_advice(htn_copy: Path, load: Callable[[Path], Pack],
                                                         registry: Registry, tmp_path: Path) -> None:
    old = load(WORKED_V1)
    edit(htn_copy, "pack.yaml", "version: 1.1.0", "version: 1.2.0")
    # severe-bp-urgent-care: SBP >= 180 -> >= 170.
    text = (htn_copy / "rules/referral.yaml").read_text(encoding="utf-8")
    marker = "  - id: severe-bp-urgent-care"
    head, tail = text.split(marker)
    tail = tail.replace('{concept: sbp, op: ">=", value: 180, within_days: 1}',
                        '{concept: sbp, op: ">=", value: 170, within_days: 1}', 1)
    (htn_copy / "rules/referral.yaml").write_text(head + marker + tail, encoding="utf-8")
    new = load(htn_copy)
    diff = diff_packs(old, new, registry, generated=40)
    assert [c.path for c in diff.meta] == ["version"]
    changed = {c.id: c for c in diff.rules_changed}
    assert list(changed) == ["severe-bp-urgent-care"]
    assert [(f.path, f.old, f.new) for f in changed["severe-bp-urgent-care"].fields] == [
        ("when.any[0].value", 180.0, 170.0)]
    # The 179/109 case now gets urgent care.
    assert any("sbp-179-is-not-urgent" in c.source and "referral/severe-bp-urgent-care (urgent)" in c.new
               for c in diff.cases)
    text = render_diff(diff)
    assert "~ severe-bp-urgent-care" in text and "when.any[0].value: 180.0 -> 170.0" in text
    assert "| NEW htn-community@1.2.0" in text
    again = diff_packs(old, new, registry, generated=40)
    assert again.to_json() == diff.to_json()  # deterministic
