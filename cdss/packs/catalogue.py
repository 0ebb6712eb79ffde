"""Packs: the disease catalogue (the 2023 community basic disease list) as a versioned pack, and queries.

A catalogue lives in ``catalogue/<catalogue-id>/``: ``pack.yaml`` (id, version, status, sources) and one
or more YAML files with a ``diseases:`` list. Rules point at entries by ``id``; suggestions show the
entry's code (ICD-10 for Western conditions, GB/T 15657-2021 for TCM conditions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from cdss.errors import PackError, ProblemList, did_you_mean
from cdss.packs.loader import read_yaml, validate
from cdss.packs.schema import PACK_ID, SEMVER, SLUG, Model, Source, Status, Text, dump_for_hash

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
# No public FHIR URI exists for GB/T 15657-2021; this project-local URI says so by its form.
GBT15657_SYSTEM = "urn:cdss:codesystem:gbt-15657-2021"


class Syndrome(Model):
    """A common TCM syndrome (证候) of a TCM disease, with its GB/T 15657-2021 B code."""

    name: str = Field(min_length=1, description="Syndrome term (GB/T 16751.2-2021).")
    code: str | None = Field(default=None, description="B code; empty when not known.")
    code_status: Literal["derived", "verified", "unknown"] = Field(
        default="derived", description="`derived`: computed by the numbering rule of the shared table, "
                                       "to be confirmed.")


class Codes(Model):
    """Codes of a catalogue entry; leave a code empty rather than guess it."""

    icd10: str | None = Field(default=None, description="ICD-10 code at the level known for sure, e.g. `I10`.")
    icd10_cn_clinical_v2: str | None = Field(
        default=None, description="国家临床版 2.0 extension code, only where known exactly.")
    gbt15657: str | None = Field(default=None, description="GB/T 15657-2021 disease code (TCM), never A17.")


class Provenance(Model):
    """Where an entry comes from. `official` only when copied from the published list."""

    status: Literal["official", "reconstructed"]
    basis: str = Field(min_length=1, description="What the entry rests on (guideline, standard, ...).")


class Disease(Model):
    """One condition of the catalogue."""

    id: str = Field(pattern=SLUG.pattern, description="Stable id rules point at, e.g. `hypertension`.")
    kind: Literal["western", "tcm"]
    name: Text
    department: str = Field(min_length=1, description="内科, 外科, 妇科, 儿科, 眼科, 耳鼻喉, 口腔, 皮肤, ...")
    role: Literal["recognise-and-refer", "diagnose-and-treat", "long-term-manage"]
    aliases: tuple[str, ...] = ()
    codes: Codes = Codes()
    syndromes: tuple[Syndrome, ...] = ()
    provenance: Provenance
    note: str | None = None

    @property
    def code(self) -> str | None:
        """The catalogue's code: ICD-10 for Western entries, GB/T 15657-2021 for TCM entries."""
        return self.codes.icd10 if self.kind == "western" else self.codes.gbt15657

    @property
    def code_system(self) -> str:
        return ICD10_SYSTEM if self.kind == "western" else GBT15657_SYSTEM


class CataloguePackFile(Model):
    """`catalogue/<id>/pack.yaml`."""

    id: str = Field(pattern=PACK_ID.pattern)
    version: str = Field(pattern=SEMVER.pattern)
    effective: dt.date
    status: Status
    title: Text
    description: Text | None = None
    sources: tuple[Source, ...] = ()


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
            if department and department not in d.department:
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
    problems = ProblemList()
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
            diseases.append(d)
    problems.raise_if_any()
    digest = hashlib.sha256(json.dumps(
        [dump_for_hash(meta), [dump_for_hash(d) for d in diseases]], sort_keys=True, ensure_ascii=False,
    ).encode()).hexdigest()
    return Catalogue(meta=meta, diseases=tuple(diseases), sha256=digest, path=folder)


def unknown_disease_hint(catalogue: Catalogue, disease_id: str) -> str:
    hint = did_you_mean(disease_id, catalogue.ids())
    return hint or "see `cdss catalogue search` for the ids"
