"""Broken packs are caught with the exact message (golden files tests/fixtures/packs/broken/<case>.expected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdss.packs.registry import Registry
from cdss.testing.validate import validate_pack

REPO = Path(__file__).resolve().parents[3]
BROKEN = REPO / "tests" / "fixtures" / "packs" / "broken"
CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir())


def test_broken_packs_every_case_has_a_golden_file() -> None:
    assert CASES, "no broken-pack fixtures"
    assert sorted(p.stem for p in BROKEN.glob("*.expected")) == CASES


@pytest.mark.parametrize("case", CASES)
def test_broken_pack_validate_reports_golden_message(case: str, registry: Registry,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # messages show paths relative to the working directory
    report = validate_pack(Path("tests/fixtures/packs/broken") / case, registry)
    got = "".join(f"{p}\n" for p in report.problems)
    expected = (BROKEN / f"{case}.expected").read_text(encoding="utf-8")
    assert not report.ok
    assert got == expected, f"--- expected\n{expected}--- got\n{got}"
