"""Render: the text output takes its words from the one label file; an emergency stands out."""

from __future__ import annotations

from cdss.engine.evaluate import evaluate
from cdss.render.text import render_text
from cdss.vocab.labels import bilingual
from tests.conftest import load_bundle


def test_text_labels_come_from_the_label_file_and_an_emergency_stands_out(registry, now):
    result = evaluate(load_bundle("htn-emergency.json"), now=now, registry=registry)
    text = render_text(result)
    assert "1. [紧急 EMERGENCY] referral" in text
    first = result.suggestions[0]
    assert f"证据 Evidence: {bilingual('evidence', first.evidence, sep=' ')}" in text
    assert "[常规 Routine]" in text
