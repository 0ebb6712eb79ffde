"""Site ConceptMaps: R4 and R5 read alike, only 'means the concept' mappings applied, problems located."""

from __future__ import annotations

import copy
import json

import pytest

from cdss.engine.evaluate import evaluate
from cdss.errors import IntakeError
from cdss.intake.concept_maps import apply_maps, digest, load_map_file, parse_map, with_maps
from tests.conftest import FIXTURES, NOW, load_bundle

MAPS = FIXTURES / "concept-maps"
R4, R5 = MAPS / "site-map-r4.json", MAPS / "site-map-r5.json"


def _map() -> dict:
    return json.loads(R4.read_text(encoding="utf-8"))


def _problems(doc: dict, registry) -> list[tuple[str, str]]:
    with pytest.raises(IntakeError) as err:
        parse_map(doc, registry.concepts, file="site.json")
    return [(p.code, p.field) for p in err.value.problems]


@pytest.mark.parametrize("path", [R4, R5], ids=["R4", "R5"])
def test_local_code_bundle_with_a_map_gets_the_same_advice_as_the_standard_coded_one(registry, path):
    standard = evaluate(load_bundle("htn-controlled-loinc-k.json"), now=NOW, registry=registry)
    local_bundle = load_bundle("htn-controlled-local-codes.json")
    unmapped = evaluate(local_bundle, now=NOW, registry=registry)
    mapped = evaluate(local_bundle, now=NOW, registry=with_maps(registry, [path]))
    assert standard.suggestions and [s.id for s in mapped.suggestions] == [s.id for s in standard.suggestions]
    assert [s.id for s in unmapped.suggestions] != [s.id for s in standard.suggestions]
    assert {u.code for u in unmapped.unrecognised} >= {"GXY-01", "K"} and mapped.unrecognised == ()
    assert [m.url for m in mapped.concept_maps] == ["http://his.example-chc.sh.cn/fhir/ConceptMap/cdss-site-map"]
    assert standard.concept_maps == ()


def test_r4_and_r5_forms_map_the_same_codes(registry):
    a, b = load_map_file(R4, registry.concepts), load_map_file(R5, registry.concepts)
    assert [(e.system, e.code, e.concepts) for e in a.entries] == [(e.system, e.code, e.concepts) for e in b.entries]
    assert ("http://his.example-chc.sh.cn/codesystem/lab-item", "K", ("potassium",)) in \
        [(e.system, e.code, e.concepts) for e in a.entries]


def test_the_hash_ignores_layout_but_not_content(registry):
    doc = _map()
    assert digest(doc) == digest(json.loads(json.dumps(doc, indent=4)))
    changed = copy.deepcopy(doc)
    changed["group"][0]["element"][0]["display"] = "高血压"
    assert digest(changed) != digest(doc)


@pytest.mark.parametrize("equivalence", ["relatedto", "narrower", "inexact", "specializes"])
def test_mappings_that_do_not_mean_the_concept_are_not_applied(registry, equivalence):
    doc = _map()
    doc["group"][0]["element"][0]["target"][0]["equivalence"] = equivalence
    cmap = parse_map(doc, registry.concepts)
    assert "GXY-01" not in {e.code for e in cmap.entries} and cmap.ignored == 1
    concepts = apply_maps(registry.concepts, [cmap])
    assert concepts.match([{"system": "http://his.example-chc.sh.cn/codesystem/diagnosis", "code": "GXY-01"}]) == ()


def test_unknown_target_concept_is_reported_with_file_and_path(registry):
    doc = _map()
    doc["group"][1]["element"][0]["target"][0]["code"] = "sbpp"
    doc["group"][2]["element"][0]["target"][0]["code"] = "9999-9"
    assert _problems(doc, registry) == [
        ("unknown-target-concept", "ConceptMap.group[1].element[0].target[0].code"),
        ("unknown-target-concept", "ConceptMap.group[2].element[0].target[0].code")]


def test_duplicate_source_is_reported(registry):
    doc = _map()
    doc["group"][1]["element"].append(copy.deepcopy(doc["group"][1]["element"][0]))
    assert _problems(doc, registry) == [("duplicate-map-source", "ConceptMap.group[1].element[2].code")]


def test_a_map_needs_url_version_and_equivalence(registry):
    doc = _map()
    del doc["version"]
    del doc["group"][0]["element"][0]["target"][0]["equivalence"]
    assert _problems(doc, registry) == [("bad-concept-map", "ConceptMap.version"),
                                        ("bad-concept-map", "ConceptMap.group[0].element[0].target[0]")]


def test_not_a_concept_map(registry):
    assert _problems({"resourceType": "ValueSet"}, registry) == [("bad-concept-map", "resourceType")]
