"""An infant whose birthDate gives only a year or a month: "under 6 months" is undecided, never decided from the
first day of that year or month (review: "2025-10" on 10 April counted 6 months, and the red flag was missed)."""

from __future__ import annotations

import datetime as dt

import pytest

import cdss
from cdss.packs.registry import Registry, default_registry
from cdss.testing.cases import CaseFact
from cdss.testing.factories import bundle_from_facts

APRIL_10 = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)
COLD = [CaseFact(has=h) for h in ("fever", "tcm_aversion_cold", "tcm_no_sweating", "tcm_clear_nasal_discharge",
                                   "tcm_tongue_pale_red", "tcm_coating_thin", "tcm_coating_white")] + [
    CaseFact(concept="spo2", value=97), CaseFact(concept="resp_rate", value=24),
    CaseFact(concept="fever_duration_days", value=1)]


@pytest.fixture(scope="module")
def bundled() -> Registry:
    return default_registry()


def _evaluate(registry: Registry, birth: str) -> cdss.Evaluation:
    bundle = bundle_from_facts(COLD, concepts=registry.concepts, now=APRIL_10, age_years=0.4, sex="male")
    bundle["entry"][0]["resource"]["birthDate"] = birth
    return cdss.evaluate(bundle, now=APRIL_10, registry=registry, pins=("tcm-differentiation",))


def test_a_birth_month_alone_leaves_under_6_months_undecided(bundled: Registry) -> None:
    result = _evaluate(bundled, "2025-10")  # born 1-31 October: 5 or 6 months on 10 April
    rules = {s.rule.split("#")[1] for s in result.suggestions}
    assert "tcm-differentiation/diagnosis/xiaoer-ganmao-fenghan" not in rules  # no TCM card while undecided
    gaps = {(g.concept, g.reason) for g in result.data_gaps}
    assert ("age_months", "imprecise") in gaps


def test_a_full_birth_date_decides(bundled: Registry) -> None:
    five_months = _evaluate(bundled, "2025-10-20")
    assert any(s.rule.endswith("#tcm-differentiation/referral/xiaoer-ganmao-red-flags")
               for s in five_months.suggestions)
    seven_months = _evaluate(bundled, "2025-09-01")
    assert any(s.rule.endswith("#tcm-differentiation/diagnosis/xiaoer-ganmao-fenghan")
               for s in seven_months.suggestions)


def test_a_partial_birth_date_far_from_every_threshold_still_decides(bundled: Registry) -> None:
    """Second review: a 6-year-old recorded as "2020" or "2020-03" lost every children's card ("under 6
    months" was left open); the youngest and oldest she may be both meet the same tests, so they decide."""
    for birth in ("2020", "2020-03"):
        rules = {s.rule.split("#")[1] for s in _evaluate(bundled, birth).suggestions}
        assert "tcm-differentiation/diagnosis/xiaoer-ganmao-fenghan" in rules, birth


def test_a_birth_year_alone_leaves_an_adult_band_open_at_its_edge(bundled: Registry) -> None:
    """"2008" on 10 April 2026: 17 or 18. A rule for adults (18+) is undecided (data gap age_years), never
    applied as if she were 18 (the first day of the year made her older)."""
    from cdss.engine.population import check_scope
    from cdss.intake.facts import PatientFacts, completed_years
    from cdss.packs.scope import AgeBand, Population, load_safety_settings

    facts = PatientFacts(patient="Patient/p", birth_date=dt.date(2008, 1, 1), sex="female",
                         birth_date_latest=dt.date(2008, 12, 31))
    assert facts.ages(completed_years, APRIL_10) == (17, 18)
    settings = load_safety_settings()
    adults = check_scope(Population(age_years=AgeBand(min=18)), facts, APRIL_10, settings)
    assert adults.outcome.value == "unknown" and "age_years" in adults.gaps
    over_10 = check_scope(Population(age_years=AgeBand(min=10)), facts, APRIL_10, settings)
    assert over_10.outcome.value == "true"


def test_an_age_band_outside_the_range_is_false_not_unknown() -> None:
    """`age_years == 9 years` (an age-banded threshold) on a child who is 5 or 6 is false; `== 5` is open."""
    from cdss.engine.evaluate import _equality_over_ages
    from cdss.engine.truth import FALSE, TRUE, UNKNOWN
    from cdss.packs.schema import Leaf

    def band(op: str, value: object) -> Leaf:
        return Leaf(concept="age_years", op=op, value=value)

    assert _equality_over_ages(band("==", 9.0), 5, 6) is FALSE
    assert _equality_over_ages(band("==", 5.0), 5, 6) is UNKNOWN
    assert _equality_over_ages(band("in", (5.0, 6.0)), 5, 6) is TRUE
    assert _equality_over_ages(band("!=", 9.0), 5, 6) is TRUE
    assert _equality_over_ages(band("!=", 5.0), 5, 6) is UNKNOWN


def test_born_this_month_is_a_newborn_not_a_negative_age() -> None:
    """Third review: "2026-04" on 10 April 2026 gave ages (-1, 0)."""
    from cdss.intake.facts import PatientFacts, completed_months

    facts = PatientFacts(patient="Patient/p", birth_date=dt.date(2026, 4, 1), sex=None,
                         birth_date_latest=dt.date(2026, 4, 30))
    assert facts.ages(completed_months, APRIL_10) == (0, 0)


def test_a_scope_left_open_by_a_partial_birth_date_says_imprecise_not_absent(bundled: Registry) -> None:
    """Third review: the population-scope gap said 'absent' beside the leaf's 'imprecise' for a recorded
    birth year (17 or 18 on 10 April 2026)."""
    bundle = bundle_from_facts([CaseFact(has="fever")], concepts=bundled.concepts, now=APRIL_10, age_years=30,
                               sex="female")
    bundle["entry"][0]["resource"]["birthDate"] = "2008"
    gaps = {(g.concept, g.reason) for g in cdss.evaluate(bundle, now=APRIL_10, registry=bundled).data_gaps}
    assert ("age_years", "imprecise") in gaps and ("age_years", "absent") not in gaps
