"""docs/editor: the generated pack format is current, and the guides exist and name the commands."""

from __future__ import annotations

from pathlib import Path

from cdss.cli.pack import render_schema_markdown

EDITOR = Path(__file__).resolve().parents[3] / "docs" / "editor"


def test_editor_docs_pack_format_generated_and_current() -> None:
    text = (EDITOR / "pack-format.md").read_text(encoding="utf-8")
    assert text == render_schema_markdown(), (
        "docs/editor/pack-format.md is stale: run `cdss pack schema --format markdown > docs/editor/pack-format.md`")
    assert "GENERATED" in text.splitlines()[0]


def test_editor_docs_guides_name_the_commands() -> None:
    joined = "".join((EDITOR / name).read_text(encoding="utf-8") for name in
                     ("add-a-rule.md", "cases-and-properties.md", "versioning.md"))
    for command in ("cdss pack validate", "cdss pack test", "cdss pack diff", "cdss pack publish"):
        assert command in joined
