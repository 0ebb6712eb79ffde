"""Packs: an official disease list (CSV or XLSX) -> a new catalogue version; row-level checks; diff.

The official 2023 list is not available to the project; the bundled catalogue is a reconstructed draft.
When a user has the official list, ``cdss catalogue import FILE --version V`` reads it here:

1. :func:`read_table` reads the rows (lenient about header spellings; see ``HEADERS`` and
   docs/editor/catalogue.md);
2. :func:`build_entries` checks every row and reports all problems at once as
   ``FILE:ROW: column: what is wrong [code]``; nothing is written when there is one;
3. ids are kept stable by matching each row to the current version (id column, then code, then name or
   alias); :func:`diff_catalogues` lists added, removed, renamed and recoded entries;
4. :func:`write_catalogue` writes the new folder (``pack.yaml``, ``western.yaml``, ``tcm.yaml``).

:func:`export_rows` is the inverse: it writes a catalogue as rows of the same table, so that
export -> import gives the same entries back.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cdss.errors import PackError, Problem, ProblemList
from cdss.packs.catalogue import (
    GBT15657_SYNDROME,
    ICD10_CN_CLINICAL_V2,
    ICD10_WHO,
    Catalogue,
    CataloguePackFile,
    Codes,
    Disease,
    Provenance,
    Syndrome,
    TcmCodeTable,
    load_catalogue,
    load_tcm_code_table,
)
from cdss.vocab.labels import label
from cdss.vocab.model import SEMVER, SLUG, Source, Text

# Field -> accepted headers. Headers are compared after NFKC, lower-casing and dropping spaces, "-", "_",
# "/", "(", ")" and "（" "）", so "ICD-10 编码", "ICD10编码" and "icd-10编码" are one header.
HEADERS: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号", "no", "seq"),
    "kind": ("类别", "类型", "分类", "病种类别", "kind"),
    "id": ("id", "标识"),
    "name_zh": ("病种名称", "病种", "疾病名称", "病名", "名称", "中医病名", "西医病名", "name_zh", "name"),
    "name_en": ("英文名称", "英文名", "name_en"),
    "icd10": ("ICD-10编码", "ICD-10代码", "ICD-10", "疾病编码", "西医编码", "icd10"),
    "icd10_cn_clinical_v2": ("国家临床版2.0编码", "临床版2.0编码", "国家临床版编码", "icd10_cn_clinical_v2"),
    "gbt15657": ("中医病名编码", "中医病名代码", "中医编码", "中医病证编码", "GB/T 15657编码", "gbt15657"),
    "code": ("编码", "代码", "code"),
    "department": ("科室", "所属科室", "专科", "department"),
    "subdepartment": ("亚专科", "subdepartment"),
    "role": ("社区职责", "职责", "社区角色", "角色", "role"),
    "aliases": ("别名", "aliases"),
    "syndromes": ("常见证候", "证候", "syndromes"),
    "note": ("备注", "说明", "note"),
    "provenance_status": ("provenance_status", "来源状态"),
    "provenance_basis": ("provenance_basis", "来源依据"),
}
# Column names written by export_rows (the first accepted header of each field).
EXPORT_COLUMNS: tuple[str, ...] = (
    "seq", "kind", "id", "name_zh", "name_en", "icd10", "icd10_cn_clinical_v2", "gbt15657", "department",
    "subdepartment", "role", "aliases", "syndromes", "note", "provenance_status", "provenance_basis",
)
KIND_VALUES = {"西医": "western", "西医病种": "western", "western": "western", "w": "western",
               "中医": "tcm", "中医病种": "tcm", "tcm": "tcm"}
ROLE_VALUES = {
    "recognise-and-refer": "recognise-and-refer", "识别转诊": "recognise-and-refer",
    "识别并转诊": "recognise-and-refer", "转诊": "recognise-and-refer",
    "diagnose-and-treat": "diagnose-and-treat", "诊断治疗": "diagnose-and-treat",
    "诊治": "diagnose-and-treat",
    "long-term-manage": "long-term-manage", "长期管理": "long-term-manage", "慢病管理": "long-term-manage",
}
# Used when a new entry's role is neither in the file nor in the current version: the cautious choice.
DEFAULT_ROLE = "recognise-and-refer"
UNASSIGNED_DEPARTMENT = "未分科"
LIST_SPLIT = re.compile(r"\s*[;；、|]\s*")
SUPPORTED_SUFFIXES = (".csv", ".xlsx")

# Examples of the code *formats* shown in error messages (not codes the rules use).
WHO_EXAMPLES = "'I10' or 'J18.9'"  # clinical-literal-ok: format example
CN_EXAMPLES = "'E11.900' or 'I10.x00x002'"  # clinical-literal-ok: format example


def _norm_header(text: Any) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    return re.sub(r"[\s\-_/()（）]", "", text)


_HEADER_INDEX = {_norm_header(h): name for name, heads in HEADERS.items() for h in heads}


@dataclass(frozen=True)
class Row:
    """One data row of the table: where it is and its values by field name."""

    file: str
    row: int
    values: dict[str, str]
    columns: dict[str, str]  # field -> the header as written in the file

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def problem(self, name: str, message: str, code: str, **extra: Any) -> Problem:
        return Problem(message, code, file=self.file, line=self.row, field=self.columns.get(name, name),
                       **extra)


@dataclass
class Table:
    """The rows of an import file, plus file-level problems."""

    rows: list[Row] = field(default_factory=list)
    problems: ProblemList = field(default_factory=ProblemList)


def read_table(path: Path, shown: str | None = None, kind: str | None = None) -> Table:
    """Read a CSV (UTF-8, with or without BOM) or XLSX file of the official list.

    The header is the first of the first 10 rows that has a name column (title rows above it are
    skipped). In an XLSX file every sheet is read; a sheet whose name has 中医 or 西医 gives the kind of
    its rows when there is no 类别 column; `kind` is the fallback for all rows.

    Raises:
        PackError: the file is missing, unreadable or of an unsupported type (exit 2 in the CLI).
    """
    shown = shown or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise PackError.one(f"unsupported file type {suffix!r}", "unsupported-file", file=shown,
                            expected=" or ".join(SUPPORTED_SUFFIXES))
    if not path.is_file():
        raise PackError.one("file not found", "file-not-found", file=shown)
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                sheets = [(None, [list(r) for r in csv.reader(fh)])]
        else:
            sheets = _read_xlsx(path)
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise PackError.one(f"cannot read the file: {exc}", "file-unreadable", file=shown,
                            hint="save it as UTF-8 CSV or as .xlsx") from exc
    table = Table()
    for sheet, cells in sheets:
        where = f"{shown}[{sheet}]" if sheet is not None and len(sheets) > 1 else shown
        sheet_kind = kind
        if sheet and not kind:
            sheet_kind = "tcm" if "中医" in sheet else "western" if "西医" in sheet else None
        _rows_of_sheet(cells, where, sheet_kind, table)
    return table


def _read_xlsx(path: Path) -> list[tuple[str | None, list[list[Any]]]]:
    import openpyxl  # imported here: only the xlsx path needs it

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in book.worksheets]
    finally:
        book.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows_of_sheet(cells: list[list[Any]], where: str, kind: str | None, table: Table) -> None:
    header_at = None
    for i, row in enumerate(cells[:10]):
        if any(_HEADER_INDEX.get(_norm_header(c)) == "name_zh" for c in row):
            header_at = i
            break
    if header_at is None:
        if any(any(_cell(c) for c in r) for r in cells):
            names = ", ".join(HEADERS["name_zh"][:4])
            table.problems.add("no header row with a name column in the first 10 rows", "missing-column",
                               file=where, hint=f"name the column of disease names one of: {names}")
        return
    columns: dict[int, str] = {}
    shown_names: dict[str, str] = {}
    for j, head in enumerate(cells[header_at]):
        name = _HEADER_INDEX.get(_norm_header(head))
        if name:
            columns[j] = name
            shown_names.setdefault(name, _cell(head))
    for i, raw in enumerate(cells[header_at + 1:], start=header_at + 2):
        values: dict[str, str] = {}
        for j, name in columns.items():
            value = _cell(raw[j]) if j < len(raw) else ""
            if value and not values.get(name):
                values[name] = value
        if not any(v for k, v in values.items() if k != "seq"):
            continue
        if kind and not values.get("kind"):
            values["kind"] = kind
        table.rows.append(Row(where, i, values, shown_names))


# --- checking rows and building entries ------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    """What an import produced: the checked entries and the problems found (an empty list: all good)."""

    diseases: tuple[Disease, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def normalise_department(raw: str, known: Sequence[str]) -> tuple[str, str | None]:
    """`内科-呼吸` -> (`内科`, `呼吸`); `耳鼻喉科` -> `耳鼻喉` when the pack lists `耳鼻喉`."""
    parts = [p for p in re.split(r"\s*[-—/／]\s*", raw) if p]
    if not parts:
        return UNASSIGNED_DEPARTMENT, None
    head, sub = parts[0], ("-".join(parts[1:]) or None)
    if known and head not in known:
        for cut in ("科", "病"):
            if head.endswith(cut) and head[: -len(cut)] in known:
                head = head[: -len(cut)]
                break
    return head, sub


def slugify(text: str) -> str:
    """A lowercase-hyphen id from English text; empty when nothing ASCII is left."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\([^)]*\)", "", text)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-")


def _parse_syndromes(row: Row, problems: ProblemList, table: TcmCodeTable) -> tuple[Syndrome, ...]:
    out = []
    for item in LIST_SPLIT.split(row.get("syndromes")):
        if not item:
            continue
        parts = [p.strip() for p in re.split(r"[:：]", item)]
        name, code = parts[0], (parts[1] if len(parts) > 1 and parts[1] else None)
        status = parts[2] if len(parts) > 2 else "derived"
        if code and not GBT15657_SYNDROME.match(code):
            problems.problems.append(row.problem("syndromes", f"malformed syndrome code {code!r} of {name!r}",
                                                 "malformed-syndrome-code", expected="e.g. 'B02.02.04.01'"))
            continue
        if code and table.syndromes.get(code) != name:
            problems.problems.append(row.problem(
                "syndromes", f"syndrome code {code!r} is not {name!r} in the syndrome table "
                f"(the table has {table.syndromes.get(code)!r})", "unknown-syndrome-code",
                hint="write the syndrome as term:B-code, both from gbt15657-2021_tcm_syndromes.derived.tsv"))
            continue
        if status not in ("derived", "verified", "unknown"):
            problems.problems.append(row.problem("syndromes", f"unknown code status {status!r}",
                                                 "invalid-value", expected="derived, verified or unknown"))
            continue
        out.append(Syndrome(name=name, code=code, code_status=status))
    return tuple(out)


def _code_cell(row: Row, name: str) -> str:
    # Codes only: full-width letters, digits and dots (Ｉ１０．９) become ASCII; spaces go.
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", row.get(name)))


def _row_codes(row: Row, kind: str, problems: ProblemList, table: TcmCodeTable) -> Codes:
    icd = _code_cell(row, "icd10").upper()
    clinical = _code_cell(row, "icd10_cn_clinical_v2")
    gbt = _code_cell(row, "gbt15657").upper()
    generic = _code_cell(row, "code")
    column_of = {"icd10": "icd10", "gbt15657": "gbt15657"}
    if generic:
        if kind == "western" and not icd and not clinical:
            icd, column_of["icd10"] = generic.upper(), "code"
        elif kind == "tcm" and not gbt:
            gbt, column_of["gbt15657"] = generic.upper(), "code"
    if kind == "western" and gbt:
        problems.problems.append(row.problem("gbt15657", "a Western (西医) entry has a TCM code",
                                             "wrong-code-system", got=gbt, hint="check the 类别 of this row"))
    if kind == "tcm" and (icd or clinical):
        problems.problems.append(row.problem("icd10", "a TCM (中医) entry has an ICD-10 code",
                                             "wrong-code-system", got=icd or clinical,
                                             hint="check the 类别 of this row"))
    if icd and not ICD10_WHO.match(icd):
        if ICD10_CN_CLINICAL_V2.match(icd.replace("X", "x")) and not clinical:
            # A 国家临床版 2.0 code in the ICD-10 column: keep it where it belongs, never shorten it.
            clinical, icd = icd.replace("X", "x"), ""
        else:
            problems.problems.append(row.problem(
                column_of["icd10"], "malformed ICD-10 code", "malformed-icd10", got=icd,
                expected=f"WHO form like {WHO_EXAMPLES}, or 国家临床版 2.0 form like {CN_EXAMPLES}"))
            icd = ""
    if clinical and not ICD10_CN_CLINICAL_V2.match(clinical):
        problems.problems.append(row.problem("icd10_cn_clinical_v2", "malformed 国家临床版 2.0 code",
                                             "malformed-icd10", got=clinical,
                                             expected=f"a form like {CN_EXAMPLES}"))
        clinical = ""
    if gbt:
        why = table.check_disease(gbt)
        if why:
            problems.problems.append(row.problem(column_of["gbt15657"], why[0], why[1]))
            gbt = ""
    if kind == "western":
        return Codes(icd10=icd or None, icd10_cn_clinical_v2=clinical or None)
    return Codes(gbt15657=gbt or None)


def _match(current: Catalogue | None, kind: str, name: str, code: str | None, given_id: str,
           taken: set[str]) -> Disease | None:
    if current is None:
        return None
    if given_id:
        found = current.get(given_id)
        return found if found and found.kind == kind else None
    candidates = [d for d in current.diseases if d.kind == kind and d.id not in taken]
    if code:
        for d in candidates:
            if code in (d.code, d.codes.icd10_cn_clinical_v2):
                return d
    for d in candidates:
        if name == d.name.zh:
            return d
    for d in candidates:
        if name in d.aliases:
            return d
    return None


def build_entries(table: Table, current: Catalogue | None, source_name: str,
                  tcm_table: TcmCodeTable | None = None) -> ImportResult:
    """Check every row and turn it into a catalogue entry.

    Args:
        table: rows from :func:`read_table`.
        current: the version ids are matched against (None: all ids are new).
        source_name: the file name, recorded as the basis of `official` provenance.
        tcm_table: GB/T 15657-2021 tables; default: the bundled ones.

    Returns:
        The entries and every problem, sorted by file and row. Entries are meaningless when there are
        problems.
    """
    tcm_table = tcm_table or load_tcm_code_table()
    problems = ProblemList()
    problems.extend(table.problems.problems)
    warnings: list[Problem] = []
    known_departments = current.meta.departments if current else ()
    if table.rows and "name_zh" not in table.rows[0].columns:
        problems.add("no column of disease names", "missing-column", file=table.rows[0].file)
    seen_names: dict[tuple[str, str], int] = {}
    seen_codes: dict[tuple[str, str], int] = {}
    seen_ids: dict[str, int] = {}
    taken: set[str] = set()
    pending: list[tuple[Row, dict[str, Any]]] = []
    for row in table.rows:
        before = len(problems.problems)
        name = row.get("name_zh")
        if not name:
            problems.problems.append(row.problem("name_zh", "missing disease name", "missing-value"))
        kind = KIND_VALUES.get(row.get("kind").lower())
        if kind is None:
            problems.problems.append(row.problem(
                "kind", "unknown or missing kind" if row.get("kind") else "missing kind", "unknown-kind",
                got=row.get("kind"), expected="西医 or 中医",
                hint="add a 类别 column, name the sheet 西医/中医, or pass --kind"))
            continue
        codes = _row_codes(row, kind, problems, tcm_table)
        code = (codes.icd10 or codes.icd10_cn_clinical_v2) if kind == "western" else codes.gbt15657
        given_id = row.get("id")
        if given_id and not SLUG.match(given_id):
            problems.problems.append(row.problem("id", "malformed id", "malformed-id", got=given_id,
                                                 expected="lowercase letters, digits and hyphens"))
            given_id = ""
        if name:
            key = (kind, name)
            if key in seen_names:
                problems.problems.append(row.problem("name_zh", f"duplicate name {name!r} (also row "
                                                     f"{seen_names[key]})", "duplicate-name"))
            seen_names.setdefault(key, row.row)
        if code:
            key = (kind, code)
            if key in seen_codes:
                problems.problems.append(row.problem(
                    "code" if "code" in row.columns and not row.get("icd10") and not row.get("gbt15657")
                    else ("icd10" if kind == "western" else "gbt15657"),
                    f"duplicate code {code!r} (also row {seen_codes[key]})", "duplicate-code"))
            seen_codes.setdefault(key, row.row)
        if given_id:
            if given_id in seen_ids:
                problems.problems.append(row.problem("id", f"duplicate id {given_id!r} (also row "
                                                     f"{seen_ids[given_id]})", "duplicate-id"))
            seen_ids.setdefault(given_id, row.row)
        role_raw = row.get("role")
        role = ROLE_VALUES.get(role_raw.lower()) if role_raw else None
        if role_raw and role is None:
            problems.problems.append(row.problem(
                "role", "unknown community role", "unknown-role", got=role_raw,
                expected="识别转诊 / 诊断治疗 / 长期管理 (recognise-and-refer / diagnose-and-treat / "
                         "long-term-manage)"))
        prov_status = row.get("provenance_status")
        if prov_status and prov_status not in ("official", "reconstructed"):
            problems.problems.append(row.problem("provenance_status", "unknown provenance status",
                                                 "invalid-value", got=prov_status,
                                                 expected="official or reconstructed"))
        syndromes = _parse_syndromes(row, problems, tcm_table) if kind == "tcm" else ()
        if kind == "tcm" and codes.gbt15657:
            std = tcm_table.diseases[codes.gbt15657]
            if name and std.name != name and name not in _aliases(row):
                warnings.append(row.problem(
                    "name_zh", f"the name differs from the standard's name of {codes.gbt15657}, {std.name!r}",
                    "tcm-name-differs", got=name, hint="check the code"))
        if len(problems.problems) > before:
            continue
        matched = _match(current, kind, name, code, given_id, taken)
        if matched:
            taken.add(matched.id)
        pending.append((row, {"kind": kind, "name": name, "codes": codes, "role": role,
                              "syndromes": syndromes, "matched": matched, "id": given_id}))

    diseases: list[Disease] = []
    used_ids = set(seen_ids) | taken
    for row, item in pending:
        matched: Disease | None = item["matched"]
        disease_id = item["id"] or (matched.id if matched else _new_id(row, item, used_ids))
        used_ids.add(disease_id)
        name_en = row.get("name_en") or (matched.name.en if matched else "")
        if not name_en:
            name_en = item["name"]
            warnings.append(row.problem("name_en", "no English name: the Chinese name stands in for it",
                                        "missing-english-name", hint="add a 英文名称 column"))
        if row.get("department"):
            department, sub = normalise_department(row.get("department"), known_departments)
            sub = row.get("subdepartment") or sub
        elif matched:
            department, sub = matched.department, matched.subdepartment
        else:
            department, sub = UNASSIGNED_DEPARTMENT, None
        role = item["role"] or (matched.role if matched else DEFAULT_ROLE)
        aliases = tuple(_aliases(row)) if row.get("aliases") else (matched.aliases if matched else ())
        aliases = tuple(a for a in aliases if a != item["name"])
        syndromes = item["syndromes"] if row.get("syndromes") else (matched.syndromes if matched else ())
        carried = [k for k, v in (("English name", not row.get("name_en")),
                                  ("department", not row.get("department")), ("role", not item["role"]),
                                  ("aliases", not row.get("aliases") and aliases),
                                  ("syndromes", not row.get("syndromes") and syndromes)) if v]
        if row.get("provenance_status"):
            provenance = Provenance(status=row.get("provenance_status"),
                                    basis=row.get("provenance_basis") or source_name)
        else:
            basis = f"{source_name}, row {row.row}"
            if matched and carried:
                basis += (f"; {', '.join(carried)} carried over from {current.id}@{current.version} "
                          f"(provenance {matched.provenance.status})")
            provenance = Provenance(status="official", basis=basis)
        try:
            diseases.append(Disease(
                id=disease_id, kind=item["kind"], name=Text(zh=item["name"], en=name_en),
                department=department, subdepartment=sub, role=role, aliases=aliases, codes=item["codes"],
                syndromes=syndromes, provenance=provenance, note=row.get("note") or None))
        except ValidationError as exc:
            for err in exc.errors():
                problems.problems.append(row.problem(str(err["loc"][0]) if err["loc"] else "row",
                                                     err["msg"], "invalid-value"))
    ordered = sorted(problems.problems, key=lambda p: (p.file or "", p.line or 0))
    return ImportResult(tuple(diseases), tuple(ordered), tuple(warnings))


def _aliases(row: Row) -> list[str]:
    return [a for a in LIST_SPLIT.split(row.get("aliases")) if a]


def _new_id(row: Row, item: dict[str, Any], used: set[str]) -> str:
    prefix = "tcm-" if item["kind"] == "tcm" else ""
    base = slugify(row.get("name_en"))
    code = item["codes"].gbt15657 if item["kind"] == "tcm" else (
        item["codes"].icd10 or item["codes"].icd10_cn_clinical_v2)
    if not base and code:
        base = ("" if item["kind"] == "tcm" else "icd-") + slugify(code.replace(".", "-"))
    base = prefix + (base or f"row-{row.row}")
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


# --- diff --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CatalogueDiff:
    """Differences between two catalogue versions, by entry id."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    renamed: tuple[tuple[str, str, str], ...]  # (id, old zh name, new zh name)
    recoded: tuple[tuple[str, str | None, str | None], ...]  # (id, old code, new code)

    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.recoded)

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed),
                "renamed": [{"id": i, "from": a, "to": b} for i, a, b in self.renamed],
                "recoded": [{"id": i, "from": a, "to": b} for i, a, b in self.recoded]}


def diff_catalogues(old: Iterable[Disease], new: Iterable[Disease]) -> CatalogueDiff:
    """Added, removed, renamed (Chinese name) and recoded (catalogue code) entries, by id."""
    before = {d.id: d for d in old}
    after = {d.id: d for d in new}
    both = [i for i in after if i in before]
    return CatalogueDiff(
        added=tuple(i for i in after if i not in before),
        removed=tuple(i for i in before if i not in after),
        renamed=tuple((i, before[i].name.zh, after[i].name.zh) for i in both
                      if before[i].name.zh != after[i].name.zh),
        recoded=tuple((i, _full_code(before[i]), _full_code(after[i])) for i in both
                      if _full_code(before[i]) != _full_code(after[i])),
    )


def _full_code(d: Disease) -> str | None:
    if d.kind == "tcm":
        return d.codes.gbt15657
    return d.codes.icd10_cn_clinical_v2 or d.codes.icd10


def rules_losing_disease(removed: Iterable[str],
                         rules: Iterable[tuple[str, str | None]]) -> dict[str, list[str]]:
    """Removed disease id -> the rules (full ids) that point at it.

    Args:
        removed: ids no longer in the new version.
        rules: (rule full id, disease id or None) of every loaded rule.
    """
    gone = set(removed)
    out: dict[str, list[str]] = {}
    for full_id, disease in rules:
        if disease in gone:
            out.setdefault(disease, []).append(full_id)
    return {k: sorted(v) for k, v in sorted(out.items())}


# --- writing -------------------------------------------------------------------------------------------

def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def _flow(data: dict[str, Any]) -> CommentedMap:
    m = CommentedMap(data)
    m.fa.set_flow_style()
    return m


def disease_to_yaml(d: Disease) -> CommentedMap:
    """One entry as it is laid out in the YAML files (defaults left out, short maps on one line)."""
    m = CommentedMap()
    m["id"] = d.id
    m["kind"] = d.kind
    m["name"] = _flow({"zh": d.name.zh, "en": d.name.en})
    m["department"] = d.department
    if d.subdepartment:
        m["subdepartment"] = d.subdepartment
    m["role"] = d.role
    if d.aliases:
        seq = CommentedSeq(d.aliases)
        seq.fa.set_flow_style()
        m["aliases"] = seq
    codes = {k: v for k, v in d.codes.model_dump().items() if v}
    m["codes"] = _flow(codes)
    if d.syndromes:
        m["syndromes"] = CommentedSeq(
            _flow({k: v for k, v in s.model_dump().items() if v is not None}) for s in d.syndromes)
    m["provenance"] = CommentedMap(d.provenance.model_dump())
    if d.note:
        m["note"] = d.note
    return m


def write_catalogue(meta: CataloguePackFile, diseases: Sequence[Disease], out: Path,
                    header: str | None = None) -> Catalogue:
    """Write a catalogue folder (pack.yaml, western.yaml, tcm.yaml) and load it back as a check.

    The folder is built beside `out` and moved into place, so a failure leaves nothing half-written.

    Raises:
        PackError: `out` exists and is not empty, or the written files do not load (a defect).
    """
    if out.exists() and any(out.iterdir()):
        raise PackError.one("output folder exists and is not empty", "output-exists", file=str(out),
                            hint="choose another --out or remove the folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    yaml = _yaml()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pack = CommentedMap(meta.model_dump(mode="json", exclude_defaults=True))
        if header:
            pack.yaml_set_start_comment(header)
        with open(tmp / "pack.yaml", "w", encoding="utf-8") as fh:
            yaml.dump(pack, fh)
        for kind in ("western", "tcm"):
            doc = CommentedMap(diseases=CommentedSeq(disease_to_yaml(d) for d in diseases if d.kind == kind))
            if header:
                doc.yaml_set_start_comment(header)
            with open(tmp / f"{kind}.yaml", "w", encoding="utf-8") as fh:
                yaml.dump(doc, fh)
        loaded = load_catalogue(tmp)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    del loaded
    return load_catalogue(out)


def new_version_meta(current: Catalogue | None, version: str, source_name: str, status: str = "draft",
                     effective: dt.date | None = None, departments: Iterable[str] = ()) -> CataloguePackFile:
    """pack.yaml of an imported version.

    Raises:
        PackError: `version` is not semver.
    """
    if not SEMVER.match(version):
        raise PackError.one("malformed version", "malformed-version", field="--version", got=version,
                            expected="semver like 1.0.0")
    effective = effective or dt.date.today()
    known = list(current.meta.departments) if current else []
    known += [d for d in departments if d not in known]
    return CataloguePackFile(
        id=current.id if current else "community-basic",
        version=version, effective=effective, status=status,
        title=Text(zh=f"社区基本病种清单（导入自 {source_name}）",
                   en=f"Community basic disease list (imported from {source_name})"),
        sources=(Source(id="imported-list", title=source_name, year=effective.year,
                        note="imported with `cdss catalogue import`"),),
        departments=tuple(known),
    )


# --- export as table -------------------------------------------------------------------------------------

def export_rows(catalogue: Catalogue) -> list[list[str]]:
    """The catalogue as rows of the import table: a header row (Chinese headers), then one row per entry."""
    rows = [[HEADERS[c][0] for c in EXPORT_COLUMNS]]
    for n, d in enumerate(catalogue.diseases, start=1):
        syndromes = "; ".join(
            ":".join([s.name, s.code or ""] + ([s.code_status] if s.code_status != "derived" else []))
            for s in d.syndromes)
        values = {
            "seq": str(n), "kind": label("disease_kind", d.kind, "zh"), "id": d.id, "name_zh": d.name.zh,
            "name_en": d.name.en,
            "icd10": d.codes.icd10 or "", "icd10_cn_clinical_v2": d.codes.icd10_cn_clinical_v2 or "",
            "gbt15657": d.codes.gbt15657 or "", "department": d.department,
            "subdepartment": d.subdepartment or "", "role": d.role, "aliases": "; ".join(d.aliases),
            "syndromes": syndromes, "note": d.note or "", "provenance_status": d.provenance.status,
            "provenance_basis": d.provenance.basis,
        }
        rows.append([values[c] for c in EXPORT_COLUMNS])
    return rows


def write_rows_csv(rows: list[list[str]], out: Any) -> None:
    """Write rows as CSV to a text stream."""
    csv.writer(out, lineterminator="\n").writerows(rows)


def write_rows_xlsx(rows: list[list[str]], path: Path, sheet: str = "病种清单") -> None:
    """Write rows to an .xlsx file with one sheet."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    book.save(path)
