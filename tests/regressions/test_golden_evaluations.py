"""Golden evaluations: the engine's JSON output for fixed bundles and fixed packs never changes by accident.

`tests/fixtures/golden/` holds a frozen copy of nine packs (pack.yaml and rules only), the concepts and the
catalogue they were written against, and three synthetic bundles; the fixture bundles of
`tests/fixtures/bundles/` (including the Synthea ones) are evaluated too. The expected JSON was first produced
by the engine before it was reshaped (vocabulary floor, matcher port); the copy and the expected JSON were
refreshed once the population scopes (issue 10) and the differential (issue 17) deliberately changed the
output. Each evaluation must stay byte-identical, whatever the hash seed of the process and whichever matcher
runs. When the output intentionally changes, regenerate and review the diff. The copy is frozen on purpose:
content engineers change `pathways/` freely without touching it.

Regenerate (only for an intended change of output): `python -m tests.regressions.test_golden_evaluations`.
"""

from __future__ import annotations

import datetime as dt
import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
BUNDLES = ROOT / "tests" / "fixtures" / "bundles"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


# The fixture bundles evaluated (named, so that a new fixture elsewhere does not change this test).
FIXTURE_BUNDLES = ("healthy-adult.json", "htn-controlled.json", "htn-emergency.json", "htn-new-diagnosis.json",
                   *(f"synthea/{name}.json.xz" for name in (
                       "Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c",
                       "Buddy_MacGyver_c96ab841-48f4-42e4-bd46-f25c1490e422",
                       "Coleman_Ortiz_70e00093-a3d5-42bc-8186-eface8432c02",
                       "Darron_Feeney_ff447d4a-3e5c-4e90-9854-a66a1d0bdfac",
                       "Dirk_Kuhlman_1e503533-b8c2-42cb-a6d5-bbd7d70d07ad")))


def bundle_files() -> list[Path]:
    return sorted([*(BUNDLES / name for name in FIXTURE_BUNDLES), *(GOLDEN / "bundles").glob("*.json.xz")])


def _name(path: Path) -> str:
    return path.name.removesuffix(".xz").removesuffix(".json")


def evaluate_all(matcher: str | None = None) -> dict[str, str]:
    """Every golden bundle evaluated with the frozen packs: bundle name -> `cdss evaluate` JSON text."""
    from cdss.engine.evaluate import evaluate
    from cdss.packs.registry import load_registry
    from cdss.render.json import render_json

    registry = load_registry([GOLDEN / "pathways"], bundled=False, concepts_path=GOLDEN / "concepts",
                             catalogue_dir=GOLDEN / "catalogue")
    extra = {"matcher": _matcher(matcher)} if matcher else {}
    out = {}
    for path in bundle_files():
        data = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
        out[_name(path)] = render_json(evaluate(data, now=NOW, registry=registry, **extra))
    return out


def _matcher(name: str):  # noqa: ANN202 - the engine's Matcher, imported late (absent before the port)
    from cdss.engine.matcher import matcher_named

    return matcher_named(name)


def _run(seed: str, matcher: str) -> dict[str, str]:
    code = ("import json, sys; from tests.regressions.test_golden_evaluations import evaluate_all; "
            f"json.dump(evaluate_all({matcher!r}), sys.stdout)")
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.mark.parametrize(("seed", "matcher"), [("0", "durable"), ("4242", "durable"), ("4242", "plain")])
def test_evaluations_are_byte_identical_to_the_golden_files(seed: str, matcher: str):
    got = _run(seed, matcher)
    expected = {p.stem: p.read_text(encoding="utf-8") for p in sorted((GOLDEN / "expected").glob("*.json"))}
    assert sorted(got) == sorted(expected), "golden bundles and expected files differ"
    changed = [name for name in expected if got[name] != expected[name]]
    assert not changed, f"output changed for {changed} (PYTHONHASHSEED={seed}, matcher={matcher})"


if __name__ == "__main__":
    for name, text in evaluate_all().items():
        (GOLDEN / "expected" / f"{name}.json").write_text(text, encoding="utf-8")
