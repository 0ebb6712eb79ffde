"""Intake's fast path for the common Observation gives the facts, notes and errors of the general reader."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdss.errors import IntakeError
from cdss.intake.bundle import read_bundle
from cdss.intake.concept_maps import ConceptMap as SiteMap
from cdss.intake.concept_maps import MapEntry, MapStamp, apply_maps
from cdss.intake.quick import QuickObservations

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-05-01", "gender": "female"}
UCUM = "http://unitsofmeasure.org"


def _obs(**changes: object) -> dict:
    obs = {"resourceType": "Observation", "id": "o1", "status": "final",
           "effectiveDateTime": "2026-11-20T08:00:00+08:00",
           "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
           "valueQuantity": {"value": 150, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
    for key, value in changes.items():
        if value is None:
            obs.pop(key, None)
        else:
            obs[key] = value
    return obs


GLUCOSE = {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]}
SHAPES = {
    "canonical unit": _obs(),
    "integer and float": _obs(valueQuantity={"value": 151.5, "system": UCUM, "code": "mm[Hg]"}),
    "converted unit": _obs(code=GLUCOSE, valueQuantity={"value": 126, "system": UCUM, "code": "mg/dL"}),
    "unit text only": _obs(valueQuantity={"value": 150, "unit": "mm[Hg]"}),
    "other unit system": _obs(valueQuantity={"value": 150, "unit": "mm[Hg]", "system": "urn:x", "code": "mmHg"}),
    "zulu time": _obs(effectiveDateTime="2026-11-20T08:00:00Z"),
    "naive time": _obs(effectiveDateTime="2026-11-20T08:00:00"),
    "date only": _obs(effectiveDateTime="2026-11-20"),
    "spaced time": _obs(effectiveDateTime=" 2026-11-20T08:00:00+08:00 "),
    "bad time": _obs(effectiveDateTime="2026-11-20T25:00:00+08:00"),
    "time not text": _obs(effectiveDateTime=20261120),
    "period": _obs(effectiveDateTime=None, effectivePeriod={"start": "2026-11-20T08:00:00+08:00"}),
    "no time": _obs(effectiveDateTime=None),
    "no unit": _obs(valueQuantity={"value": 150}),
    "unknown unit": _obs(valueQuantity={"value": 150, "system": UCUM, "code": "furlong"}),
    "long unit": _obs(valueQuantity={"value": 150, "system": UCUM, "code": "m" * 100}),
    "implausible": _obs(valueQuantity={"value": 5000, "system": UCUM, "code": "mm[Hg]"}),
    "no value": _obs(valueQuantity={"unit": "mm[Hg]"}),
    "value not a number": _obs(valueQuantity={"value": "150", "code": "mm[Hg]"}),
    "value true": _obs(valueQuantity={"value": True, "code": "mm[Hg]"}),
    "huge integer": _obs(valueQuantity={"value": 10**400, "code": "mm[Hg]"}),
    "not a number": _obs(valueQuantity={"value": float("nan"), "code": "mm[Hg]"}),
    "infinite": _obs(valueQuantity={"value": float("inf"), "code": "mm[Hg]"}),
    "value integer": _obs(valueQuantity=None, valueInteger=150),
    "preliminary": _obs(status="preliminary"),
    "status not text": _obs(status=["final"]),
    "amended": _obs(status="amended"),
    "unknown code": _obs(code={"coding": [{"system": "urn:x", "code": "nope", "display": "?"}]}),
    "two codings": _obs(code={"coding": [{"system": "urn:x", "code": "local"}, {"system": "http://loinc.org",
                                                                               "code": "8480-6"}]}),
    "system not text": _obs(code={"coding": [{"system": ["http://loinc.org"], "code": "8480-6"}]}),
    "code not text": _obs(code={"coding": [{"system": "http://loinc.org", "code": {"c": 1}}]}),
    "coding not a list": _obs(code={"coding": {"code": "8480-6"}}),
    "with a component": _obs(component=[{"code": GLUCOSE, "valueQuantity": {"value": 7, "code": "mmol/L"}}]),
    "with a text value": _obs(valueString="血压偏高"),
}


def _read(bundle: dict, registry) -> object:
    try:
        return read_bundle(copy.deepcopy(bundle), registry.concepts, source_name="in.json")
    except IntakeError as exc:
        return exc.problems


def _same_on_both_paths(registry, *observations: dict) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": PATIENT}, *({"resource": obs} for obs in observations)]}
    fast = _read(bundle, registry)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QuickObservations, "read", lambda self, res, ref: False)
        assert fast == _read(bundle, registry)


@pytest.mark.parametrize("obs", list(SHAPES.values()), ids=list(SHAPES))
def test_the_fast_path_reads_every_observation_as_the_general_reader_does(registry, obs):
    _same_on_both_paths(registry, obs, dict(obs, id="o2"))  # (the second: as remembered from the first)


_SPACES = st.sampled_from([" ", "\t", "\n", "\u3000", "\xa0", "\u2028"])
_TIMES = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda t: t.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2026-11-20T08:00:00Z", "2026-11-20T08", "2026-11-20T08:00:00,5", "2026-W47-5T08:00",
                     "20261120T0800", "2026-11-20T24:00:00", "2026-11-20 08:00:00+08:00", "2026-11-20T"]),
    st.text(max_size=30),
)
_PADDED_TIMES = st.tuples(st.lists(_SPACES, max_size=2).map("".join), _TIMES,
                          st.lists(_SPACES, max_size=2).map("".join)).map("".join)
_UNITS = st.fixed_dictionaries(
    {"value": st.one_of(st.integers(60, 250), st.sampled_from([150.5, -5, 5000, 10**400, 1e308, float("nan"),
                                                               float("inf"), True, "150", None]))},
    optional={"unit": st.sampled_from(["mm[Hg]", "mmHg", "", "kPa", "furlong", 150]),
              "system": st.sampled_from([UCUM, "urn:x", None, ["urn:x"]]),
              "code": st.sampled_from(["mm[Hg]", "kPa", "", "mmHg", None])})


@settings(max_examples=300, deadline=None)
@given(when=_PADDED_TIMES)
def test_any_time_text_reads_alike_on_both_paths(registry, when):
    """The fast path leaves to the general reader whatever time it would not read exactly as that reader does:
    times with surrounding space, dates alone, week dates, texts that are no time; a time without a zone is
    read in UTC on both."""
    _same_on_both_paths(registry, _obs(effectiveDateTime=when))


@settings(max_examples=300, deadline=None)
@given(quantity=_UNITS)
def test_any_quantity_reads_alike_on_both_paths(registry, quantity):
    _same_on_both_paths(registry, _obs(valueQuantity=quantity))


def test_remembered_lookups_do_not_outlive_a_change_of_tables(registry):
    local = [{"system": "urn:site:lab", "code": "SBP-1"}]
    assert registry.concepts.match(local) == ()  # now remembered as unrecognised in this set
    site = SiteMap(MapStamp(url="urn:site:map", version="1", sha256="0" * 64),
                   (MapEntry("urn:site:lab", "SBP-1", ("sbp",), "ConceptMap.group[0]"),), 0)
    mapped = apply_maps(registry.concepts, [site])
    assert mapped.match(local) == ("sbp",) and registry.concepts.match(local) == ()


def test_a_pickled_concept_set_keeps_no_memo_and_matches_alike(registry):
    codings = [{"system": "http://loinc.org", "code": "8480-6"}]
    expected = registry.concepts.match(codings)
    again = pickle.loads(pickle.dumps(registry.concepts))
    assert again._memo == {} and again._memos == {}
    assert again.match(codings) == expected == ("sbp",)
