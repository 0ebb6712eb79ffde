"""Regression: the service loaded packs that `cdss pack validate` refused (duplicate derived-fact ids, a rule
with `citation: []`). Both now run the one check phase (`cdss.packs.check`), so `load_registry` refuses them
with the same located problem as the editor's tool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdss.errors import PackError
from cdss.packs.registry import load_registry
from cdss.testing.validate import validate_pack

HTN = Path(__file__).resolve().parents[2] / "pathways" / "htn-community"


def _pack(tmp_path: Path, edit) -> Path:  # noqa: ANN001 - a function that rewrites rules/grading.yaml
    folder = tmp_path / "htn-community"
    shutil.copytree(HTN, folder, ignore=shutil.ignore_patterns("cases"))
    grading = folder / "rules" / "grading.yaml"
    grading.write_text(edit(grading.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def _duplicate_derived(text: str) -> str:
    start = text.index("  - id: bp_grade")
    end = text.index("\n  - id:", start + 1) if "\n  - id:" in text[start + 1:] else \
        text.index("\nrules:") if "\nrules:" in text else len(text)  # bp_grade is a table, last in the file
    return text[:end] + "\n" + text[start:end] + text[end:]


def _empty_citation(text: str) -> str:
    return text.replace("    citation: {source: htn-primary-2019, section: 血压水平分类和定义 (表)}",
                        "    citation: []", 1)


@pytest.mark.parametrize(("edit", "code"), [(_duplicate_derived, "duplicate-id"),
                                           (_empty_citation, "missing-citation")])
def test_load_registry_refuses_a_pack_that_validate_refuses(tmp_path: Path, edit, code: str):  # noqa: ANN001
    folder = _pack(tmp_path, edit)
    with pytest.raises(PackError) as caught:
        load_registry([tmp_path], bundled=False)
    loaded = [p for p in caught.value.problems if p.code == code]
    assert loaded and all(p.file and p.file.endswith("grading.yaml") and p.line for p in loaded)
    report = validate_pack(folder, load_registry([], bundled=False), use_lock=False)
    assert [str(p) for p in report.problems if p.code == code] == [str(p) for p in loaded]


def test_the_unchanged_pack_still_loads(tmp_path: Path):
    _pack(tmp_path, lambda text: text)
    assert [p.id for p in load_registry([tmp_path], bundled=False).all()] == ["htn-community"]
