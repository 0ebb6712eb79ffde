"""Importing an official list: headers, row-level errors, stable ids, diff, round trip."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from cdss.errors import PackError
from cdss.packs.catalogue import Catalogue, load_bundled_catalogue, load_catalogue
from cdss.packs.catalogue_import import (
    build_entries,
    diff_catalogues,
    export_rows,
    new_version_meta,
    normalise_department,
    read_table,
    rules_losing_disease,
    write_catalogue,
    write_rows_xlsx,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "catalogue"


@pytest.fixture(scope="module")
def current() -> Catalogue:
    return load_bundled_catalogue()


def _import(path: Path, current: Catalogue, kind: str | None = None):
    return build_entries(read_table(path, shown=path.name, kind=kind), current, path.name)


def test_import_broken_file_reports_every_row_error_golden(current: Catalogue) -> None:
    result = _import(FIXTURES / "broken.csv", current)
    got = "".join(f"{p}\n" for p in result.problems)
    assert got == (FIXTURES / "broken.expected").read_text(encoding="utf-8")


def test_import_broken_file_error_codes(current: Catalogue) -> None:
    codes = [p.code for p in _import(FIXTURES / "broken.csv", current).problems]
    assert codes == ["duplicate-name", "duplicate-code", "malformed-icd10", "unknown-tcm-code",
                     "temporary-tcm-code", "unknown-kind", "wrong-code-system"]


def test_import_official_sample_keeps_ids_by_name_alias_and_code(current: Catalogue) -> None:
    result = _import(FIXTURES / "official-sample.csv", current)
    assert result.problems == ()
    ids = [d.id for d in result.diseases]
    assert ids[:3] == ["hypertension", "type-2-diabetes", "copd"]
    assert ids[4:] == ["tcm-ganmao", "tcm-xiaoke", "tcm-bumei"]
    assert all(d.provenance.status == "official" for d in result.diseases)
    assert result.diseases[0].provenance.basis.startswith("official-sample.csv, row 3")


def test_import_clinical_edition_code_kept_whole_not_shortened(current: Catalogue) -> None:
    t2dm = _import(FIXTURES / "official-sample.csv", current).diseases[1]
    assert t2dm.codes.icd10 is None
    assert t2dm.codes.icd10_cn_clinical_v2 == "E11.900"
    assert t2dm.code == "E11.900"


def test_import_new_entry_gets_id_and_warning_for_english_name(current: Catalogue) -> None:
    result = _import(FIXTURES / "official-sample.csv", current)
    new = result.diseases[3]
    assert new.id == "icd-z99-9" and new.name.en == new.name.zh
    assert new.department == "未分科" and new.role == "recognise-and-refer"
    assert "missing-english-name" in [w.code for w in result.warnings]


def test_diff_official_sample_added_removed_renamed_recoded(current: Catalogue) -> None:
    new = _import(FIXTURES / "official-sample.csv", current).diseases
    diff = diff_catalogues(current.diseases, new)
    assert diff.added == ("icd-z99-9",)
    assert len(diff.removed) == len(current.diseases) - 6
    assert ("copd", "慢性阻塞性肺疾病", "慢阻肺") in diff.renamed
    assert ("tcm-bumei", "不寐病", "不寐") in diff.renamed
    assert ("type-2-diabetes", "E11", "E11.900") in diff.recoded


def test_rules_losing_disease_lists_rules_of_removed_ids() -> None:
    rules = [("p/referral/a", "hypertension"), ("p/diagnosis/b", "copd"), ("p/pathway/c", None),
             ("q/treatment/d", "hypertension")]
    assert rules_losing_disease(["hypertension", "gout"], rules) == {
        "hypertension": ["p/referral/a", "q/treatment/d"]}


def test_export_import_round_trip_csv_same_catalogue(current: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(export_rows(current))
    result = _import(path, current)
    assert result.problems == () and result.warnings == ()
    meta = new_version_meta(current, "0.2.0", path.name, effective=dt.date(2024, 1, 1))
    written = write_catalogue(meta, result.diseases, tmp_path / "v2")
    assert written.diseases == current.diseases
    assert diff_catalogues(current.diseases, written.diseases).is_empty()


def test_export_import_round_trip_xlsx_same_catalogue(current: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    write_rows_xlsx(export_rows(current), path)
    result = _import(path, current)
    assert result.problems == ()
    assert result.diseases == current.diseases


def test_import_xlsx_sheets_give_kind_and_title_row_skipped(current: Catalogue, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "西医病种"
    ws.append(["清单标题"])
    ws.append(["序号", "病种名称", "ICD10编码"])
    ws.append([1, "高血压", "I10"])
    tcm = book.create_sheet("中医病种")
    tcm.append(["序号", "中医病名", "编码"])
    tcm.append([1.0, "感冒", "A01.01.01"])
    path = tmp_path / "official.xlsx"
    book.save(path)
    result = _import(path, current)
    assert result.problems == ()
    assert [(d.id, d.kind, d.code) for d in result.diseases] == [
        ("hypertension", "western", "I10"), ("tcm-ganmao", "tcm", "A01.01.01")]


def test_import_missing_name_column_reported(current: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("序号,编码\n1,I10\n", encoding="utf-8")
    problems = _import(path, current).problems
    assert [p.code for p in problems] == ["missing-column"]


def test_read_table_unsupported_suffix_raises(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(PackError) as err:
        read_table(path)
    assert err.value.code == "unsupported-file"


def test_write_catalogue_refuses_non_empty_folder(current: Catalogue, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(PackError) as err:
        write_catalogue(current.meta, current.diseases, out)
    assert err.value.code == "output-exists"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_write_catalogue_loads_back_identical(current: Catalogue, tmp_path: Path) -> None:
    written = write_catalogue(current.meta, current.diseases, tmp_path / "copy")
    assert load_catalogue(tmp_path / "copy").sha256 == current.sha256 == written.sha256


@pytest.mark.parametrize(("raw", "expected"), [
    ("内科-呼吸", ("内科", "呼吸")), ("耳鼻喉科", ("耳鼻喉", None)), ("传染病", ("传染", None)),
    ("外科/骨科", ("外科", "骨科")), ("", ("未分科", None)),
])
def test_normalise_department_variants(current: Catalogue, raw: str, expected: tuple) -> None:
    assert normalise_department(raw, current.meta.departments) == expected


def test_new_version_meta_bad_semver_raises(current: Catalogue) -> None:
    with pytest.raises(PackError) as err:
        new_version_meta(current, "v1", "x.csv")
    assert err.value.code == "malformed-version"
