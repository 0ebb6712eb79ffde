"""Render: an Evaluation as the JSON of the `cdss evaluate --format json` contract. Decides nothing."""

from __future__ import annotations

import json

from cdss.engine.results import Evaluation


def render_json(result: Evaluation, indent: int | None = 2) -> str:
    """Deterministic JSON text: same evaluation, same bytes."""
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=indent, sort_keys=False) + "\n"
