"""cdss: community clinical decision support and disease-catalogue rules engine.

Public API (everything else is internal and may change):

    registry = load_registry()                       # bundled concepts, catalogue and rule packs
    result = evaluate(bundle_bytes, now=now, registry=registry, pins=["htn-community@1.0.0"])
    result.model_dump(mode="json")                   # the `cdss evaluate --format json` contract
    Evaluation.model_validate(data)                  # a stored one read back (typed, frozen)
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so that `import cdss.errors` stays cheap and free of engine imports.
_EXPORTS = {
    "evaluate": "cdss.engine.evaluate",
    "DataGap": "cdss.engine.results",
    "Evaluation": "cdss.engine.results",
    "Suggestion": "cdss.engine.results",
    "CdssError": "cdss.errors",
    "ConfigError": "cdss.errors",
    "EngineError": "cdss.errors",
    "IntakeError": "cdss.errors",
    "PackError": "cdss.errors",
    "read_bundle": "cdss.intake.bundle",
    "Registry": "cdss.packs.registry",
    "load_registry": "cdss.packs.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cdss' has no attribute {name!r}")
