"""Render: the disease catalogue as FHIR terminology resources (CodeSystem, ValueSet). Formats only.

* :func:`catalogue_code_system`: the catalogue itself as a code system whose codes are the entry ids,
  with the Chinese name as display, the English name and aliases as designations, and properties for
  kind, ICD-10 / 国家临床版 2.0 / GB/T 15657-2021 codes, department, community role and provenance.
* :func:`catalogue_value_set`: the entries' own codes as a value set: Western entries by ICD-10
  (``ICD10_SYSTEM``; ``ICD10_CN_SYSTEM`` for entries that only have a 国家临床版 2.0 code), TCM entries by
  GB/T 15657-2021 (``GBT15657_SYSTEM``). Entries without a code are left out and counted in the text.

Resources are plain JSON-ready dicts (the web service reuses them); :func:`validated` checks one against
the fhir.resources models (R5 by default, or R4B). A draft or reconstructed catalogue is rendered with
``experimental: true`` and says so in its description.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from cdss.packs.catalogue import (
    GBT15657_SYSTEM,
    ICD10_CN_SYSTEM,
    ICD10_SYSTEM,
    Catalogue,
    Disease,
)

FhirVersion = Literal["R5", "R4B"]
CATALOGUE_URL = "urn:cdss:catalogue:{id}"
VALUE_SET_URL = "urn:cdss:catalogue:{id}:valueset:{kind}"
KINDS: tuple[str, ...] = ("western", "tcm")

_PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("kind", "code", "western (西医) or tcm (中医)"),
    ("icd10", "Coding", "WHO ICD-10 code, at the level known for sure"),
    ("icd10-cn-clinical-v2", "Coding", "ICD-10 国家临床版 2.0 code, only where known exactly"),
    ("gbt15657", "Coding", "GB/T 15657-2021 disease code (TCM)"),
    ("syndrome", "Coding", "a common TCM syndrome with its GB/T 15657-2021 B code (derived codes are "
                           "unverified; see the entry's provenance)"),
    ("department", "string", "department (科室)"),
    ("subdepartment", "string", "finer grouping inside the department"),
    ("role", "code", "community role: recognise-and-refer, diagnose-and-treat or long-term-manage"),
    ("provenance-status", "code", "official (copied from the published list) or reconstructed"),
    ("provenance-basis", "string", "what the entry rests on"),
)


def _name(catalogue_id: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in catalogue_id.split("-"))


def _is_reconstructed(catalogue: Catalogue) -> bool:
    return any(d.provenance.status != "official" for d in catalogue.diseases)


def _description(catalogue: Catalogue) -> str:
    meta = catalogue.meta
    parts = [f"{meta.title.zh} / {meta.title.en}."]
    if meta.description:
        parts.append(f"{meta.description.zh} {meta.description.en}")
    if _is_reconstructed(catalogue):
        n = sum(d.provenance.status != "official" for d in catalogue.diseases)
        parts.append(f"{n} of {len(catalogue.diseases)} entries are reconstructed, not copied from an "
                     "official list (重建条目，非官方清单原文).")
    return " ".join(parts)


def _common(catalogue: Catalogue) -> dict[str, Any]:
    meta = catalogue.meta
    return {
        "version": meta.version,
        "status": meta.status,
        "experimental": meta.status == "draft" or _is_reconstructed(catalogue),
        "date": meta.effective.isoformat(),
    }


def _concept(d: Disease) -> dict[str, Any]:
    designation = [{"language": "en", "value": d.name.en}]
    designation += [{"language": "zh", "value": a} for a in d.aliases]
    props: list[dict[str, Any]] = [{"code": "kind", "valueCode": d.kind}]
    if d.codes.icd10:
        props.append({"code": "icd10", "valueCoding": {"system": ICD10_SYSTEM, "code": d.codes.icd10}})
    if d.codes.icd10_cn_clinical_v2:
        props.append({"code": "icd10-cn-clinical-v2",
                      "valueCoding": {"system": ICD10_CN_SYSTEM, "code": d.codes.icd10_cn_clinical_v2}})
    if d.codes.gbt15657:
        props.append({"code": "gbt15657", "valueCoding": {"system": GBT15657_SYSTEM, "code": d.codes.gbt15657,
                                                          "display": d.name.zh}})
    for s in d.syndromes:
        coding: dict[str, Any] = {"system": GBT15657_SYSTEM, "display": s.name}
        if s.code:
            coding["code"] = s.code
        props.append({"code": "syndrome", "valueCoding": coding})
    props.append({"code": "department", "valueString": d.department})
    if d.subdepartment:
        props.append({"code": "subdepartment", "valueString": d.subdepartment})
    props.append({"code": "role", "valueCode": d.role})
    props.append({"code": "provenance-status", "valueCode": d.provenance.status})
    props.append({"code": "provenance-basis", "valueString": d.provenance.basis})
    out: dict[str, Any] = {"code": d.id, "display": d.name.zh, "designation": designation, "property": props}
    if d.note:
        out["definition"] = d.note
    return out


def catalogue_code_system(catalogue: Catalogue, kind: str | None = None) -> dict[str, Any]:
    """The catalogue as a FHIR CodeSystem (codes = entry ids), optionally only one kind."""
    diseases = [d for d in catalogue.diseases if kind is None or d.kind == kind]
    return {
        "resourceType": "CodeSystem",
        "id": catalogue.id + (f"-{kind}" if kind else ""),
        "url": CATALOGUE_URL.format(id=catalogue.id),
        "name": _name(catalogue.id),
        "title": f"{catalogue.meta.title.zh} / {catalogue.meta.title.en}",
        **_common(catalogue),
        "description": _description(catalogue),
        "caseSensitive": True,
        "content": "complete" if kind is None else "fragment",
        "count": len(diseases),
        "property": [{"code": c, "type": t, "description": text} for c, t, text in _PROPERTIES],
        "concept": [_concept(d) for d in diseases],
    }


def catalogue_value_set(catalogue: Catalogue, kind: str) -> dict[str, Any]:
    """The codes of one kind of entry as a FHIR ValueSet (Western: ICD-10; TCM: GB/T 15657-2021).

    Raises:
        ValueError: `kind` is not western or tcm.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    diseases = [d for d in catalogue.diseases if d.kind == kind]
    by_system: dict[str, list[dict[str, str]]] = {}
    for d in diseases:
        if d.code:
            by_system.setdefault(d.code_system, []).append({"code": d.code, "display": d.name.zh})
    coded = sum(len(v) for v in by_system.values())
    label = {"western": ("西医病种", "Western-medicine conditions", "ICD-10"),
             "tcm": ("中医病种", "TCM conditions", "GB/T 15657-2021")}[kind]
    description = (f"{label[0]} / {label[1]} of {catalogue.id}@{catalogue.version} by {label[2]}: "
                   f"{coded} of {len(diseases)} entries have a code; the others are left out. "
                   + _description(catalogue))
    return {
        "resourceType": "ValueSet",
        "id": f"{catalogue.id}-{kind}",
        "url": VALUE_SET_URL.format(id=catalogue.id, kind=kind),
        "name": _name(catalogue.id) + kind.capitalize(),
        "title": f"{catalogue.meta.title.zh}：{label[0]} / {catalogue.meta.title.en}: {label[1]}",
        **_common(catalogue),
        "description": description,
        "compose": {"include": [{"system": system, "concept": concepts}
                                for system, concepts in sorted(by_system.items())]},
    }


def validated(resource: dict[str, Any], fhir_version: FhirVersion = "R5") -> dict[str, Any]:
    """Check a resource against the fhir.resources model and return it as the model dumps it.

    Raises:
        ValueError: the resource does not conform (pydantic's ValidationError is a ValueError).
    """
    kind = resource["resourceType"]
    package = "fhir.resources" if fhir_version == "R5" else "fhir.resources.R4B"
    module = importlib.import_module(f"{package}.{kind.lower()}")
    model = getattr(module, kind).model_validate(resource)
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)
