"""The bundled catalogue: counts, ids, codes, honesty marks, and the loader's checks."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from cdss.errors import PackError
from cdss.packs.catalogue import (
    GBT15657_DISEASE,
    GBT15657_SYNDROME,
    ICD10_CN_CLINICAL_V2,
    ICD10_WHO,
    Catalogue,
    bundled_catalogue_dir,
    check_tcm_codes,
    load_bundled_catalogue,
    load_catalogue,
    load_tcm_code_table,
    rule_coverage,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_bundled_catalogue()


def test_catalogue_bundled_counts_161_western_and_114_tcm(cat: Catalogue) -> None:
    counts = Counter(d.kind for d in cat.diseases)
    assert counts == {"western": 161, "tcm": 114}


def test_catalogue_bundled_ids_unique(cat: Catalogue) -> None:
    ids = [d.id for d in cat.diseases]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_catalogue_bundled_codes_unique_within_kind(cat: Catalogue) -> None:
    # No legitimate duplicates exist in the draft (README.md, "Duplicate codes"); entries without a code
    # are not compared.
    codes = Counter((d.kind, d.code) for d in cat.diseases if d.code)
    assert [k for k, n in codes.items() if n > 1] == []


def test_catalogue_bundled_tcm_codes_in_table_and_not_a17(cat: Catalogue) -> None:
    table = load_tcm_code_table()
    tcm = [d for d in cat.diseases if d.kind == "tcm"]
    assert all(d.codes.gbt15657 for d in tcm)
    for d in tcm:
        assert d.codes.gbt15657 in table.diseases, d.id
        assert not d.codes.gbt15657.startswith("A17"), d.id  # the chapter of temporary terms
        assert not table.diseases[d.codes.gbt15657].temporary, d.id
        assert table.diseases[d.codes.gbt15657].name == d.name.zh, d.id
    assert check_tcm_codes(cat, table) == []


def test_catalogue_bundled_syndromes_derived_and_in_table(cat: Catalogue) -> None:
    table = load_tcm_code_table()
    syndromes = [s for d in cat.diseases for s in d.syndromes]
    assert len(syndromes) == 407
    for s in syndromes:
        assert s.code_status == "derived"
        assert GBT15657_SYNDROME.match(s.code or ""), s
        assert table.syndromes[s.code] == s.name


def test_catalogue_bundled_icd_codes_well_formed(cat: Catalogue) -> None:
    western = [d for d in cat.diseases if d.kind == "western"]
    assert all(d.codes.gbt15657 is None for d in western)
    for d in western:
        if d.codes.icd10:
            assert ICD10_WHO.match(d.codes.icd10), d.id
        if d.codes.icd10_cn_clinical_v2:
            assert ICD10_CN_CLINICAL_V2.match(d.codes.icd10_cn_clinical_v2), d.id


def test_catalogue_bundled_empty_icd_explained_in_note(cat: Catalogue) -> None:
    empty = [d for d in cat.diseases if d.kind == "western" and not d.codes.icd10]
    assert len(empty) == 7
    assert all(d.note and "ICD code left empty" in d.note for d in empty)


def test_catalogue_bundled_marked_draft_and_reconstructed(cat: Catalogue) -> None:
    assert cat.meta.status == "draft"
    assert "NOT the official list" in cat.meta.title.en
    assert all(d.provenance.status == "reconstructed" and d.provenance.basis for d in cat.diseases)


def test_catalogue_bundled_departments_normalised(cat: Catalogue) -> None:
    assert cat.meta.departments
    assert {d.department for d in cat.diseases} <= set(cat.meta.departments)
    assert not any(d.department.endswith("科") and d.department not in ("内科", "外科", "妇科", "儿科", "眼科")
                   for d in cat.diseases)


@pytest.mark.parametrize("disease_id", [
    "hypertension", "type-2-diabetes", "copd", "asthma", "community-acquired-pneumonia", "atrial-fibrillation",
    "chronic-heart-failure", "acute-ischaemic-stroke", "dyslipidaemia", "chronic-kidney-disease", "gout",
    "hyperuricaemia", "osteoporosis", "hyperthyroidism", "hypothyroidism", "gerd", "depression", "anxiety",
    "influenza", "acute-gastroenteritis", "stable-coronary-artery-disease", "tcm-ganmao", "tcm-xiaoke",
])
def test_catalogue_main_ids_present(cat: Catalogue, disease_id: str) -> None:
    assert cat.get(disease_id) is not None


def test_catalogue_ids_follow_kind_convention(cat: Catalogue) -> None:
    assert all(d.id.startswith("tcm-") == (d.kind == "tcm") for d in cat.diseases)


def test_catalogue_search_by_alias_code_and_english(cat: Catalogue) -> None:
    assert [d.id for d in cat.search("慢阻肺")] == ["copd"]
    assert "hypertension" in [d.id for d in cat.search("i10")]
    assert "tcm-bumei" in [d.id for d in cat.search("A04.01.13")]
    assert "atrial-fibrillation" in [d.id for d in cat.search("atrial FIB")]


def test_catalogue_search_kind_and_subdepartment_filters(cat: Catalogue) -> None:
    found = cat.search("", kind="western", department="呼吸")
    assert found and all(d.kind == "western" and d.subdepartment == "呼吸" for d in found)


def test_catalogue_bundled_dir_is_inside_package() -> None:
    assert bundled_catalogue_dir() == REPO / "catalogue" / "community-basic-2023"
    assert load_bundled_catalogue() is load_bundled_catalogue()


def test_code_formats_accept_documented_examples() -> None:
    assert all(ICD10_WHO.match(c) for c in ("I10", "J18.9", "S72.00"))
    assert not any(ICD10_WHO.match(c) for c in ("I1O", "i10", "I10.", "I10.x00x002", "E11.900"))
    assert all(ICD10_CN_CLINICAL_V2.match(c) for c in ("I10.x00x002", "E11.900", "J06.900"))
    assert not any(ICD10_CN_CLINICAL_V2.match(c) for c in ("I10", "I10.x00x02", "E11.9"))
    assert GBT15657_DISEASE.match("A04.01.13") and not GBT15657_DISEASE.match("B04.01")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "cat"
    shutil.copytree(bundled_catalogue_dir(), folder)
    return folder


def test_load_catalogue_a17_code_rejected_with_position(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    tcm = folder / "tcm.yaml"
    tcm.write_text(tcm.read_text(encoding="utf-8").replace("gbt15657: A01.01.01}", "gbt15657: A17.01}", 1),
                   encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_catalogue(folder)
    text = str(err.value)
    assert "tcm.yaml:" in text and "A17" in text and "[temporary-tcm-code]" in text


def test_load_catalogue_duplicate_code_rejected(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    western = folder / "western.yaml"
    western.write_text(western.read_text(encoding="utf-8").replace("icd10: J20.9}", "icd10: J06.9}", 1),
                       encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_catalogue(folder)
    assert err.value.code == "duplicate-code"
    assert "'J06.9'" in str(err.value)


def test_load_catalogue_unknown_department_suggests_nearest(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    western = folder / "western.yaml"
    western.write_text(western.read_text(encoding="utf-8").replace("department: 皮肤", "department: 皮肤科", 1),
                       encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_catalogue(folder)
    assert err.value.code == "unknown-department"
    assert "did you mean '皮肤'?" in str(err.value)


def test_rule_coverage_counts_by_kind_and_lists_uncovered(cat: Catalogue) -> None:
    rules = [("htn/diagnosis/a", "diagnosis", "hypertension"), ("htn/referral/b", "referral", "hypertension"),
             ("htn/referral/c", "referral", "hypertension"), ("dm/medication/d", "medication", "type-2-diabetes"),
             ("x/screening/e", "screening", "copd"), ("x/pathway/f", "pathway", None),
             ("x/pathway/g", "pathway", "no-such-id")]
    report = rule_coverage(cat, rules)
    by_id = {d["id"]: d for d in report["diseases"]}
    assert by_id["hypertension"]["rules"] == {"diagnosis": 1, "treatment": 0, "referral": 2, "pathway": 0,
                                              "medication": 0}
    assert by_id["hypertension"]["name"] == {"zh": "高血压", "en": "Essential hypertension"}
    totals = report["totals"]
    assert totals["covered"] == 2 and totals["uncovered"] == 273
    assert "copd" in totals["uncovered_ids"] and "hypertension" not in totals["uncovered_ids"]
    assert totals["rules"] == {"diagnosis": 1, "treatment": 0, "referral": 2, "pathway": 0, "medication": 1}
    assert totals["rules_without_disease"] == 1 and totals["rules_with_unknown_disease"] == 1
    assert totals["packs"]["hypertension"] == ["htn"]


def test_rule_coverage_no_rules_all_uncovered(cat: Catalogue) -> None:
    assert rule_coverage(cat, [])["totals"]["uncovered"] == 275
