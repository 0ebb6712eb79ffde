"""Properties over every bundled pack (issue 4): worsening a vital sign never lowers the most urgent
advice; a normal adult gets no diagnosis, treatment or referral; no rule fires together with a rule it
explicitly excludes; adding a measurement no rule reads changes nothing.

The "abnormal side" and "normal range" tables below are test data (what the generator calls abnormal or
normal), not clinical rules: the rules under test live in pathways/."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from cdss.engine.compile import compile_pack
from cdss.engine.evaluate import evaluate
from cdss.packs.registry import default_registry
from cdss.packs.schema import URGENCY_ORDER
from cdss.testing.factories import CaseFact, bundle_from_facts
from tests.conftest import NOW

REGISTRY = default_registry()

# concept: (abnormal side starts at, direction of worsening, plausible limit)
WORSENING = {
    "sbp": (140, +1, 260), "dbp": (90, +1, 150), "heart_rate": (100, +1, 220), "resp_rate": (20, +1, 60),
    "spo2": (94, -1, 60), "body_temp": (37.5, +1, 42.5),
}
NORMAL_ADULT = {"sbp": (105, 128), "dbp": (62, 82), "heart_rate": (60, 90), "resp_rate": (12, 18),
                "spo2": (96, 100), "body_temp": (36.2, 37.2)}


def _urgency_rank(facts, age, sex) -> int:
    bundle = bundle_from_facts(facts, concepts=REGISTRY.concepts, now=NOW, age_years=age, sex=sex)
    result = evaluate(bundle, now=NOW, registry=REGISTRY)
    return min((URGENCY_ORDER.index(s.urgency) for s in result.suggestions), default=len(URGENCY_ORDER))


@st.composite
def vitals_today(draw, ranges):
    return [CaseFact(concept=c, value=round(draw(st.floats(lo, hi)), 1), days_ago=0) for c, (lo, hi) in ranges.items()
            if c in REGISTRY.concepts.by_id and draw(st.booleans())]


@st.composite
def worsening_case(draw):
    """Abnormal vitals today, one of them chosen, and that one made worse (still plausible)."""
    concept = draw(st.sampled_from(sorted(c for c in WORSENING if c in REGISTRY.concepts.by_id)))
    start, direction, limit = WORSENING[concept]
    value = draw(st.floats(min(start, limit), max(start, limit)))
    worse = draw(st.floats(min(value, limit), max(value, limit)))
    others = [f for f in draw(vitals_today({c: (min(a, lim), max(a, lim)) for c, (a, _, lim) in WORSENING.items()}))
              if f.concept != concept]
    return (others, CaseFact(concept=concept, value=round(value, 1), days_ago=0),
            CaseFact(concept=concept, value=round(worse, 1), days_ago=0))


@given(worsening_case(), st.integers(1, 95), st.sampled_from(["male", "female"]))
def test_worsening_a_vital_sign_never_lowers_the_most_urgent_advice(case, age, sex):
    others, before, after = case
    assert _urgency_rank([*others, after], age, sex) <= _urgency_rank([*others, before], age, sex)


@given(vitals_today(NORMAL_ADULT), st.integers(18, 64), st.sampled_from(["male", "female"]))
def test_normal_adult_gets_no_diagnosis_treatment_or_referral(facts, age, sex):
    bundle = bundle_from_facts(facts, concepts=REGISTRY.concepts, now=NOW, age_years=age, sex=sex)
    result = evaluate(bundle, now=NOW, registry=REGISTRY)
    bad = [(s.rule, s.kind) for s in result.suggestions if s.kind in ("diagnosis", "treatment", "referral")]
    assert not bad


@given(vitals_today({c: (min(a, lim), max(a, lim)) for c, (a, _, lim) in WORSENING.items()}),
       st.lists(st.sampled_from([c.id for c in REGISTRY.concepts.source.concepts
                                 if c.kind in ("condition", "symptom", "medication") and c.codes]),
                max_size=5, unique=True),
       st.integers(1, 95))
def test_no_rule_fires_with_a_rule_it_excludes(facts, coded, age):
    facts = [*facts, *(CaseFact(has=c, days_ago=0) for c in coded)]
    bundle = bundle_from_facts(facts, concepts=REGISTRY.concepts, now=NOW, age_years=age, sex="female")
    result = evaluate(bundle, now=NOW, registry=REGISTRY)
    assert not [n for n in result.notes if "excludes" in n]


UNUSED = sorted(
    c.id for c in REGISTRY.concepts.source.concepts
    if c.kind == "quantity" and c.codes and c.plausible
    and all(leaf.leaf.subject != c.id for p in REGISTRY.all() for leaf in compile_pack(p).leaves)
)


@given(vitals_today({c: (min(a, lim), max(a, lim)) for c, (a, _, lim) in WORSENING.items()}),
       st.sampled_from(UNUSED or ["-"]), st.integers(1, 95))
def test_adding_a_measurement_no_rule_reads_changes_nothing(facts, concept, age):
    assume(concept != "-")
    low, high = REGISTRY.concepts.by_id[concept].plausible
    extra = [*facts, CaseFact(concept=concept, value=(low + high) / 2, days_ago=1)]

    def advice(fs):
        bundle = bundle_from_facts(fs, concepts=REGISTRY.concepts, now=NOW, age_years=age, sex="male")
        return [(s.rule, s.urgency) for s in evaluate(bundle, now=NOW, registry=REGISTRY).suggestions]

    assert advice(extra) == advice(facts)
