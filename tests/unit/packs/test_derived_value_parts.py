"""Derived facts: value parts (`points_from`, reverse scoring) and `complete` scores, as the schema checks them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cdss.packs.schema import AllOf, Part

LABEL = {"zh": "第2项", "en": "item 2"}


def test_value_part_implies_its_range_as_condition():
    part = Part.model_validate({"label": LABEL, "points_from": {"concept": "q2", "range": [1, 5]}})
    assert isinstance(part.when, AllOf)
    assert [(leaf.op, leaf.value) for leaf in part.when.all] == [(">=", 1.0), ("<=", 5.0)]


@pytest.mark.parametrize(("value", "reverse", "points"), [(1, False, 1), (5, False, 5), (1, True, 5), (2, True, 4),
                                                          (3, True, 3), (5, True, 1)])
def test_reverse_scoring_maps_min_to_max(value, reverse, points):
    part = Part.model_validate({"label": LABEL, "points_from": {"concept": "q2", "range": [1, 5], "reverse": reverse}})
    assert part.points_from.points(value) == points


@pytest.mark.parametrize(("doc", "message"), [
    ({"points": 1, "points_from": {"concept": "q", "range": [1, 5]}}, "exactly one of `points`"),
    ({"when": {"has": "x"}}, "exactly one of `points`"),
    ({"points": 1}, "needs `when`"),
    ({"points_from": {"concept": "q", "range": [1, 5]}, "when": {"has": "x"}}, "takes no `when`"),
    ({"points_from": {"concept": "q", "range": [5, 1]}}, "min <= max"),
])
def test_malformed_parts_are_refused_with_a_clear_message(doc, message):
    with pytest.raises(ValidationError, match=message):
        Part.model_validate({"label": LABEL, **doc})
