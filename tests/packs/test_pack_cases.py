"""Every example case of every bundled pack (pathways/*/cases/*.yaml) passes."""

from __future__ import annotations

import pytest

from cdss.errors import PackError
from cdss.packs.registry import default_registry
from cdss.render.text import render_text
from cdss.testing.cases import case_files, read_pack_cases, run_case


def _all_cases():
    registry = default_registry()
    for pack in registry.all():
        files, problems = read_pack_cases(pack)
        if problems:
            raise PackError(problems)
        for f in files:
            for case, line in f.cases:
                yield pytest.param(pack, f.path, case, line, id=f"{pack.id}/{f.path.stem}/{case.id}")


@pytest.mark.parametrize("pack, file, case, line", list(_all_cases()))
def test_pack_case(pack, file, case, line):
    result = run_case(case, file, line, pack, default_registry())
    trace = render_text(result.result) if result.result else ""
    assert result.passed, f"{file}:{line}: case {case.id!r}\n" + "\n".join(result.failures) + "\n\n" + trace


def test_every_active_pack_has_cases():
    missing = [p.key for p in default_registry().all() if p.status == "active" and not case_files(p)]
    assert not missing, f"active packs without example cases: {missing}"
