"""The synthetic rule content of `cdss bench --rules-scale` (`cdss.testing.scale`): k copies of every pack
load as packs of their own and each copy gives the same advice as the original, under its own rule ids."""

from __future__ import annotations

import datetime as dt

import pytest

from cdss.engine.evaluate import evaluate
from cdss.engine.matcher import PlainMatcher
from cdss.packs.registry import default_registry
from cdss.testing.factories import synthetic_bundle
from cdss.testing.scale import copy_id, scaled_registry

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def _strip(rule_id: str) -> str:
    pack, _, rest = rule_id.partition("/")
    return f"{pack.removesuffix('-x3').removesuffix('-x2')}/{rest}"


def test_scaled_packs_load_and_give_the_same_suggestions_per_copy():
    base = default_registry()
    registry = scaled_registry(base, 3)
    originals = base.select()
    packs = registry.select()
    assert len(packs) == 3 * len(originals)
    assert {p.id for p in packs} == {copy_id(p.id, c) for p in originals for c in (1, 2, 3)}
    assert len({p.sha256 for p in packs}) == len(packs)
    result = evaluate(synthetic_bundle(500, concepts=registry.concepts, now=NOW), now=NOW, registry=registry,
                      matcher=PlainMatcher())
    alone = evaluate(synthetic_bundle(500, concepts=base.concepts, now=NOW), now=NOW, registry=base,
                     matcher=PlainMatcher())
    assert alone.suggestions
    for field in ("suggestions", "superseded"):
        by_copy: dict[str, list[str]] = {"": [], "-x2": [], "-x3": []}
        for s in getattr(result, field):
            suffix = next((x for x in ("-x2", "-x3") if s.pack_id.endswith(x)), "")
            by_copy[suffix].append(_strip(s.rule_id))
        expected = sorted(s.rule_id for s in getattr(alone, field))
        assert {k: sorted(v) for k, v in by_copy.items()} == {k: expected for k in by_copy}, field
    for gap in result.data_gaps:  # every copy's rules miss the same data
        assert len(gap.rules) % 3 == 0


def test_a_copy_supersedes_the_copy_of_the_same_number():
    registry = scaled_registry(default_registry(), 2)
    pack = next(p for p in registry.select() if p.id == "chest-pain-red-flags-x2")
    targets = {t for r in pack.rules for t in r.rule.supersedes}
    assert "htn-community-x2/referral/severe-bp-urgent-care" in targets
    assert not any(t.startswith("htn-community/") for t in targets)


def test_a_scale_below_one_is_refused():
    with pytest.raises(ValueError, match="rules scale"):
        scaled_registry(default_registry(), 0)


def test_bench_rules_scale_refuses_a_bad_list():
    from typer.testing import CliRunner

    from cdss.cli import _register, app

    _register()
    result = CliRunner().invoke(app, ["bench", "--rules-scale", "1,zero"])
    assert result.exit_code == 2
    assert "bad-scales" in result.output


def test_parse_scales():
    from cdss.cli.bench_scale import parse_scales

    assert parse_scales("1, 5,10") == [1, 5, 10]
    assert parse_scales("1,5,1,5") == [1, 5]
    with pytest.raises(ValueError):
        parse_scales("0")



def test_the_rules_scale_bench_times_the_scales_in_turn_and_pairs_their_ratios(monkeypatch):
    """A machine that slows down 5x halfway through (as this one drifts) changes no ratio: each round times
    every scale, and a ratio pairs the times of one round. (Timed one scale after the other, scale 1 would
    have been timed fast and scale 2 slow: a ratio of 15, not 3.)"""
    from types import SimpleNamespace

    from cdss.cli import bench_scale

    clock = {"now": 0.0}
    order: list[int] = []
    packs = len(default_registry().select())

    def fake_evaluate(data, *, now, registry, matcher):  # 1 s against the packs, 3 s against 2 copies of them
        order.append(len(registry.select()))
        speed = 1.0 if len(order) <= 4 + 8 else 5.0  # (4 warm-ups, then 2 rounds fast and 2 slow)
        clock["now"] += (3.0 if order[-1] > packs else 1.0) * speed
        return SimpleNamespace(suggestions=())

    monkeypatch.setattr("cdss.engine.evaluate.evaluate", fake_evaluate)
    monkeypatch.setattr(bench_scale, "time", SimpleNamespace(process_time=lambda: clock["now"]))
    monkeypatch.setattr("cdss.vocab.collector.settle_long_lived", lambda: None)  # (the collector stays as it is)
    result = bench_scale.measure([1, 2, 1], repeat=4, matcher_name="plain")  # (a scale given twice: timed once)
    rows = {r["scale"]: r for r in result["rows"]}
    assert (rows[1]["packs"], rows[2]["packs"]) == (packs, 2 * packs)
    assert (rows[1]["x_20"], rows[1]["x_500"], rows[2]["x_20"], rows[2]["x_500"]) == (1.0, 1.0, 3.0, 3.0)
    one, two = packs, 2 * packs
    assert order[4:] == [one, one, two, two, two, two, one, one] * 2  # in turn, reversed every other round


def test_copies_with_concepts_of_their_own_advise_as_for_a_record_with_no_data():
    """With --own-concepts a copy tests concepts no record mentions: against a full record it gives what the
    original gives for the same patient with no data at all (advice by age and sex, closed-world absences)."""
    base = default_registry()
    registry = scaled_registry(base, 3, own_concepts=True)
    bundle = synthetic_bundle(500, concepts=base.concepts, now=NOW)
    patient_only = dict(bundle, entry=[e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"])
    result = evaluate(bundle, now=NOW, registry=registry, matcher=PlainMatcher())
    full = evaluate(bundle, now=NOW, registry=base, matcher=PlainMatcher())
    empty = evaluate(patient_only, now=NOW, registry=base, matcher=PlainMatcher())
    by_copy: dict[str, list[str]] = {"": [], "-x2": [], "-x3": []}
    for s in result.suggestions:
        suffix = next((x for x in ("-x2", "-x3") if s.pack_id.endswith(x)), "")
        by_copy[suffix].append(_strip(s.rule_id))
    assert sorted(by_copy[""]) == sorted(s.rule_id for s in full.suggestions)
    expected = sorted(s.rule_id for s in empty.suggestions)
    assert expected and expected != sorted(by_copy[""])  # (so a copy that kept the original's concepts fails)
    assert sorted(by_copy["-x2"]) == sorted(by_copy["-x3"]) == expected
    assert {c.id for c in registry.concepts.source.concepts} >= {"sbp", "sbp_x2", "sbp_x3"}
    assert not registry.concepts.by_id["sbp_x2"].codes
