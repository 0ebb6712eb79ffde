"""Testing kit: validate a pack folder for an editor, and keep published versions honest.

`validate_pack` loads the pack with the loader's checks (schema, then every check of the content in
`cdss.packs.check`, the same the service runs) and adds what an editor needs before publishing:

* example cases are valid and their matchers name rules of the pack [unknown-rule];
* version discipline: when the pack's `id@version` is in the lock file with another content hash, the
  content changed without a new version [version-unchanged].

The lock file (`pathways/PUBLISHED.lock`) maps `pack-id@version` to the sha256 of the content that was
published; `cdss pack publish` writes it, and it is committed. Validation looks for it in the folders
above the pack (nearest first) unless a path is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cdss.errors import ConfigError, PackError, Problem, did_you_mean
from cdss.packs.loader import YamlDoc, display_path, read_yaml
from cdss.packs.registry import Pack, Registry, load_pack
from cdss.testing.cases import read_pack_cases

LOCK_NAME = "PUBLISHED.lock"
_LOCK_KEY = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*@\S+$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
LOCK_HEADER = (
    "# Published pack versions: `pack-id@version: sha256 of the content`. Written by `cdss pack publish`;\n"
    "# `cdss pack validate` fails when a published version's content changes. Do not edit by hand.\n"
)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one pack folder."""

    folder: Path
    pack: Pack | None
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()
    lock: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        return self.pack.key if self.pack else display_path(self.folder)

    def to_json(self) -> dict:
        return {"pack": self.name, "folder": display_path(self.folder), "ok": self.ok,
                "sha256": self.pack.sha256 if self.pack else None,
                "lock": display_path(self.lock) if self.lock else None,
                "problems": [p.to_dict() for p in self.problems],
                "warnings": [p.to_dict() for p in self.warnings]}


def _ordered(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.col or 0, p.code, p.message)))


# --- the lock file -------------------------------------------------------------------------------------

def find_lock(folder: Path) -> Path | None:
    """The nearest `PUBLISHED.lock` in the folders above a pack folder, or None."""
    for parent in folder.resolve().parents:
        candidate = parent / LOCK_NAME
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Lock:
    """The published versions: `id@version` -> sha256, with the line of each entry."""

    path: Path
    entries: dict[str, str] = field(default_factory=dict)
    doc: YamlDoc | None = None

    def problem(self, key: str, message: str, code: str, **extra: object) -> Problem:
        if self.doc is not None:
            return self.doc.problem((key,), message, code, **extra)
        return Problem(message, code, file=display_path(self.path), **extra)  # type: ignore[arg-type]


def read_lock(path: Path) -> Lock:
    """Read a lock file; a missing file is an empty lock.

    Raises:
        PackError: not YAML, or an entry is not `id@version: <64 hex digits>` [bad-lock].
    """
    if not path.is_file():
        return Lock(path)
    doc = read_yaml(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise PackError.one("a lock file is a mapping `pack-id@version: sha256`", "bad-lock", file=doc.shown)
    problems = []
    entries = {}
    for key, value in data.items():
        if not isinstance(key, str) or not _LOCK_KEY.match(key) or not isinstance(value, str) \
                or not _SHA.match(value):
            problems.append(doc.problem((str(key),), "not a lock entry", "bad-lock", got=f"{key}: {value}",
                                        expected="pack-id@version: <64 hex digits>",
                                        hint="restore it from git; `cdss pack publish` writes entries"))
            continue
        entries[key] = value
    if problems:
        raise PackError(problems)
    return Lock(path, entries, doc)


def write_lock(lock: Lock) -> None:
    """Write the lock file, entries sorted, so that the same content gives the same bytes."""
    lines = [LOCK_HEADER]
    lines += [f"{key}: {lock.entries[key]}\n" for key in sorted(lock.entries)]
    lock.path.write_text("".join(lines), encoding="utf-8")


def version_problems(pack: Pack, lock: Lock) -> list[Problem]:
    """The pack's id@version is published with other content: the version must change."""
    published = lock.entries.get(pack.key)
    if published is None or published == pack.sha256:
        return []
    doc = read_yaml(pack.path / "pack.yaml") if pack.path else None
    message = (f"content changed but version is still {pack.version!r} (published as {pack.key} with sha256 "
               f"{published[:12]} in {display_path(lock.path)})")
    hint = "bump the version (semver: patch for wording, minor for new rules, major for changed advice) " \
           "and run `cdss pack publish`"
    if doc is not None:
        return [doc.problem(("version",), message, "version-unchanged", hint=hint)]
    return [Problem(message, "version-unchanged", field="version", hint=hint)]


# --- checks beyond the loader's ------------------------------------------------------------------------

def extra_problems(pack: Pack, registry: Registry) -> tuple[list[Problem], list[Problem]]:
    """Problems and warnings the loader does not look for: example cases, unverified evidence."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if pack.path is None:
        return problems, warnings
    shown = display_path(pack.path / "pack.yaml")
    case_files, case_problems = read_pack_cases(pack)
    problems.extend(case_problems)
    full_ids = {r.full_id for r in pack.rules}
    for case_file in case_files:
        doc = case_file.doc
        seen: set[str] = set()
        for i, (case, _line) in enumerate(case_file.cases):
            if case.id in seen:
                problems.append(doc.problem(("cases", i, "id"), f"duplicate case id {case.id!r}", "duplicate-id"))
            seen.add(case.id)
            for section in ("expect", "forbid"):
                for j, matcher in enumerate(getattr(case, section)):
                    rule = matcher.rule
                    if rule is None:
                        continue
                    full = rule if rule.startswith(f"{pack.id}/") else f"{pack.id}/{rule}"
                    if full not in full_ids:
                        short = sorted(r.removeprefix(f"{pack.id}/") for r in full_ids)
                        problems.append(doc.problem(
                            ("cases", i, section, j, "rule"), f"unknown rule {rule!r}", "unknown-rule",
                            expected="`kind/slug` of a rule of this pack",
                            hint=did_you_mean(rule.removeprefix(f"{pack.id}/"), short)
                            or "rules: " + ", ".join(short)))
    unverified = [r for r in pack.rules if r.rule.evidence == "unverified"]
    if unverified:
        warnings.append(Problem(f"{len(unverified)} of {len(pack.rules)} rules have evidence 'unverified'",
                                "unverified-evidence", file=shown,
                                hint="check them against the source text before relying on them"))
    return problems, warnings


def validate_pack(folder: Path, registry: Registry, *, lock_path: Path | None = None,
                  use_lock: bool = True) -> ValidationReport:
    """Validate one pack folder: the registry's checks, the editor's checks and version discipline.

    Args:
        folder: the pack folder (holding pack.yaml).
        registry: gives the concepts and the catalogue (packs in it are not consulted).
        lock_path: the lock file; default: the nearest `PUBLISHED.lock` above the folder.
        use_lock: check version discipline at all.

    Raises:
        ConfigError: the folder holds no pack.yaml [not-a-pack].
    """
    if not (folder / "pack.yaml").is_file():
        raise ConfigError.one("not a pack folder (no pack.yaml)", "not-a-pack", file=display_path(folder),
                              hint="give a folder like pathways/htn-community")
    try:
        pack = load_pack(folder, registry.concepts, registry.catalogue)
    except PackError as exc:
        return ValidationReport(folder, None, _ordered(exc.problems))
    problems, warnings = extra_problems(pack, registry)
    warnings.extend(pack.warnings)
    lock_file = (lock_path or find_lock(folder)) if use_lock else None
    if use_lock and lock_file is None:
        warnings.append(Problem(f"no {LOCK_NAME} above this folder: version discipline not checked",
                                "no-lock", file=display_path(folder / "pack.yaml"),
                                hint="pass --lock FILE, or publish the pack with `cdss pack publish`"))
    if lock_file is not None:
        try:
            problems.extend(version_problems(pack, read_lock(lock_file)))
        except PackError as exc:
            problems.extend(exc.problems)
    return ValidationReport(folder, pack, _ordered(problems), _ordered(warnings), lock_file)


@dataclass(frozen=True)
class PublishOutcome:
    pack: Pack
    lock: Path
    changed: bool


def publish_pack(report: ValidationReport, lock_path: Path) -> PublishOutcome:
    """Record a validated pack's id@version and content hash in the lock file.

    Raises:
        PackError: the pack has problems, is a draft [draft-not-published], or its version is already
            published with other content [version-unchanged].
    """
    if not report.ok or report.pack is None:
        raise PackError(report.problems)
    pack = report.pack
    if pack.status == "draft":
        doc = read_yaml(pack.path / "pack.yaml") if pack.path else None
        message, hint = "a draft cannot be published", "set `status: active` once the pack is reviewed"
        raise PackError(doc.problem(("status",), message, "draft-not-published", got="draft", hint=hint)
                        if doc else Problem(message, "draft-not-published", hint=hint))
    lock = read_lock(lock_path)
    problems = version_problems(pack, lock)
    if problems:
        raise PackError(problems)
    if lock.entries.get(pack.key) == pack.sha256:
        return PublishOutcome(pack, lock_path, False)
    lock.entries[pack.key] = pack.sha256
    write_lock(lock)
    return PublishOutcome(pack, lock_path, True)
