"""The catalogue as FHIR CodeSystem and ValueSet resources, checked with fhir.resources."""

from __future__ import annotations

import json

import pytest

from cdss.packs.catalogue import GBT15657_SYSTEM, ICD10_SYSTEM, Catalogue, load_bundled_catalogue
from cdss.render.catalogue_fhir import catalogue_code_system, catalogue_value_set, validated


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_bundled_catalogue()


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_catalogue_code_system_valid_fhir_all_entries(cat: Catalogue, version: str) -> None:
    resource = validated(catalogue_code_system(cat), version)
    assert resource["resourceType"] == "CodeSystem"
    assert resource["count"] == len(resource["concept"]) == 275
    assert [c["code"] for c in resource["concept"]] == cat.ids()


def test_catalogue_code_system_draft_marked_experimental_and_reconstructed(cat: Catalogue) -> None:
    resource = catalogue_code_system(cat)
    assert resource["status"] == "draft" and resource["experimental"] is True
    assert "reconstructed" in resource["description"] and "NOT the official list" in resource["description"]
    concept = next(c for c in resource["concept"] if c["code"] == "hypertension")
    assert concept["display"] == "高血压"
    assert {"language": "en", "value": "Essential hypertension"} in concept["designation"]
    props = {p["code"]: p for p in concept["property"]}
    assert props["icd10"]["valueCoding"] == {"system": ICD10_SYSTEM, "code": "I10"}
    assert props["provenance-status"]["valueCode"] == "reconstructed"


def test_catalogue_code_system_kind_filter_is_fragment(cat: Catalogue) -> None:
    resource = validated(catalogue_code_system(cat, "tcm"))
    assert resource["content"] == "fragment" and resource["count"] == 114


@pytest.mark.parametrize(("kind", "system", "n"), [("western", ICD10_SYSTEM, 154), ("tcm", GBT15657_SYSTEM, 114)])
def test_catalogue_value_set_by_kind_valid_fhir(cat: Catalogue, kind: str, system: str, n: int) -> None:
    resource = validated(catalogue_value_set(cat, kind))
    (include,) = resource["compose"]["include"]
    assert include["system"] == system and len(include["concept"]) == n
    assert f"{n} of {161 if kind == 'western' else 114} entries have a code" in resource["description"]


def test_catalogue_value_set_unknown_kind_raises(cat: Catalogue) -> None:
    with pytest.raises(ValueError):
        catalogue_value_set(cat, "ayurveda")


def test_catalogue_fhir_same_input_same_bytes(cat: Catalogue) -> None:
    first = json.dumps(catalogue_code_system(cat), ensure_ascii=False)
    assert json.dumps(catalogue_code_system(cat), ensure_ascii=False) == first
