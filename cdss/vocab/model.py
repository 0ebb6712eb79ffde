"""Vocabulary: the base of every file model (frozen, strict about keys), bilingual text, sources and ids.

Shared by packs (rule packs, the catalogue) and intake (the concept dictionary), so that neither imports
the other.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
PACK_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SNAKE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")

Status = Literal["draft", "active", "retired"]


class Model(BaseModel):
    """Frozen, strict about unknown keys: a misspelt key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Text(Model):
    """Reader-facing text, Chinese first, English beside."""

    zh: str = Field(min_length=1, description="Chinese text (shown first).")
    en: str = Field(min_length=1, description="English text.")


class Source(Model):
    """A document that rules cite."""

    id: str = Field(pattern=SLUG.pattern, description="Short id that citations use, e.g. `htn-primary-2020`.")
    title: str = Field(min_length=1, description="Title of the document as published (Chinese if Chinese).")
    year: int | None = Field(default=None, ge=1950, le=2100,
                             description="Year of publication; leave it out when the document shows none (a web page "
                                         "without a date), and say so in `note`.")
    publisher: str | None = Field(default=None, description="Issuing body, e.g. 中华医学会, 国家卫生健康委.")
    url: str | None = Field(default=None, description="Where the text can be read, if public.")
    note: str | None = Field(default=None, description="How the text was obtained, caveats.")
