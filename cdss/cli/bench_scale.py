"""CLI: `cdss bench --rules-scale 1,5,10`: how evaluation time grows with the number of rules.

For each scale k, the registry holds every shipped pack and k - 1 renamed copies of each
(`cdss.testing.scale.scaled_registry`: k times today's rules, each copy giving the same advice under its own
rule ids). Two generated bundles are timed (`cdss.testing.factories.synthetic_bundle`): a small one (the fixed
cost of an evaluation, which grows with the rules, not with the patient) and one of 500 resources. Medians of
`repeat` timed evaluations after one warm-up (which compiles the packs and registers their rulesets), in CPU
milliseconds of this process (steadier than wall time on a shared machine; the evaluation runs on this
thread, durable-rules included), and the ratio to scale 1; the scales are timed in turn (`measure`).
`--plot FILE` also writes the curve as SVG (matplotlib).
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from pathlib import Path
from typing import Any

SMALL = 20  # resources of the "fixed cost" bundle (as `cdss bench --startup`)
LARGE = 500
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def parse_scales(text: str) -> list[int]:
    """`1,5,10` -> [1, 5, 10].

    Raises:
        ValueError: not a comma-separated list of whole numbers >= 1.
    """
    scales = list(dict.fromkeys(int(s) for s in text.split(",") if s.strip()))  # (a scale given twice: once)
    if not scales or min(scales) < 1:
        raise ValueError(text)
    return scales


def measure(scales: list[int], *, repeat: int, matcher_name: str, own_concepts: bool = False) -> dict[str, Any]:
    """Median CPU milliseconds per evaluation at each rules scale, for the small and the 500-resource bundle,
    and the ratio to scale 1 (or to the first scale given, without 1).

    The scales are timed in turn, `repeat` rounds of one evaluation of each bundle at each scale (the order
    reversed every other round), not one scale after the other: this machine's speed drifts by tens of per
    cent from minute to minute, and timed one after the other a drift between two scales became part of their
    ratio. A ratio is the median over the rounds of that round's time at the scale over its time at scale 1, so
    it need not equal the ratio of the two medians shown beside it.
    With `own_concepts`, the copies test concepts of their own (`cdss.testing.scale`).
    """
    from cdss.engine.evaluate import evaluate
    from cdss.engine.matcher import matcher_named
    from cdss.packs.registry import default_registry
    from cdss.testing.factories import synthetic_bundle
    from cdss.testing.scale import scaled_registry
    from cdss.vocab.collector import settle_long_lived

    base = default_registry()
    matcher = matcher_named(matcher_name)
    bundles = {n: json.dumps(synthetic_bundle(n, concepts=base.concepts, now=NOW)).encode() for n in (SMALL, LARGE)}
    scales = list(dict.fromkeys(scales))  # (each scale timed once per round)
    registries = {scale: scaled_registry(base, scale, own_concepts=own_concepts) for scale in scales}
    suggestions = {(scale, n): len(evaluate(data, now=NOW, registry=registry, matcher=matcher).suggestions)
                   for scale, registry in registries.items() for n, data in bundles.items()}  # warm-up
    settle_long_lived()  # as the service does once its registry is loaded (service/deps.py)
    times: dict[tuple[int, int], list[float]] = {key: [] for key in suggestions}
    for turn in range(repeat):
        for scale in scales if turn % 2 == 0 else scales[::-1]:
            for n, data in bundles.items():
                t0 = time.process_time()
                evaluate(data, now=NOW, registry=registries[scale], matcher=matcher)
                times[scale, n].append((time.process_time() - t0) * 1000)
    one = 1 if 1 in scales else scales[0]
    rows: list[dict[str, Any]] = []
    for scale, registry in registries.items():
        packs = registry.select()
        row: dict[str, Any] = {"scale": scale, "packs": len(packs), "rules": sum(len(p.rules) for p in packs)}
        for n in bundles:
            row[f"ms_{n}"] = round(statistics.median(times[scale, n]), 2)
            row[f"x_{n}"] = round(statistics.median(t / b for t, b in zip(times[scale, n], times[one, n],
                                                                           strict=True)), 2)
            row[f"suggestions_{n}"] = suggestions[scale, n]
        rows.append(row)
    return {"matcher": matcher.name, "repeat": repeat, "small_resources": SMALL, "large_resources": LARGE,
            "copies": "own concepts" if own_concepts else "same concepts", "rows": rows}


def print_table(result: dict[str, Any]) -> None:
    """The figures as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    small, large = result["small_resources"], result["large_resources"]
    table = Table(title=f"evaluation time vs rules (copies on {result['copies']}; matcher {result['matcher']}, "
                        f"median of {result['repeat']} rounds, the scales timed in turn)")
    for name in ("scale", "packs", "rules", f"{small} res. CPU ms", "× scale 1", f"{large} res. CPU ms", "× scale 1 "):
        table.add_column(name, justify="right")
    for r in result["rows"]:
        table.add_row(f"{r['scale']}×", str(r["packs"]), str(r["rules"]), f"{r[f'ms_{small}']:.1f}",
                      f"{r[f'x_{small}']:.2f}", f"{r[f'ms_{large}']:.1f}", f"{r[f'x_{large}']:.2f}")
    Console(width=120).print(table)


def plot(result: dict[str, Any], path: Path) -> None:
    """The curve (ms per evaluation vs rules scale) as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    scales = [r["scale"] for r in rows]
    with matplotlib.rc_context({"svg.hashsalt": "cdss-bench", "svg.fonttype": "path"}):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for n in (result["small_resources"], result["large_resources"]):
            ax.plot(scales, [r[f"ms_{n}"] for r in rows], marker="o", label=f"{n} resources")
        ax.set_xlabel("rules scale (× today's rules)")
        ax.set_ylabel("CPU ms per evaluation (median)")
        ax.set_ylim(bottom=0)
        ax.legend()
        ax.set_title(f"cdss bench --rules-scale (copies on {result['copies']}; matcher {result['matcher']})",
                     fontsize=10)
        fig.tight_layout()
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
