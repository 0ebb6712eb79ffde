"""Regressions from the second clinical reading of the emergency packs (2026-12-01): evidence marks overstated.

- ``red-flags-vital-signs/referral/temp-35-or-below`` was ``verified``, but NEWS2 (verified) gives its <=35.0 only
  for people aged 16 and over, the rule runs at every age, and its hypothermia definition is secondary.
- ``emergency-red-flags/referral/anaphylaxis-recorded-today`` was ``verified``, but only "IM adrenaline first-line"
  was read in the WAO 2020 abstract; the position, the 5-15 minute repeat, oxygen and fluids it advises are secondary.

A clinician reads the mark as how far to trust the card, so a mark above its weakest source is a safety defect.
"""

from __future__ import annotations

import pytest

from cdss.packs.registry import Registry, load_registry
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def packs() -> Registry:
    return load_registry([ROOT / "pathways" / "red-flags-vital-signs", ROOT / "pathways" / "emergency-red-flags"],
                         bundled=False)


def _rule(registry: Registry, pack_id: str, full_id: str):
    pack = registry.versions(pack_id)[0]
    return next(r.rule for r in pack.rules if r.full_id == full_id)


@pytest.mark.parametrize(("pack_id", "full_id"), [
    ("red-flags-vital-signs", "red-flags-vital-signs/referral/temp-35-or-below"),
    ("emergency-red-flags", "emergency-red-flags/referral/anaphylaxis-recorded-today"),
])
def test_mark_is_not_higher_than_its_secondary_sources(packs: Registry, pack_id: str, full_id: str) -> None:
    rule = _rule(packs, pack_id, full_id)
    assert rule.evidence == "secondary", f"{full_id} is marked {rule.evidence!r}; its weakest source is secondary"
