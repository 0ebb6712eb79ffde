"""Engine: three-valued logic (Kleene's strong logic): unknown never turns into false by accident."""

from __future__ import annotations

import itertools

from cdss.engine.truth import Truth, all_of, any_of

T, F, U = Truth.TRUE, Truth.FALSE, Truth.UNKNOWN


def test_not_swaps_true_and_false_and_keeps_unknown():
    assert (T.not_(), F.not_(), U.not_()) == (F, T, U)


def test_and_is_false_as_soon_as_one_side_is_false():
    table = {(a, b): a.and_(b) for a, b in itertools.product((T, F, U), repeat=2)}
    assert table == {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F,
                     (U, T): U, (U, F): F, (U, U): U}


def test_or_is_true_as_soon_as_one_side_is_true():
    table = {(a, b): a.or_(b) for a, b in itertools.product((T, F, U), repeat=2)}
    assert table == {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U,
                     (U, T): T, (U, F): U, (U, U): U}


def test_de_morgan_holds_over_every_triple():
    for items in itertools.product((T, F, U), repeat=3):
        assert all_of(items).not_() == any_of(i.not_() for i in items)


def test_the_json_word_is_the_value():
    assert [t.value for t in (T, F, U)] == ["true", "false", "unknown"]
