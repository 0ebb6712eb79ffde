"""Testing kit: pytest plugin (registered as the `cdss` pytest11 entry point).

1. Registers the hypothesis profiles `dev` and `ci` (derandomised, more examples) and selects `ci` when
   the CI environment variable is set, or the profile named by CDSS_HYPOTHESIS_PROFILE.
2. Makes `pytest pathways/` run what `cdss pack test` runs: each example case of
   `pathways/<pack>/cases/*.yaml` is a test item, and each pack's property checks are test items of its
   `pack.yaml` (one per group: declared, determinism, exclusions, urgency, reachability). Only pack
   folders below a folder named `pathways` are collected, so that the broken packs of tests/fixtures are
   never run as content. Generated patients per property: the `cdss_examples` ini option or
   CDSS_PACK_EXAMPLES (default 25).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=120, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("CDSS_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

PACKS_FOLDER_NAME = "pathways"
DEFAULT_EXAMPLES = 25


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("cdss_examples", "Generated patients per pack property when pytest collects pathways/",
                  default=str(DEFAULT_EXAMPLES))


def _is_pack_folder(folder: Path) -> bool:
    return (folder / "pack.yaml").is_file() and any(p.name == PACKS_FOLDER_NAME for p in folder.resolve().parents)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".yaml":
        return None
    if file_path.name == "pack.yaml" and _is_pack_folder(file_path.parent):
        return PackPropertiesFile.from_parent(parent, path=file_path)
    if file_path.parent.name == "cases" and _is_pack_folder(file_path.parent.parent):
        return PackCasesFile.from_parent(parent, path=file_path)
    return None


class _Packs:
    """Concepts, catalogue and loaded packs, shared by every item of a session."""

    def __init__(self) -> None:
        self._registry: Any = None
        self._packs: dict[Path, Any] = {}

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from cdss.packs.registry import load_registry

            self._registry = load_registry(bundled=False)
        return self._registry

    def pack(self, folder: Path) -> Any:
        from cdss.packs.registry import load_pack

        folder = folder.resolve()
        if folder not in self._packs:
            self._packs[folder] = load_pack(folder, self.registry.concepts, self.registry.catalogue)
        return self._packs[folder]


_packs_key = pytest.StashKey[_Packs]()


def _shared(config: pytest.Config) -> _Packs:
    if _packs_key not in config.stash:
        config.stash[_packs_key] = _Packs()
    return config.stash[_packs_key]


class PackFailure(Exception):
    """A case or property of a pack failed; the message is the report."""


class _PackItem(pytest.Item):
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # noqa: ANN401
        from cdss.errors import CdssError

        if isinstance(excinfo.value, PackFailure | CdssError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)  # type: ignore[arg-type]


class PackCasesFile(pytest.File):
    """A `cases/*.yaml` file: one item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        from cdss.testing.cases import load_cases

        for case, line in load_cases(self.path):
            yield CaseItem.from_parent(self, name=case.id, case=case, line=line)


class CaseItem(_PackItem):
    def __init__(self, *, case: Any, line: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.line = line

    def runtest(self) -> None:
        from cdss.render.text import render_text
        from cdss.testing.cases import run_case

        shared = _shared(self.config)
        pack = shared.pack(self.path.parent.parent)
        result = run_case(self.case, self.path, self.line, pack, shared.registry)
        if not result.passed:
            lines = [f"{self.path}:{self.line}: case {self.case.id!r} of {pack.key} fails:",
                     *(f"  - {f}" for f in result.failures)]
            if result.result is not None:
                lines += ["trace:", *("  " + x for x in render_text(result.result).splitlines())]
            raise PackFailure("\n".join(lines))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.line or 1) - 1, f"case {self.case.id}"


class PackPropertiesFile(pytest.File):
    """A `pack.yaml`: one item per property check (declared per rule, and the generic ones)."""

    def collect(self) -> Iterator[pytest.Item]:
        from cdss.testing.properties import GROUPS

        for group in GROUPS:
            yield PropertiesItem.from_parent(self, name=f"properties-{group}", group=group)


class PropertiesItem(_PackItem):
    def __init__(self, *, group: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group

    def runtest(self) -> None:
        from cdss.testing.properties import check_pack_properties, format_counterexample

        shared = _shared(self.config)
        pack = shared.pack(self.path.parent)
        examples = int(os.environ.get("CDSS_PACK_EXAMPLES") or self.config.getini("cdss_examples"))
        results = check_pack_properties(pack, shared.registry, examples=examples, groups=(self.group,))
        failed = [r for r in results if r.status == "failed"]
        for r in results:
            if r.status == "warning":
                self.warn(pytest.PytestWarning(f"{pack.key}: {r.title}: {r.message}"))
        if failed:
            lines = [f"{len(failed)} property check(s) of {pack.key} fail:"]
            for r in failed:
                lines.append(f"  FAIL {r.title}: {r.message}")
                if r.counterexample is not None:
                    lines.append(format_counterexample(r.counterexample, "    "))
            raise PackFailure("\n".join(lines))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"properties: {self.group}"
