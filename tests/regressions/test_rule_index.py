"""Regression: the rule index (`cdss.engine.plan`) skips work, never a result.

Evaluating with the index (the default: only the tests and rules on concepts in the record are worked out,
the others take their outcome for a patient without data, and stage-0 tests shared by packs are matched once)
must give byte-identical JSON to walking every test and rule (`index=False`): on every pack case (the pack
alone and, for the first case of each file, with all packs), on generated patients, and on copies of the packs.
Above all, a rule skipped because its data are absent keeps its data gaps (open world: absent is unknown).
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdss.engine import evaluate as evaluate_module
from cdss.engine import plan
from cdss.engine.compile import compile_pack
from cdss.engine.evaluate import _Evaluation, evaluate_facts
from cdss.engine.matcher import Fact, LeafTest, LeafTestId, PlainMatcher, StageTests
from cdss.engine.memo import ByIdentity
from cdss.engine.population import prepare
from cdss.intake.bundle import read_bundle
from cdss.intake.facts import PatientFacts
from cdss.packs.registry import default_registry
from cdss.packs.scope import load_safety_settings
from cdss.render.json import render_json
from cdss.testing.cases import case_bundle, read_pack_cases
from cdss.testing.factories import synthetic_bundle
from cdss.testing.scale import scaled_registry
from cdss.testing.strategies import bundles

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def both(facts, registry, packs, now=NOW) -> tuple[str, str]:  # noqa: ANN001
    return tuple(render_json(evaluate_facts(facts, now=now, registry=registry, packs=packs, matcher=PlainMatcher(),
                                            index=index)) for index in (True, False))  # type: ignore[return-value]


def test_every_pack_case_gives_the_same_evaluation_with_and_without_the_index():
    registry = default_registry()
    everything = registry.select()
    differ, checked = [], 0
    for pack in registry.all():
        files, problems = read_pack_cases(pack)
        assert not problems
        for f in files:
            for n, (case, line) in enumerate(f.cases):
                facts = read_bundle(case_bundle(case, f.path, registry), registry.concepts)
                for packs in ([pack], everything) if n == 0 else ([pack],):
                    indexed, full = both(facts, registry, packs, case.now)
                    checked += 1
                    if indexed != full:
                        differ.append(f"{f.path}:{line}: {case.id} ({len(packs)} pack(s))")
    assert checked > 700
    assert not differ, "\n".join(differ)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=bundles(default_registry().concepts, now=NOW))
def test_generated_patients_give_the_same_evaluation_with_and_without_the_index(data):
    registry = default_registry()
    facts = read_bundle(data, registry.concepts)
    indexed, full = both(facts, registry, registry.select())
    assert indexed == full


def test_copied_packs_give_the_same_evaluation_with_and_without_the_index():
    registry = scaled_registry(default_registry(), 2)
    for n in (0, 50, 500):
        facts = read_bundle(synthetic_bundle(n, concepts=registry.concepts, now=NOW), registry.concepts)
        indexed, full = both(facts, registry, registry.select())
        assert indexed == full
    # the copies' diagnosis rules are twins in the differential (`cdss.engine.shared.differential`): scored once,
    # listed under both rule ids
    rules = {r for c in json.loads(indexed)["differential"] for r in c["rules"]}
    assert any("-x2/" in r for r in rules) and any("-x2/" not in r for r in rules)


def test_copies_on_concepts_of_their_own_give_the_same_evaluation_with_and_without_the_index():
    """Copies that test concepts no record mentions (`--own-concepts`): their diagnosis groups are quiet
    (`plan.QuietGroup`) for most patients, and patients of other ages and sexes in turn must each get the
    full walk's answer."""
    registry = scaled_registry(default_registry(), 2, own_concepts=True)
    for n, seed in ((0, 0), (50, 1), (50, 2), (0, 3), (50, 1)):
        facts = read_bundle(synthetic_bundle(n, concepts=registry.concepts, now=NOW, seed=seed), registry.concepts)
        indexed, full = both(facts, registry, registry.select())
        assert indexed == full


def test_rules_skipped_for_absent_data_keep_their_data_gaps():
    """A patient with demographics only: most rules are not worked out, and every one of them that needs data
    and applies to the patient still reports the data it misses."""
    registry = default_registry()
    packs = registry.select()
    facts = read_bundle(synthetic_bundle(0, concepts=registry.concepts, now=NOW), registry.concepts)
    state = _Evaluation(prepare(facts, NOW, load_safety_settings()), NOW, registry, PlainMatcher())
    state.run_packs(packs)
    quiet = [(run, r) for run in state.runs for r in run.active.quiet_rules
             if run.cp.pack.rules[r].rule.gaps == "report"
             and state.scope(run.cp.pack.rules[r].rule.population or run.cp.pack.meta.population).outcome != "false"]
    assert len(quiet) >= 3  # rules the index does skip here, that report gaps
    result = json.loads(render_json(evaluate_facts(facts, now=NOW, registry=registry, packs=packs)))
    gap_rules = {rule for gap in result["data_gaps"] for rule in gap["rules"]}
    missing = [run.cp.pack.rules[r].full_id for run, r in quiet if run.cp.pack.rules[r].full_id not in gap_rules]
    assert not missing
    assert both(facts, registry, packs)[0] == both(facts, registry, packs)[1]


def test_a_test_shared_by_two_packs_is_matched_once_and_fires_for_both(monkeypatch):
    monkeypatch.setattr(plan, "_selections", set())
    a = StageTests("a:s0", (LeafTest(LeafTestId(0), "k", ">=", 140), LeafTest(LeafTestId(1), "k", "<", 90)))
    b = StageTests("b:s0", (LeafTest(LeafTestId(3), "k", ">=", 140),))
    merged = plan.merged_stage([a, b])
    assert len(merged.group.tests) == 2
    facts = [Fact(1, "k", 150.0)]
    fired = {f for firing in PlainMatcher().match([(merged.group, facts)]) for f in merged.expand(firing)}
    assert fired == PlainMatcher().match([(a, facts), (b, facts)])


def test_past_the_limit_of_merged_selections_stages_are_matched_per_pack(monkeypatch):
    """durable-rules cannot unregister a ruleset, so a process merges at most MAX_MERGED_SELECTIONS selections
    of packs; past it the evaluation matches per pack, with the same result."""
    monkeypatch.setattr(plan, "MAX_MERGED_SELECTIONS", 0)
    monkeypatch.setattr(plan, "_merged", {})
    monkeypatch.setattr(plan, "_selections", set())
    monkeypatch.setattr(evaluate_module, "_selections", ByIdentity(16))  # (else an earlier test's merged stages)
    registry = default_registry()
    packs = registry.select()
    assert plan.merged_stage([compile_pack(p).groups[0] for p in packs if 0 in compile_pack(p).groups]) is None
    facts = read_bundle(synthetic_bundle(50, concepts=registry.concepts, now=NOW), registry.concepts)
    indexed, full = both(facts, registry, packs)
    assert indexed == full


def _scoped(pack, population, copy):  # noqa: ANN001, ANN202 - a copy of `pack` whose every rule has `population`
    from dataclasses import replace

    from cdss.packs.registry import PackRule
    from cdss.testing.scale import copy_pack
    from cdss.vocab.hashing import content_sha256

    copied = copy_pack(pack, copy, frozenset())
    rules = tuple(PackRule(r.rule.model_copy(update={"population": population}), r.pack_id, r.file, r.line)
                  for r in copied.rules)
    return replace(copied, rules=rules, meta=copied.meta.model_copy(update={"population": population}),
                   sha256=content_sha256(copied.sha256, "scoped"))  # compiled and indexed as its own content


def test_a_condition_shared_by_two_packs_one_of_which_excludes_the_patient():
    """Identical conditions are decided once per evaluation (`cdss.engine.shared`): when two packs have the
    same rules and only one of them is for this patient (its population scope excludes the other sex), the
    other still gives its own advice, gaps and differential, first or second in the order of packs."""
    from cdss.packs.registry import Registry
    from cdss.packs.scope import Population

    base = default_registry()
    originals = [p for p in base.select() if p.id in ("htn-community", "t2dm-community", "tcm-differentiation")]
    checked = 0
    for n in (0, 20, 50):
        facts = read_bundle(synthetic_bundle(n, concepts=base.concepts, now=NOW), base.concepts)
        other = Population(sex=("female",) if facts.sex == "male" else ("male",))
        for excluded_first in (True, False):
            registry = Registry(concepts=base.concepts, catalogue=base.catalogue)
            for pack in originals:
                registry.add(_scoped(pack, other, 1) if excluded_first else pack)  # sorts before its copy
                registry.add(pack_copy := (copy_pack_of(pack) if excluded_first else _scoped(pack, other, 2)))
                assert pack_copy.id.endswith("-x2")
            indexed, full = both(facts, registry, registry.select())
            assert indexed == full
            result = json.loads(indexed)
            excluded_ids = {p.id for p in registry.select() if p.meta.population == other}
            assert not [s for s in result["suggestions"] if s["rule"].split("@")[0] in excluded_ids]
            assert not [r for g in result["data_gaps"] for r in g["rules"] if r.split("/")[0] in excluded_ids]
            checked += bool(result["suggestions"] or result["data_gaps"])
    assert checked >= 4


def copy_pack_of(pack):  # noqa: ANN001, ANN201 - copy 2 of a pack, unchanged
    from cdss.testing.scale import copy_pack

    return copy_pack(pack, 2, frozenset())


def test_copies_share_their_keys_and_are_decided_once_per_evaluation():
    registry = scaled_registry(default_registry(), 3)
    packs = registry.select()
    a, b = compile_pack(packs[0]), compile_pack(next(p for p in packs if p.id == f"{packs[0].id}-x2"))
    assert (a.leaf_keys, a.rule_keys, a.derived_keys) == (b.leaf_keys, b.rule_keys, b.derived_keys)
    assert len(set(a.leaf_keys)) == len(a.leaf_keys)  # a pack's leaves are distinct
    facts = read_bundle(synthetic_bundle(50, concepts=registry.concepts, now=NOW), registry.concepts)
    state = _Evaluation(prepare(facts, NOW, load_safety_settings()), NOW, registry, PlainMatcher())
    state.run_packs(packs)
    decided = sum(len(run.active.rules) for run in state.runs)
    assert 0 < len(state.shared.conditions) <= decided / 3


def _bundled_selection() -> plan.Selection:
    """One Selection of the bundled packs per test process, as evaluations keep one per selection."""
    if not _SELECTION:
        registry = default_registry()
        state = _Evaluation(PatientFacts(patient="Patient/-", birth_date=None, sex=None), NOW, registry, PlainMatcher())
        _SELECTION.append(plan.Selection([ix for _, ix in state.prepared(registry.select())]))
    return _SELECTION[0]


_SELECTION: list[plan.Selection] = []


@settings(max_examples=60, deadline=None)
@given(picked=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_what_a_record_activates_across_the_packs_is_what_each_pack_activates(picked):
    """`plan.Selection` keeps, per set of touched concepts, every pack's `Active`, the differential groups and
    the diagnosis rules in them: each must be what asking the packs one by one gives, whichever sets came
    before. The limit of kept sets is lowered to 4 here so that the oldest are forgotten many times (a kept
    value given for another set would show). That each pack's Active is right is the other tests' part."""
    selection = _bundled_selection()
    indexes = selection.indexes
    concepts = sorted(selection.concepts)
    seen = frozenset({*(concepts[i % len(concepts)] for i in picked), "unrelated-concept"})
    kept, plan.ACTIVE_KEPT = plan.ACTIVE_KEPT, 4
    try:
        got = selection.active(seen)
        assert selection.active(seen) is got  # kept
        actives = [plan.active(ix, seen) for ix in indexes]
    finally:
        plan.ACTIVE_KEPT = kept
    assert got.actives == tuple(actives)
    groups = frozenset().union(*(a.groups for a in actives))
    assert got.groups == groups
    assert got.diagnosis == tuple((i, r, ix.groups[r], ix.rows[r]) for i, ix in enumerate(indexes)
                                  for r in ix.diagnosis if ix.groups[r] in groups)
