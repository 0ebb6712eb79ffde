"""Packs: check that the packs a server runs are the published ones (``pathways/PUBLISHED.lock``).

`cdss pack publish` writes `pack-id@version: sha256` into the lock file (cdss.testing.validate); the
service calls `check_published` at start so that a pack whose content changed under the same version,
whose rules file was emptied, or which was never published, is not served as if it were the released
one. A folder of the packs directory without `pack.yaml` is reported too: it would otherwise be left out
silently. Each problem is one line, `file:line: what [code]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cdss.errors import Problem
from cdss.packs.loader import display_path

LOCK_NAME = "PUBLISHED.lock"
_ENTRY = re.compile(r"^\s*([a-z][a-z0-9-]*@\S+)\s*:\s*([0-9a-f]{64})\s*(#.*)?$")
_VERSION_LINE = re.compile(r"^version\s*:")


@dataclass(frozen=True)
class LockEntry:
    sha256: str
    line: int


def read_lock_entries(path: Path) -> dict[str, LockEntry]:
    """`id@version` -> (sha256, line) of a lock file; a missing file has no entries. Lines that are not
    entries (comments, blank) are skipped: `cdss pack validate` reports malformed ones."""
    if not path.is_file():
        return {}
    out: dict[str, LockEntry] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _ENTRY.match(line)
        if match:
            out[match.group(1)] = LockEntry(match.group(2), number)
    return out


def _version_line(folder: Path) -> int | None:
    try:
        lines = (folder / "pack.yaml").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((i for i, line in enumerate(lines, start=1) if _VERSION_LINE.match(line)), None)


def stray_folders(root: Path) -> list[Problem]:
    """Folders directly below a packs directory that hold no `pack.yaml` [no-pack-file]."""
    problems = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")) or (folder / "pack.yaml").is_file():
            continue
        problems.append(Problem("a folder of the packs directory without pack.yaml", "no-pack-file",
                                file=display_path(folder),
                                hint="restore pack.yaml, or remove the folder if the pack was withdrawn"))
    return problems


def check_published(packs: Iterable[object], lock_path: Path) -> list[Problem]:
    """One problem per pack whose `id@version` is not in the lock [pack-unpublished], or is there with
    another content hash [pack-changed]. `packs` are loaded packs (id, version, sha256, path)."""
    entries = read_lock_entries(lock_path)
    lock_shown = display_path(lock_path)
    problems = []
    for pack in packs:
        key = f"{pack.id}@{pack.version}"  # type: ignore[attr-defined]
        folder = Path(pack.path)  # type: ignore[attr-defined]
        where = {"file": display_path(folder / "pack.yaml"), "line": _version_line(folder)}
        entry = entries.get(key)
        if entry is None:
            problems.append(Problem(f"{key} is not published in {lock_shown}", "pack-unpublished",
                                    hint="run `cdss pack publish` for it, or set CDSS_ALLOW_UNPUBLISHED_PACKS=on "
                                         "for development", **where))
        elif entry.sha256 != pack.sha256:  # type: ignore[attr-defined]
            problems.append(Problem(
                f"{key} differs from its published content (sha256 {pack.sha256[:12]} here, "  # type: ignore[attr-defined]
                f"{entry.sha256[:12]} at {lock_shown}:{entry.line})", "pack-changed",
                hint="a changed pack needs a new version and `cdss pack publish`; or restore the files", **where))
    return problems
