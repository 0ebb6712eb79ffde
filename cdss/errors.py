"""Errors: every exception cdss raises, carrying data so the CLI, the API and the panel format them alike.

    CdssError                 base; never raised itself
     +-- PackError            a rule pack, catalogue or concept file is wrong (file:line:col)
     +-- IntakeError          a FHIR bundle cannot be read (FHIR path of the field)
     +-- EngineError          the rule engine failed or was misused
     +-- ConfigError          a setting or a command-line argument is unusable

Each error has a stable kebab-case ``code`` (documented in docs/reference/errors.md) and formats as
``WHERE: FIELD: what is wrong (got X, expected Y); what to do [code]``. Missing clinical data is not an
error: it is a DataGap in the result.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_UNSET: Any = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located: the unit that error lists are made of."""

    message: str
    code: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    field: str | None = None
    got: Any = _UNSET
    expected: str | None = None
    hint: str | None = None

    def where(self) -> str:
        """`file:line:col`, or as much of it as is known."""
        parts = [self.file or ""]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(p for p in parts if p)

    def __str__(self) -> str:
        head = ": ".join(p for p in (self.where(), self.field) if p)
        text = self.message
        if self.got is not _UNSET or self.expected:
            detail = []
            if self.got is not _UNSET:
                detail.append(f"got {self.got!r}")
            if self.expected:
                detail.append(f"expected {self.expected}")
            text += f" ({', '.join(detail)})"
        if self.hint:
            text += f"; {self.hint}"
        return f"{head}: {text} [{self.code}]" if head else f"{text} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, used by the API and `--format json`."""
        out: dict[str, Any] = {"code": self.code, "message": str(self)}
        for key in ("file", "line", "col", "field", "expected", "hint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.got is not _UNSET:
            out["got"] = self.got if isinstance(self.got, str | int | float | bool) else repr(self.got)
        return out


class CdssError(Exception):
    """Base of every cdss error; holds one or more located problems."""

    def __init__(self, problems: Problem | Iterable[Problem]):
        self.problems: tuple[Problem, ...] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def code(self) -> str:
        return self.problems[0].code

    @classmethod
    def one(cls, message: str, code: str, **where: Any) -> CdssError:
        """Build an error holding a single problem."""
        return cls(Problem(message, code, **where))


class PackError(CdssError):
    """A pack, catalogue, concept or case file is invalid. Raised by `cdss.packs` at load time.

    Example: ``pathways/htn-community/rules/referral.yaml:42:9: rules[3].when.concept: unknown
    concept 'spb'; did you mean 'sbp'? [unknown-concept]``
    """


class IntakeError(CdssError):
    """A FHIR bundle cannot be turned into patient facts: not JSON, not a Bundle, no Patient, ...

    The field is the FHIR path, e.g. ``Bundle.entry[7].resource.effectiveDateTime``.
    """


class EngineError(CdssError):
    """The rule engine failed: a defect of durable-rules that the adapter could not absorb, or a
    request that names a pack version that is not loaded."""


class ConfigError(CdssError):
    """A setting or command-line value is unusable (unsafe, malformed or contradictory)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


@dataclass
class ProblemList:
    """Collects problems while checking a file, so that all are reported at once, in line order."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, message: str, code: str, **where: Any) -> None:
        self.problems.append(Problem(message, code, **where))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def raise_if_any(self, error: type[CdssError] = PackError) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: (p.file or "", p.line or 0, p.col or 0))
            raise error(ordered)

    def __bool__(self) -> bool:
        return bool(self.problems)
