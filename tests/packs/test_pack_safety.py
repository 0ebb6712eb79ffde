"""The generic safety properties of issue 10 (cdss.testing.safety_properties) over every bundled pack, as
`cdss pack test` runs them: population scopes, no advice of a drug another pack contraindicates for the
patient, no advice for the deceased, supersedes, same-time readings."""

from __future__ import annotations

import pytest

from cdss.packs.registry import default_registry
from cdss.testing.properties import check_pack_properties

REGISTRY = default_registry()
PACKS = {p.id: p for p in REGISTRY.select()}
EXAMPLES = 8

# Defects the properties found and that are not fixed yet (strict: the test fails once they are fixed, so
# that the entry is removed). Each names the rule and why.
KNOWN: dict[str, str] = {
    # (empty) t2dm-community/treatment/start-metformin was fixed in t2dm-community 1.2.0 (it now tests the
    # creatinine limits too; case regression-metformin-creatinine-limit).
}


@pytest.mark.parametrize("pack_id", sorted(PACKS))
def test_safety_properties_hold(pack_id: str) -> None:
    results = check_pack_properties(PACKS[pack_id], REGISTRY, examples=EXAMPLES, groups=("safety",))
    known = KNOWN.get(pack_id)
    failed = [f"{r.title}: {r.message}" for r in results if r.status == "failed" and r.rule != known]
    assert not failed, "\n".join(failed)
    if known is not None:
        assert known in {r.rule for r in results if r.status == "failed"}, f"{known} is fixed: remove it from KNOWN"
