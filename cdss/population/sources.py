"""Population: inputs -> (patient key, resource) pairs, streamed (never the whole input in memory).

An input is a FHIR Bulk Data export folder (NDJSON, one resource type per file: `Patient.ndjson`,
`Observation.000.ndjson`), an NDJSON file of resources or of Bundles, a Bundle JSON file, or a folder of
any of these (searched recursively; `.gz` and `.xz` files are read compressed). Each resource is keyed by
the patient it belongs to: a Patient by its id, anything else by its `subject` / `patient` / `beneficiary`
reference (`Patient/<id>` or `urn:uuid:<id>`). Resources without a patient (Organization, Practitioner,
...) are *shared*: kept aside, small, for names in the report.
"""

from __future__ import annotations

import gzip
import lzma
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from cdss.errors import ConfigError

SUFFIXES = (".ndjson", ".json", ".jsonl")
PATIENT_FIELDS = ("subject", "patient", "beneficiary")
SHARED_TYPES = {"Organization", "Practitioner", "PractitionerRole", "CareTeam"}  # CareTeam: a team
CHUNK_BYTES = 64 * 2**20  # an NDJSON file larger than this is split for Spark's tasks


@dataclass(frozen=True)
class Item:
    """One thing read from the input: a patient's resource, a shared resource, or an unusable line."""

    kind: str  # "resource" | "shared" | "error"
    key: str  # the patient id (resource), "Type/id" (shared), or "" (error)
    payload: bytes  # the resource as compact JSON, or the error record as JSON


def expand(inputs: list[str]) -> list[Path]:
    """The input files, sorted: folders are searched recursively for NDJSON / JSON files.

    Raises:
        ConfigError: an input does not exist or holds no such file [input-missing, input-empty].
    """
    files: list[Path] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _data_suffix(p))
            if not found:
                raise ConfigError.one("the folder holds no .ndjson or .json file", "input-empty", file=name)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError.one("no such file or folder", "input-missing", file=name)
    return files


def _data_suffix(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz").removesuffix(".xz")
    return name.endswith(SUFFIXES)


def _open(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def is_ndjson(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz").removesuffix(".xz")
    return name.endswith((".ndjson", ".jsonl"))


def chunks(files: list[Path], size: int = CHUNK_BYTES) -> list[tuple[str, int, int]]:
    """Byte ranges of the files for parallel reading: a large plain NDJSON file is cut into ranges (each
    range reads the lines that *start* in it); anything else is one range."""
    out: list[tuple[str, int, int]] = []
    for f in files:
        total = f.stat().st_size
        if is_ndjson(f) and not f.name.lower().endswith((".gz", ".xz")) and total > size:
            out.extend((str(f), start, min(start + size, total)) for start in range(0, total, size))
        else:
            out.append((str(f), 0, -1))
    return out


def read_range(name: str, start: int, end: int) -> Iterator[Item]:
    """Every item of one file range (see `chunks`); end -1 means the whole file."""
    path = Path(name)
    if end < 0 and not is_ndjson(path):
        with _open(path) as fh:
            data = fh.read()
        yield from _items_of(data, name, None)
        return
    with _open(path) as fh:
        line_no = 0
        if start > 0:
            fh.seek(start - 1)
            if fh.read(1) != b"\n":
                fh.readline()  # the line that started in the previous range
        pos = fh.tell()
        while end < 0 or pos < end:
            line = fh.readline()
            if not line:
                break
            line_no += 1
            where = f"{name}:{line_no}" if start == 0 else f"{name} (byte {pos})"
            pos += len(line)
            if line.strip():
                yield from _items_of(line, name, where)


def read_all(files: list[Path]) -> Iterator[Item]:
    """Every item of every file, in order."""
    for f in files:
        yield from read_range(str(f), 0, -1)


def _error(where: str, message: str, code: str) -> Item:
    record = {"patient": None, "source": where, "code": code, "message": message}
    return Item("error", "", orjson.dumps(record))


def _items_of(data: bytes, name: str, where: str | None) -> Iterator[Item]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield _error(where or name, f"not valid JSON ({exc})", "not-json")
        return
    if not isinstance(doc, dict):
        yield _error(where or name, "not a FHIR resource (a JSON object is expected)", "not-a-resource")
        return
    if doc.get("resourceType") == "Bundle":
        entries = doc.get("entry") if isinstance(doc.get("entry"), list) else []
        for i, entry in enumerate(entries):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict):
                if "id" not in res and isinstance(entry.get("fullUrl"), str):
                    res = {**res, "id": entry["fullUrl"].rsplit("/", 1)[-1].removeprefix("urn:uuid:")}
                yield from _keyed(res, f"{where or name}: Bundle.entry[{i}]")
        return
    yield from _keyed(doc, where or name)


def _keyed(res: dict[str, Any], where: str) -> Iterator[Item]:
    rtype = res.get("resourceType")
    if not isinstance(rtype, str):
        yield _error(where, "no resourceType", "not-a-resource")
        return
    key = patient_key(res)
    if key is not None:
        yield Item("resource", key, orjson.dumps(res))
    elif rtype in SHARED_TYPES and isinstance(res.get("id"), str):
        yield Item("shared", f"{rtype}/{res['id']}", orjson.dumps(res))


def patient_key(res: dict[str, Any]) -> str | None:
    """The id of the patient a resource belongs to, or None."""
    if res.get("resourceType") == "Patient":
        pid = res.get("id")
        return pid if isinstance(pid, str) and pid else None
    for field in PATIENT_FIELDS:
        ref = res.get(field)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return _ref_id(ref["reference"])
    return None


def _ref_id(ref: str) -> str | None:
    if ref.startswith("urn:uuid:"):
        return ref[len("urn:uuid:"):] or None
    parts = ref.split("/")
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    if len(parts) >= 4 and parts[-4] == "Patient" and parts[-2] == "_history":
        return parts[-3]
    return None


def input_bytes(files: list[Path]) -> int:
    """Total size of the input files on disk."""
    return sum(os.path.getsize(f) for f in files)
