"""cdss: community clinical decision support and disease-catalogue rules engine.

Public API (everything else is internal and may change):

    registry = load_registry()                       # bundled concepts, catalogue and rule packs
    result = evaluate(bundle_bytes, now=now, registry=registry, pins=["htn-community@1.0.0"])
    result.to_json()                                 # the `cdss evaluate --format json` contract
"""

from cdss.engine.evaluate import evaluate
from cdss.engine.results import DataGap, Evaluation, Suggestion
from cdss.errors import CdssError, ConfigError, EngineError, IntakeError, PackError
from cdss.intake.bundle import read_bundle
from cdss.packs.registry import Registry, load_registry

__all__ = [
    "CdssError", "ConfigError", "DataGap", "EngineError", "Evaluation", "IntakeError", "PackError",
    "Registry", "Suggestion", "evaluate", "load_registry", "read_bundle",
]
