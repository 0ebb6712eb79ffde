"""Architecture: imports point one way, durable_rules lives in one module, no clinical literal in Python."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Floors from the top: a module may import its own layer and the floors below it, never a floor above it,
# and never a sibling layer on the same floor (intake and packs share the vocabulary floor beneath them).
FLOORS: list[tuple[str, ...]] = [("service",), ("cdss.cli",), ("cdss.testing",), ("cdss.population",),
                                 ("cdss.render",), ("cdss.engine",),
                                 ("cdss.intake", "cdss.packs"), ("cdss.vocab",), ("cdss.errors",)]
LAYERS = [layer for floor in FLOORS for layer in floor]
FLOOR_OF = {layer: i for i, floor in enumerate(FLOORS) for layer in floor}


def _layer(module: str) -> str | None:
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _sources() -> list[Path]:
    return sorted([*ROOT.joinpath("cdss").rglob("*.py"), *ROOT.joinpath("service").rglob("*.py")])


def test_imports_point_one_way():
    bad = []
    for path in _sources():
        here = _layer(_module_name(path))
        for target in _imports(path):
            there = _layer(target)
            if here is None or there is None or here == there:
                continue
            if FLOOR_OF[there] <= FLOOR_OF[here]:
                bad.append(f"{path.relative_to(ROOT)} imports {target} ({here} -> {there})")
    assert not bad, "reverse or sideways imports:\n" + "\n".join(bad)


def test_durable_rules_is_imported_only_by_the_adapter():
    durable_rules = {"durable", "durable_rules_engine"}  # the distribution's Python package and its C core
    users = [str(p.relative_to(ROOT)) for p in _sources() if any(i.split(".")[0] in durable_rules
                                                                for i in _imports(p))]
    assert users == ["cdss/engine/durable.py"]


def test_every_module_lock_of_cdss_is_renewed_after_fork():
    """A module-level lock made with threading directly would hang a child forked while another thread
    holds it (cdss.vocab.locks): every one comes from `module_lock`."""
    made_directly = []
    for path in sorted(ROOT.joinpath("cdss").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
                    value.func.attr in ("Lock", "RLock") and getattr(value.func.value, "id", "") == "threading":
                made_directly.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not made_directly, "module locks not made by cdss.vocab.locks.module_lock:\n" + "\n".join(made_directly)


def test_no_cached_property_in_cdss():
    """On Python 3.11 functools.cached_property holds a lock per property, which a child forked while another
    thread fills it could never take (cdss.vocab.locks); values are set when the object is made instead."""
    used = re.compile(r"^\s*@(functools\.)?cached_property|^from functools import .*\bcached_property", re.M)
    users = [str(p.relative_to(ROOT)) for p in sorted(ROOT.joinpath("cdss").rglob("*.py"))
             if used.search(p.read_text(encoding="utf-8"))]
    assert not users, f"cached_property used in {users}"


# Clinical literals: medical codes and unit-bearing thresholds. Data belong in catalogue/ and pathways/.
CODE_PATTERNS = [
    re.compile(r"['\"]\d{4,5}-\d['\"]"),             # LOINC
    re.compile(r"['\"][A-TV-Z]\d{2}(\.\d{1,4})?['\"]"),  # ICD-10 category
    re.compile(r"['\"][A-N][0-9]{2}[A-Z]{1,2}\d{0,2}['\"]"),  # ATC
    re.compile(r"\b(mmHg|mm\[Hg\]|mmol/L|mg/dL)\b.*\d"),  # a number with a clinical unit
]
ALLOWED_MARK = "clinical-literal-ok:"  # a line may carry this mark with the reason (e.g. an example in a message)


def test_no_clinical_literal_in_python():
    hits = []
    for path in _sources():
        rel = str(path.relative_to(ROOT))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ALLOWED_MARK in line:
                continue
            code = line.split("#", 1)[0]
            if any(p.search(code) for p in CODE_PATTERNS):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, "clinical literals in Python (move them to catalogue/ or pathways/):\n" + "\n".join(hits)
