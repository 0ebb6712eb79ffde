"""Vocabulary: the Chinese and English words for the values the engine emits, from `labels.yaml`.

The one home of these words (urgency, kind, evidence mark, data-gap reason, outcome, statistic, pack status,
differential status ...): the text, CDS Hooks, FHIR and HTML renderers and the catalogue tools all read them
here. The file is read once per process. The API is three calls:

    label("urgency", "emergency", "zh")      -> "紧急"
    bilingual("urgency", "emergency")        -> "紧急 / Emergency"   (Chinese first, English beside)
    table("urgency")                         -> {"emergency": {"zh": "紧急", "en": "Emergency"}, ...}

An unknown group is a programming error (KeyError); an unknown key falls back to the key itself, so that
a value newer than the file still shows (the completeness test keeps the file up with the schema).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from ruamel.yaml import YAML

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
LABELS_FILE = Path(__file__).with_name("labels.yaml")


@functools.cache
def _tables() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    data = YAML(typ="safe").load(LABELS_FILE.read_text(encoding="utf-8"))
    return MappingProxyType({group: MappingProxyType({str(k): MappingProxyType(dict(v)) for k, v in rows.items()})
                             for group, rows in data.items()})


def groups() -> tuple[str, ...]:
    """The names of every label group in the file."""
    return tuple(_tables())


def table(group: str) -> Mapping[str, Mapping[str, str]]:
    """A whole group: key -> {zh, en, ...} (read-only)."""
    return _tables()[group]


def label(group: str, key: str, lang: Lang) -> str:
    """The word for `key` of `group` in one language (the key itself when the file has none)."""
    row = _tables()[group].get(key)
    return row[lang] if row else key


def bilingual(group: str, key: str, sep: str = " / ") -> str:
    """Chinese first, English beside: `紧急 / Emergency`."""
    row = _tables()[group].get(key)
    return f"{row['zh']}{sep}{row['en']}" if row else key
