"""Render: how a cited source is shown: its label (the year once) and its URL as a valid URI.

52 of the pack sources already carry the year in their title ("国家基层高血压防治管理指南（2017）"); the
year is appended only when the title does not hold it. Source URLs written as IRIs (CJK, spaces) are
percent-encoded (RFC 3987 section 3.1), as FHIR `url`/`uri` and CDS Hooks `source.url` require.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

# RFC 3986 reserved and unreserved characters, and '%' (already encoded): left as they are.
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def with_year(title: str, year: Any, *, zh: bool = True) -> str:
    """`title（year）`, or the title alone when it already names the year (or there is none)."""
    if year is None or str(year) in title:
        return title
    return f"{title}（{year}）" if zh else f"{title} ({year})"


def uri(url: str | None) -> str | None:
    """An IRI as a URI: every character outside ASCII (and spaces) percent-encoded as UTF-8."""
    if url is None:
        return None
    return quote(url, safe=_URI_SAFE)
