r"""Packs: the disease catalogue (the 2023 community basic disease list) as a versioned pack, and queries.

A catalogue lives in ``catalogue/<catalogue-id>/``: ``pack.yaml`` (id, version, status, sources) and one
or more YAML files with a ``diseases:`` list. Rules point at entries by ``id``; suggestions show the
entry's code (ICD-10 for Western conditions, GB/T 15657-2021 for TCM conditions).

The bundled catalogue (``catalogue/community-basic-2023``) is a RECONSTRUCTED DRAFT, not the official
2023 Shanghai list: every entry says so in its ``provenance``. The GB/T 15657-2021 code tables that TCM
codes are checked against ship in ``catalogue/codesystems/`` (see its PROVENANCE.md).

Code formats (formats only; no code values live in Python):

* WHO ICD-10 (``codes.icd10``): ``^[A-Z][0-9]{2}(\.[0-9]{1,2})?$``: a 3-character category, optionally a
  dot and 1-2 digits (4th-character subcategory, WHO 5th-character subdivision). ``I10``, ``J18.9``.
* ICD-10 国家临床版 2.0 (``codes.icd10_cn_clinical_v2``): ``^[A-Z][0-9]{2}\.[0-9x][0-9]{2}(x[0-9]{3})?$``:
  category, dot, 4th character or ``x`` when the category has none, two extension digits, optionally
  ``x`` and three more. ``E11.900``, ``I10.x00x002``.
* GB/T 15657-2021 disease (``codes.gbt15657``): ``^A[0-9]{2}(\.[0-9]{2}){0,3}$``, e.g. ``A04.01.13``;
  chapter A17 (临时诊断用术语, temporary terms) must never be used as a diagnosis.
* GB/T 15657-2021 syndrome (``syndromes[].code``): ``^B[0-9]{2}(\.[0-9]{2})*$``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cdss.errors import PackError, ProblemList, did_you_mean
from cdss.packs.loader import read_yaml, validate
from cdss.packs.schema import dump_for_hash
from cdss.vocab.hashing import content_sha256
from cdss.vocab.model import PACK_ID, SEMVER, SLUG, Model, Source, Status, Text

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
# No public FHIR URI exists for GB/T 15657-2021; this project-local URI says so by its form.
GBT15657_SYSTEM = "urn:cdss:codesystem:gbt-15657-2021"
# Nor for ICD-10 国家临床版 2.0; project-local as well.
ICD10_CN_SYSTEM = "urn:cdss:codesystem:icd-10-cn-clinical-2.0"

ICD10_WHO = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")
ICD10_CN_CLINICAL_V2 = re.compile(r"^[A-Z][0-9]{2}\.[0-9x][0-9]{2}(x[0-9]{3})?$")
GBT15657_DISEASE = re.compile(r"^A[0-9]{2}(\.[0-9]{2}){0,3}$")
GBT15657_SYNDROME = re.compile(r"^B[0-9]{2}(\.[0-9]{2})*$")

BUNDLED_CATALOGUE_ID = "community-basic-2023"
# Rule kinds that `rule_coverage` counts per disease.
COVERAGE_KINDS: tuple[str, ...] = ("diagnosis", "treatment", "referral", "pathway", "medication")


class Syndrome(Model):
    """A common TCM syndrome (证候) of a TCM disease, with its GB/T 15657-2021 B code."""

    name: str = Field(min_length=1, description="Syndrome term (GB/T 16751.2-2021).")
    code: str | None = Field(default=None, pattern=GBT15657_SYNDROME.pattern,
                             description="B code; empty when not known.")
    code_status: Literal["derived", "verified", "unknown"] = Field(
        default="derived", description="`derived`: computed by the numbering rule of the shared table, "
                                       "to be confirmed.")


class Codes(Model):
    """Codes of a catalogue entry; leave a code empty rather than guess it."""

    icd10: str | None = Field(default=None, pattern=ICD10_WHO.pattern,
                              description="ICD-10 code at the level known for sure, e.g. `I10`.")
    icd10_cn_clinical_v2: str | None = Field(
        default=None, pattern=ICD10_CN_CLINICAL_V2.pattern,
        description="国家临床版 2.0 extension code, only where known exactly, e.g. `I10.x00x002`.")
    gbt15657: str | None = Field(default=None, pattern=GBT15657_DISEASE.pattern,
                                 description="GB/T 15657-2021 disease code (TCM), never A17.")


class Provenance(Model):
    """Where an entry comes from. `official` only when copied from the published list."""

    status: Literal["official", "reconstructed"]
    basis: str = Field(min_length=1, description="What the entry rests on (guideline, standard, ...).")


class Disease(Model):
    """One condition of the catalogue."""

    id: str = Field(pattern=SLUG.pattern, description="Stable id rules point at, e.g. `hypertension`.")
    kind: Literal["western", "tcm"]
    name: Text
    department: str = Field(
        min_length=1, description="内科, 外科, 妇科, 儿科, 眼科, 耳鼻喉, 口腔, 皮肤, ...; one of the pack's "
                                  "`departments` when it lists them.")
    subdepartment: str | None = Field(
        default=None, description="Finer grouping inside the department, e.g. 呼吸 for 内科, 骨科 for 外科.")
    role: Literal["recognise-and-refer", "diagnose-and-treat", "long-term-manage"]
    aliases: tuple[str, ...] = ()
    codes: Codes = Codes()
    syndromes: tuple[Syndrome, ...] = ()
    provenance: Provenance
    note: str | None = None

    @property
    def code(self) -> str | None:
        """The catalogue's code: ICD-10 for Western entries (the 国家临床版 2.0 code when only that is
        known), GB/T 15657-2021 for TCM entries."""
        if self.kind == "western":
            return self.codes.icd10 or self.codes.icd10_cn_clinical_v2
        return self.codes.gbt15657

    @property
    def code_system(self) -> str:
        if self.kind == "western":
            only_clinical = self.codes.icd10_cn_clinical_v2 and not self.codes.icd10
            return ICD10_CN_SYSTEM if only_clinical else ICD10_SYSTEM
        return GBT15657_SYSTEM


class CataloguePackFile(Model):
    """`catalogue/<id>/pack.yaml`."""

    id: str = Field(pattern=PACK_ID.pattern)
    version: str = Field(pattern=SEMVER.pattern)
    effective: dt.date
    status: Status
    title: Text
    description: Text | None = None
    sources: tuple[Source, ...] = ()
    departments: tuple[str, ...] = Field(
        default=(), description="The departments entries may name; empty: any.")


class DiseasesFile(Model):
    """A file holding catalogue entries."""

    diseases: tuple[Disease, ...]


@dataclass(frozen=True)
class Catalogue:
    """A loaded, checked catalogue version."""

    meta: CataloguePackFile
    diseases: tuple[Disease, ...]
    sha256: str
    path: Path | None = None
    _by_id: dict[str, Disease] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({d.id: d for d in self.diseases})

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def version(self) -> str:
        return self.meta.version

    def get(self, disease_id: str) -> Disease | None:
        return self._by_id.get(disease_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def search(self, text: str = "", kind: str | None = None, department: str | None = None) -> list[Disease]:
        """Entries whose name (zh or en), alias, id or code contains `text` (case-insensitive)."""
        needle = text.strip().lower()
        found = []
        for d in self.diseases:
            if kind and d.kind != kind:
                continue
            if department and department not in d.department and department not in (d.subdepartment or ""):
                continue
            hay = [d.id, d.name.zh, d.name.en, *d.aliases, d.codes.icd10 or "", d.codes.gbt15657 or "",
                   d.codes.icd10_cn_clinical_v2 or ""]
            if not needle or any(needle in h.lower() for h in hay):
                found.append(d)
        return found


def load_catalogue(folder: Path) -> Catalogue:
    """Load and check a catalogue folder.

    Raises:
        PackError: schema problems, duplicate ids or codes, with file:line:col.
    """
    meta = validate(CataloguePackFile, read_yaml(folder / "pack.yaml"))
    table = load_tcm_code_table()
    problems = ProblemList()
    seen_codes: dict[tuple[str, str], str] = {}
    diseases: list[Disease] = []
    seen_ids: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "pack.yaml":
            continue
        doc = read_yaml(path)
        try:
            part = validate(DiseasesFile, doc)
        except PackError as exc:
            problems.extend(exc.problems)
            continue
        for i, d in enumerate(part.diseases):
            if d.id in seen_ids:
                problems.problems.append(doc.problem(("diseases", i, "id"), f"duplicate disease id {d.id!r} "
                                                     f"(first in {seen_ids[d.id]})", "duplicate-id"))
            seen_ids.setdefault(d.id, doc.shown)
            if meta.departments and d.department not in meta.departments:
                hint = did_you_mean(d.department, meta.departments) or "pack.yaml `departments` lists them"
                problems.problems.append(doc.problem(
                    ("diseases", i, "department"), f"unknown department {d.department!r}",
                    "unknown-department", hint=hint))
            why = table.check_disease(d.codes.gbt15657) if d.codes.gbt15657 else None
            if why:
                problems.problems.append(doc.problem(("diseases", i, "codes", "gbt15657"), why[0], why[1]))
            if d.code:
                key = (d.kind, d.code)
                if key in seen_codes:
                    problems.problems.append(doc.problem(
                        ("diseases", i, "codes"),
                        f"duplicate {d.kind} code {d.code!r} (also {seen_codes[key]!r})", "duplicate-code",
                        hint="two entries cannot share a code; merge them or fix one"))
                seen_codes.setdefault(key, d.id)
            diseases.append(d)
    problems.raise_if_any()
    digest = content_sha256(dump_for_hash(meta), [dump_for_hash(d) for d in diseases])
    return Catalogue(meta=meta, diseases=tuple(diseases), sha256=digest, path=folder)


def unknown_disease_hint(catalogue: Catalogue, disease_id: str) -> str:
    hint = did_you_mean(disease_id, catalogue.ids())
    return hint or "see `cdss catalogue search` for the ids"


def bundled_catalogue_dir() -> Path:
    """The folder of the catalogue that ships with cdss (the 2023 reconstructed draft)."""
    return Path(str(importlib.resources.files("catalogue") / BUNDLED_CATALOGUE_ID))


@functools.lru_cache(maxsize=1)
def load_bundled_catalogue() -> Catalogue:
    """The bundled catalogue, loaded once per process.

    Raises:
        PackError: the bundled files are broken (a packaging defect).
    """
    return load_catalogue(bundled_catalogue_dir())


# --- GB/T 15657-2021 code tables (TCM) -------------------------------------------------------------

@dataclass(frozen=True)
class TcmCode:
    """One row of the GB/T 15657-2021 disease table."""

    code: str
    name: str
    level: int
    category: str
    temporary: bool


@dataclass(frozen=True)
class TcmCodeTable:
    """The GB/T 15657-2021 disease codes and the derived syndrome B codes shipped in catalogue/codesystems."""

    diseases: dict[str, TcmCode]
    syndromes: dict[str, str]  # B code -> term

    def check_disease(self, code: str) -> tuple[str, str] | None:
        """Why `code` cannot be a TCM diagnosis as (message, error code), or None when it can."""
        if not GBT15657_DISEASE.match(code):
            return (f"malformed GB/T 15657-2021 disease code {code!r} (expected e.g. 'A04.01.13')",
                    "malformed-tcm-code")
        entry = self.diseases.get(code)
        if entry is None:
            return (f"GB/T 15657-2021 disease code {code!r} is not in catalogue/codesystems/"
                    "gbt15657-2021_tcm_diseases.tsv", "unknown-tcm-code")
        if entry.temporary:  # the table's temporary_term column (the chapter of 临时诊断用术语)
            return (f"{code!r} ({entry.name}) is a temporary diagnostic term (临时诊断用术语), not a diagnosis",
                    "temporary-tcm-code")
        return None


def codesystems_dir() -> Path:
    """The folder of the bundled code tables (catalogue/codesystems)."""
    return Path(str(importlib.resources.files("catalogue") / "codesystems"))


@functools.lru_cache(maxsize=4)
def load_tcm_code_table(folder: Path | None = None) -> TcmCodeTable:
    """Read the GB/T 15657-2021 disease table and the derived syndrome table.

    Raises:
        PackError: a table is missing.
    """
    folder = folder or codesystems_dir()
    diseases: dict[str, TcmCode] = {}
    syndromes: dict[str, str] = {}
    try:
        with open(folder / "gbt15657-2021_tcm_diseases.tsv", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row["code"]:
                    diseases[row["code"]] = TcmCode(row["code"], row["name"], int(row["level"]),
                                                    row["category"], row["temporary_term"] == "Y")
        with open(folder / "gbt15657-2021_tcm_syndromes.derived.tsv", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                syndromes[row["b_code_derived"]] = row["term"]
    except FileNotFoundError as exc:
        raise PackError.one(f"code table not found: {exc.filename}", "file-not-found",
                            file=str(folder)) from exc
    return TcmCodeTable(diseases=diseases, syndromes=syndromes)


def check_tcm_codes(catalogue: Catalogue, table: TcmCodeTable | None = None) -> list[str]:
    """Entries whose TCM disease or syndrome codes are not in the bundled tables, as sentences."""
    table = table or load_tcm_code_table()
    found = []
    for d in catalogue.diseases:
        if d.codes.gbt15657:
            why = table.check_disease(d.codes.gbt15657)
            if why:
                found.append(f"{d.id}: {why[0]} [{why[1]}]")
        for s in d.syndromes:
            if s.code and table.syndromes.get(s.code) != s.name:
                found.append(f"{d.id}: syndrome {s.name!r} has code {s.code!r}, which the syndrome table "
                             f"gives as {table.syndromes.get(s.code)!r} [unknown-syndrome-code]")
    return found


def rule_coverage(cat: Catalogue, rules: Iterable[tuple[str, str, str | None]]) -> dict[str, Any]:
    """Counts of rules per disease and kind, totals and the uncovered ids (`cdss catalogue coverage`).

    Args:
        cat: the catalogue.
        rules: (rule full id `<pack-id>/<kind>/<slug>`, rule kind, disease id or None) of every rule.

    Returns:
        ``{"diseases": [{"id", "kind", "code", "name": {"zh", "en"}, "rules": {kind: n}}], "totals": {...}}``;
        only the kinds of ``COVERAGE_KINDS`` are counted.
    """
    counts = {d.id: dict.fromkeys(COVERAGE_KINDS, 0) for d in cat.diseases}
    packs: dict[str, set[str]] = {d.id: set() for d in cat.diseases}
    totals_by_kind = dict.fromkeys(COVERAGE_KINDS, 0)
    unknown = without = 0
    for full_id, kind, disease in rules:
        if disease is None:
            without += 1
            continue
        if disease not in counts:
            unknown += 1
            continue
        if kind in totals_by_kind:
            counts[disease][kind] += 1
            totals_by_kind[kind] += 1
            packs[disease].add(full_id.split("/", 1)[0])
    uncovered = [d.id for d in cat.diseases if not any(counts[d.id].values())]
    return {
        "diseases": [{"id": d.id, "kind": d.kind, "code": d.code, "name": {"zh": d.name.zh, "en": d.name.en},
                      "rules": counts[d.id]} for d in cat.diseases],
        "totals": {
            "diseases": len(cat.diseases), "covered": len(cat.diseases) - len(uncovered),
            "uncovered": len(uncovered), "rules": totals_by_kind, "rules_without_disease": without,
            "rules_with_unknown_disease": unknown, "uncovered_ids": uncovered,
            "packs": {k: sorted(v) for k, v in packs.items() if v},
        },
    }
