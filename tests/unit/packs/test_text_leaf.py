"""Packs: text leaves (format v2) read into the Leaf models the engine runs, units checked and converted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdss.packs.registry import load_registry
from cdss.packs.schema import Leaf
from cdss.packs.text_leaf import LeafSyntaxError, parse, render, to_leaf

CONCEPTS = dict(load_registry(bundled=False).concepts.by_id)
DERIVED = {"crb65", "bp_grade"}


def leaf(text: str, default: int | None = None) -> Leaf:
    return to_leaf(parse(text), CONCEPTS, DERIVED, default)


@pytest.mark.parametrize("text, expected", [
    ("sbp >= 180 mmHg within 1 day", dict(concept="sbp", op=">=", value=180.0, within_days=1)),
    ("sbp>=180mmHg within 2 weeks", dict(concept="sbp", op=">=", value=180.0, within_days=14)),
    ("egfr < 30 mL/min/1.73m2", dict(concept="egfr", op="<", value=30.0)),
    ("egfr < 30 mL/min/{1.73_m2}", dict(concept="egfr", op="<", value=30.0)),
    ("hba1c >= 7 % within 180 days", dict(concept="hba1c", op=">=", value=7.0, within_days=180)),
    ("hba1c >= 7%", dict(concept="hba1c", op=">=", value=7.0)),
    ("has diabetes", dict(has="diabetes")),
    ("has stroke_history within 14 days", dict(has="stroke_history", within_days=14)),
    ("mean of last 3 sbp >= 140 mmHg", dict(concept="sbp", op=">=", value=140.0, stat="mean", last_n=3)),
    ("max last 2 sbp > 140 mmHg", dict(concept="sbp", op=">", value=140.0, stat="max", last_n=2)),
    ("min of sbp < 90 mmHg", dict(concept="sbp", op="<", value=90.0, stat="min")),
    ("sbp >= 140 mmHg on 3 days", dict(concept="sbp", op=">=", value=140.0, on_days=3)),
    ("sbp >= 140 mmHg on 3 days within 365 days", dict(concept="sbp", op=">=", value=140.0, on_days=3,
                                                        within_days=365)),
    ("days_since hba1c >= 90", dict(concept="hba1c", op=">=", value=90.0, stat="days_since")),
    ("days_since hba1c >= 90 days", dict(concept="hba1c", op=">=", value=90.0, stat="days_since")),
    ("count sbp >= 2 within 365 days", dict(concept="sbp", op=">=", value=2.0, stat="count", within_days=365)),
    ("sex == female", dict(concept="sex", op="==", value="female")),
    ("sex in [male, female]", dict(concept="sex", op="in", value=("male", "female"))),
    ('sex != "unknown"', dict(concept="sex", op="!=", value="unknown")),
    ("crb65 >= 2", dict(concept="crb65", op=">=", value=2.0)),
    ("age_years >= 65 years", dict(concept="age_years", op=">=", value=65.0)),
    ("body_temp >= 38.5 °C", dict(concept="body_temp", op=">=", value=38.5)),
    ("latest sbp < 90 mmHg ever", dict(concept="sbp", op="<", value=90.0)),
])
def test_phrasings_read_as_the_leaf_they_mean(text, expected):
    assert leaf(text) == Leaf(**expected)


def test_units_convert_to_the_concepts_canonical_unit():
    assert leaf("glucose >= 126 mg/dL").value == pytest.approx(6.9939, abs=1e-4)  # molar mass declared
    assert leaf("hba1c >= 53 mmol/mol").value == pytest.approx(7.0, abs=1e-3)  # alt_units formula
    assert leaf("body_temp >= 101.3 [degF]").value == pytest.approx(38.5, abs=1e-3)  # pint, offset unit
    assert leaf("sbp >= 24 kPa").value == pytest.approx(180.0, abs=0.1)  # same dimension


@pytest.mark.parametrize("text, code, col, field, words", [
    ("sbp >= 180", "unit-missing", 10, "unit", "needs a unit"),
    ("sbp >= 180 mmol/L", "unit-refused", 11, "unit", "cannot be converted"),
    ("egfr < 30 mg/dL", "unit-refused", 10, "unit", "cannot be converted"),
    ("crb65 >= 2 points", "unit-refused", 11, "unit", "takes no unit"),
    ("count sbp >= 2 mmHg", "unit-refused", 15, "unit", "takes no unit"),
    ("days_since hba1c >= 3 months", "unit-refused", 22, "unit", "counts days"),
    ("spb >= 180 mmHg", "unknown-concept", 0, "concept", "unknown concept 'spb'"),
    ("has sbp", "unknown-concept", 4, "has", "a measured concept"),
    ("has diabetis", "unknown-concept", 4, "has", "unknown coded concept"),
    ("sbp => 180 mmHg", "invalid-leaf", 4, "op", "unexpected character"),
    ("sbp 180 mmHg", "invalid-leaf", 4, "op", "expected a comparison"),
    ("sbp >= mmHg", "invalid-leaf", 7, "value", "needs a number"),
    ("sbp >=", "invalid-leaf", 6, "value", "expected a value"),
    ("sbp >= 180 mmHg within 3 months", "invalid-leaf", 25, "within_days", "`days` or `weeks`"),
    ("sbp >= 180 mmHg within days", "invalid-leaf", 23, "within_days", "a number of days"),
    ("sbp >= 180 mmHg within 1 day ever", "invalid-leaf", 29, "within_days", "given twice"),
    ("sbp >= 180 mmHg on 3 weeks", "invalid-leaf", 21, "on_days", "expected `days`"),
    ("latest of last 3 sbp > 1 mmHg", "invalid-leaf", 10, "last_n", "goes with mean, min or max"),
    ("mean sbp >= 140 mmHg on 3 days", "invalid-leaf", 0, "condition", "does not combine"),
    ("sbp == 140 mmHg on 3 days", "invalid-leaf", 4, "condition", "ordering"),
    ("sex in female", "invalid-leaf", 7, "value", "needs a list"),
    ("sex == [male]", "invalid-leaf", 7, "op", "goes with `in`"),
    ("sex in [male female]", "invalid-leaf", 13, "value", "`,` or `]`"),
    ("has diabetes on 3 days", "invalid-leaf", 13, "condition", "unexpected 'on'"),
    ("", "invalid-leaf", 0, "condition", "empty"),
    ("Sbp >= 1 mmHg", "invalid-leaf", 0, "concept", "concept name"),
])
def test_every_error_says_where_and_which_field(text, code, col, field, words):
    with pytest.raises(LeafSyntaxError) as caught:
        leaf(text)
    err = caught.value
    assert (err.code, err.col, err.field) == (code, col, field), err.message
    assert words in err.message


def test_a_default_window_applies_to_measured_comparisons_only():
    assert leaf("sbp >= 140 mmHg", 90).within_days == 90
    assert leaf("mean of last 3 sbp >= 140 mmHg", 90).within_days == 90
    assert leaf("sbp >= 140 mmHg on 3 days", 90).within_days == 90
    assert leaf("sbp >= 140 mmHg within 7 days", 90).within_days == 7
    assert leaf("sbp >= 140 mmHg ever", 90).within_days is None
    for text in ("has diabetes", "crb65 >= 2", "age_years >= 65 years", "days_since hba1c >= 90",
                 "count sbp >= 2", "sex == female"):
        assert leaf(text, 90).within_days is None, text


def test_the_number_one_takes_a_singular_unit():
    assert render(Leaf(concept="age_years", op="<", value=1.0), CONCEPTS) == "age_years < 1 year"
    assert render(Leaf(concept="age_years", op="<", value=2.0), CONCEPTS) == "age_years < 2 years"
    assert leaf("age_years < 1 year") == Leaf(concept="age_years", op="<", value=1.0)


def _leaves() -> st.SearchStrategy[Leaf]:
    quantities = sorted(c.id for c in CONCEPTS.values() if c.kind == "quantity")
    coded = sorted(c.id for c in CONCEPTS.values() if c.kind not in ("quantity", "demographic"))
    numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: round(v, 4))
    window = st.none() | st.integers(0, 3650)
    has = st.builds(Leaf, has=st.sampled_from(coded), within_days=window)

    @st.composite
    def comparison(draw):
        concept = draw(st.sampled_from([*quantities, *sorted(DERIVED)]))
        stat = draw(st.sampled_from(["latest", "mean", "min", "max", "count", "days_since"]))
        op = draw(st.sampled_from([">", ">=", "<", "<=", "==", "!=", "in"]))
        value = tuple(draw(st.lists(numbers, min_size=1, max_size=3))) if op == "in" else draw(numbers)
        last_n = draw(st.none() | st.integers(1, 50)) if stat in ("mean", "min", "max") else None
        on_days = draw(st.none() | st.integers(1, 50)) if stat == "latest" and op in (">", ">=", "<", "<=") else None
        return Leaf(concept=concept, op=op, value=value, stat=stat, last_n=last_n, within_days=draw(window),
                    on_days=on_days)

    labels = st.builds(Leaf, concept=st.just("sex"), op=st.sampled_from(["==", "!="]),
                       value=st.sampled_from(["male", "female", "other value", "3", "in"]))
    return has | comparison() | labels


@settings(max_examples=300, deadline=None)
@given(_leaves(), st.none() | st.integers(1, 400))
def test_a_rendered_leaf_reads_back_as_the_same_leaf(model, default):
    text = render(model, CONCEPTS, default)
    assert leaf(text, default) == model, text
