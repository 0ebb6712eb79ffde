"""Render: make every reference of a `$evaluate` output Bundle resolvable. Formats only; decides nothing.

The engine names the input resources it used as `Type/id` (the Patient, the facts' sources). In the output
Bundle, whose entries have urn:uuid fullUrls, such a relative reference resolves to nothing (FHIR "Resolving
references in Bundles"). So each reference to an input resource becomes:

* the input entry's fullUrl when that is an absolute http(s) URL (the resource lives on the caller's server);
* otherwise the fullUrl of a copy of the input resource, added at the end of the output Bundle as sent: the
  input's own `urn:uuid:` / `urn:oid:` fullUrl when it has one (so the caller recognises it), else a
  name-based urn:uuid of the evaluation and the reference.

The copies are the caller's resources unchanged, in the FHIR version the caller sent them. A reference the
input does not hold is left as it is. Input resources are named as intake names them
(cdss.intake.bundle: `Type/<id, or the fullUrl's last part, or the entry index>`, `Patient/unknown` for a
Patient without id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ABSOLUTE_SERVER = ("http://", "https://")
URN = ("urn:uuid:", "urn:oid:")


def input_index(bundle: Any) -> dict[str, tuple[str | None, Mapping[str, Any]]]:
    """`Type/id` (and the fullUrl) of each input resource -> (its entry's fullUrl, the resource)."""
    out: dict[str, tuple[str | None, Mapping[str, Any]]] = {}
    entries = bundle.get("entry") if isinstance(bundle, Mapping) else None
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        # type() is dict first: parsed JSON is plain dicts, and an ABC isinstance test costs more than the rest
        res = entry.get("resource") if type(entry) is dict or isinstance(entry, Mapping) else None
        if not (type(res) is dict or isinstance(res, Mapping)):
            continue
        rtype = res.get("resourceType")
        if not isinstance(rtype, str):
            continue
        url = entry.get("fullUrl")
        url = url if isinstance(url, str) and url else None
        rid = res.get("id")
        rid = rid if isinstance(rid, str) and rid else None
        tail = url.rsplit("/", 1)[-1].removeprefix("urn:uuid:") if url else None
        key = f"{rtype}/{rid or tail or i}"
        if key not in out:
            out[key] = (url, res)
        if rtype == "Patient":
            out.setdefault(f"Patient/{rid or 'unknown'}", (url, res))
        if url and url not in out:
            out[url] = (url, res)
    return out


def anchor_references(out: dict[str, Any], inputs: Any, name: Callable[..., str]) -> None:
    """Rewrite the references of the output Bundle `out` (in place) as the module docstring says.

    Args:
        out: the output Bundle (its entries' resources are walked and changed).
        inputs: the input Bundle as the caller sent it.
        name: (*parts) -> a name-based urn:uuid (cdss.render.fhir.urn, with the evaluation id first).
    """
    index = input_index(inputs)
    entries: list[dict[str, Any]] = out["entry"]
    known = {e["fullUrl"] for e in entries}
    copies: dict[str, Mapping[str, Any]] = {}

    def target(ref: str) -> str:
        if ref in known or ref in copies:
            return ref
        hit = index.get(ref)
        if hit is None:
            return ref
        url, resource = hit
        if url and url.startswith(ABSOLUTE_SERVER):
            return url
        full = url if url and url.startswith(URN) else name("input", ref)
        copies.setdefault(full, resource)
        return full

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "reference" and isinstance(item, str):
                    value[key] = target(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for entry in entries:
        walk(entry["resource"])
    entries += [{"fullUrl": full, "resource": resource} for full, resource in copies.items()]
