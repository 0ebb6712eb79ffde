"""Testing kit: hypothesis strategies that break valid FHIR bundles structurally.

schemathesis and the patient strategies send well-formed FHIR; these take a valid bundle (a fixture, a
sample, a generated patient) and put a value of the wrong JSON type at one or more of its paths: a list
where a code goes, a number where a CodeableConcept goes, an integer of hundreds of digits, a string with
a lone surrogate, null, a deep list, a pathological unit. Every such bundle must be refused cleanly: by
``read_bundle`` with an ``IntakeError`` naming the path, by the service with a 4xx OperationOutcome.

    from cdss.testing.mutations import json_paths, mutated_bundles

    @given(mutated_bundles(load_bundle("htn-emergency.json")))
    def test_no_crash(case):                 # case.bundle: the broken bundle; case.changes: what changed
        ...

Nothing clinical is written here: the values are JSON shapes, not data.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutation:
    """One broken bundle and the changes made to it (path -> the wrong value), for the failure report."""

    bundle: dict[str, Any]
    changes: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return "Mutation(" + "; ".join(f"{p} = {v}" for p, v in self.changes) + ")"


def json_paths(doc: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path of a JSON document (object keys and list indexes), the root excluded."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from json_paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield (*prefix, i)
            yield from json_paths(value, (*prefix, i))


def fhir_path(path: Path) -> str:
    """('entry', 0, 'resource', 'id') -> 'Bundle.entry[0].resource.id'."""
    out = "Bundle"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def wrong_values(*, json_safe: bool = False) -> st.SearchStrategy[Any]:
    """Values of every JSON type, the awkward ones included.

    Args:
        json_safe: only values that strict JSON can carry (no integer beyond a double, no lone
            surrogate), for bodies sent over HTTP; otherwise also what a Python caller may pass.
    """
    simple = st.one_of(
        st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0, -1, 1e308, 5e-324, 10**18]),
        st.text(max_size=8), st.sampled_from(["", " ", "final", "Patient", "mm[Hg]", "2026-13-45", "/m" * 50,
                                              "(" * 20 + "m" + ")" * 20, "\u0000", "毫米汞柱"]),
        st.just([]), st.just({}), st.just([5]), st.just({"coding": 5}), st.just({"coding": [5]}),
        st.just({"coding": [{"code": ["x"]}]}), st.just(["final"]), st.just([None]), st.just({"x": None}),
        st.just(_deep(60)),
    )
    if json_safe:
        return simple
    return st.one_of(simple, st.sampled_from([10**400, -(10**400), "\udc00", "a\ud800b", float("nan"),
                                              float("inf")]))


@st.composite
def mutated_bundles(draw: st.DrawFn, bundle: dict[str, Any], *, max_changes: int = 3,
                    json_safe: bool = False) -> Mutation:
    """`bundle` with 1..max_changes of its values (at any depth) replaced by values of a wrong type.

    Args:
        bundle: a valid FHIR Bundle (not modified).
        max_changes: most paths changed in one example.
        json_safe: see `wrong_values`.
    """
    out = copy.deepcopy(bundle)
    changes: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, max_changes))):
        paths = list(json_paths(out))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        value = draw(wrong_values(json_safe=json_safe))
        parent: Any = out
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
        shown = repr(value)
        changes.append((fhir_path(path), shown if len(shown) <= 60 else shown[:57] + "..."))
    return Mutation(out, tuple(changes))
