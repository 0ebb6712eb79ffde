"""Packs: load and check rule packs, keep versions side by side, pin them, hash their content.

A pack is a folder: ``pack.yaml`` and ``rules/*.yaml`` (and ``cases/*.yaml``, read by cdss.testing).
After the schema, every check of the content runs in `cdss.packs.check` (located at file:line:col), the
same checks for the service as for `cdss pack validate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cdss.errors import EngineError, PackError, Problem, ProblemList, did_you_mean
from cdss.packs.cache import cached
from cdss.packs.catalogue import Catalogue, load_catalogue
from cdss.packs.check import check_pack, resolve_pack
from cdss.packs.check import walk_leaves as walk_leaves  # where it was first defined; used by engine and render
from cdss.packs.loader import YamlDoc, bundled_dir, read_yaml, validate
from cdss.packs.schema import (
    Derived,
    PackFile,
    Rule,
    RulesFile,
    Table,
    dump_for_hash,
)
from cdss.packs.tables import to_fact
from cdss.vocab.concepts import ConceptSet
from cdss.vocab.dictionary import ConceptsFile, ConceptsPart
from cdss.vocab.hashing import content_sha256
from cdss.vocab.model import Source

BUNDLED_CATALOGUE = "community-basic-2023"


@dataclass(frozen=True)
class PackRule:
    """A rule with its place in the pack: full id, origin file and line."""

    rule: Rule
    pack_id: str
    file: str
    line: int | None

    @property
    def full_id(self) -> str:
        return f"{self.pack_id}/{self.rule.then.kind}/{self.rule.id}"

    @property
    def kind(self) -> str:
        return self.rule.then.kind

    @property
    def urgency(self) -> str:
        return self.rule.then.urgency

    @property
    def disease(self) -> str | None:
        return self.rule.then.disease


@dataclass(frozen=True)
class Pack:
    """A checked rule pack at one version."""

    meta: PackFile
    rules: tuple[PackRule, ...]
    derived: tuple[Derived, ...]
    sha256: str
    path: Path | None = None
    warnings: tuple[Problem, ...] = ()  # doubtful but loadable, e.g. an unused definition (cdss.packs.v2)

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def status(self) -> str:
        return self.meta.status

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def source(self, source_id: str) -> Source:
        return next(s for s in self.meta.sources if s.id == source_id)


def load_concepts(folder: Path) -> ConceptSet:
    """Load the concept dictionary: `concepts.yaml` (metadata and base concepts) and every other YAML
    file of the folder (more concepts, by topic).

    Raises:
        PackError: schema problems or duplicate concept ids, in every file at once.
    """
    main_doc = read_yaml(folder / "concepts.yaml")
    model = validate(ConceptsFile, main_doc)
    problems = ProblemList()
    parts: list[tuple[YamlDoc, tuple]] = [(main_doc, model.concepts)]
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "concepts.yaml":
            doc = read_yaml(path)
            try:
                parts.append((doc, validate(ConceptsPart, doc).concepts))
            except PackError as exc:
                problems.extend(exc.problems)
    seen: dict[str, str] = {}
    merged = []
    for doc, concepts in parts:
        for i, concept in enumerate(concepts):
            if concept.id in seen:
                problems.problems.append(doc.problem(("concepts", i, "id"), f"duplicate concept id {concept.id!r} "
                                                     f"(first in {seen[concept.id]})", "duplicate-id"))
            seen.setdefault(concept.id, doc.shown)
            merged.append(concept)
    problems.raise_if_any()
    model = model.model_copy(update={"concepts": tuple(merged)})
    return ConceptSet.build(model, content_sha256(dump_for_hash(model)))


def load_pack(folder: Path, concepts: ConceptSet, catalogue: Catalogue | None = None) -> Pack:
    """Load and check one pack folder.

    Raises:
        PackError: every problem of every file of the pack, in file and line order.
    """
    meta_doc = read_yaml(folder / "pack.yaml")
    meta = validate(PackFile, meta_doc)
    problems = ProblemList()
    rules: list[PackRule] = []
    derived: list[Derived] = list(meta.derived)
    rule_files: list[tuple[YamlDoc, RulesFile]] = []
    tables: list[Table] = []
    rule_paths = sorted((folder / "rules").glob("*.yaml")) if (folder / "rules").is_dir() else []
    if not rule_paths:
        problems.add("a pack needs at least one rules/*.yaml file", "no-rules", file=meta_doc.shown)
    for path in rule_paths:
        doc = read_yaml(path)
        try:
            part = validate(RulesFile, doc)
        except PackError as exc:
            problems.extend(exc.problems)
            continue
        rule_files.append((doc, part))
    v2 = resolve_pack(meta, meta_doc, rule_files, concepts)  # text leaves, defaults, definitions (format v2)
    problems.extend(v2.problems)
    if meta_doc.shown in v2.failed_files:
        problems.raise_if_any()
    meta, rule_files = v2.meta, v2.rule_files
    derived = list(meta.derived)
    for doc, part in rule_files:
        derived.extend(part.derived)
        tables.extend(part.tables)
        for i, rule in enumerate(part.rules):
            line, _, _ = doc.position(("rules", i))
            rules.append(PackRule(rule, meta.id, doc.shown, line))
    problems.extend(check_pack(meta, meta_doc, rule_files, concepts, catalogue))
    problems.raise_if_any()
    derived.extend(to_fact(t) for t in tables)  # decision tables run as derived facts (cdss/packs/tables.py)
    named = [(doc.shown, dump_for_hash(part)["definitions"]) for doc, part in rule_files if part.definitions]
    digest = content_sha256(dump_for_hash(meta), [dump_for_hash(d) for d in derived],
                            [dump_for_hash(r.rule) for r in rules], *([named] if named else []))
    return Pack(meta=meta, rules=tuple(rules), derived=tuple(derived), sha256=digest, path=folder,
                warnings=tuple(v2.warnings))


@dataclass
class Registry:
    """Concepts, catalogue and every loaded pack version, with selection by pin."""

    concepts: ConceptSet
    catalogue: Catalogue | None
    packs: dict[str, dict[str, Pack]] = field(default_factory=dict)  # id -> version -> Pack
    # select() per pins since the last add: one evaluation per request selects once per pins
    _selections: dict[tuple[str, ...], tuple[Pack, ...]] = field(default_factory=dict, init=False, repr=False,
                                                                 compare=False)

    def add(self, pack: Pack) -> None:
        versions = self.packs.setdefault(pack.id, {})
        if pack.version in versions and versions[pack.version].sha256 != pack.sha256:
            raise PackError.one(f"{pack.key} is loaded twice with different content", "version-conflict",
                                file=str(pack.path), hint="give the changed pack a new version")
        versions[pack.version] = pack
        self._selections.clear()

    def versions(self, pack_id: str) -> list[Pack]:
        """All loaded versions of a pack, newest first."""
        return sorted(self.packs.get(pack_id, {}).values(), key=lambda p: _semver_key(p.version), reverse=True)

    def all(self) -> list[Pack]:
        return [p for pid in sorted(self.packs) for p in self.versions(pid)]

    def stamped(self, stamps: Iterable[Mapping[str, Any]]) -> list[Pack]:
        """The loaded packs of an evaluation's pack stamps (`{"id", "version"}`, as its JSON lists them), in
        their order; a version no longer loaded is left out."""
        return [p for stamp in stamps if (p := self.packs.get(stamp.get("id"), {}).get(stamp.get("version")))
                is not None]

    def select(self, pins: Sequence[str] = ()) -> tuple[Pack, ...]:
        """Packs to run: by default the newest active version of each pack; a pin `id` or `id@version`
        replaces the default of that id (and may select a draft), `id@version` must exist.

        Raises:
            EngineError: a pin names an unknown pack or version [unknown-pack].
        """
        kept = self._selections
        found = kept.get(tuple(pins))
        if found is not None:
            return found
        chosen: dict[str, Pack] = {}
        for pid in sorted(self.packs):
            active = [p for p in self.versions(pid) if p.status == "active"]
            if active:
                chosen[pid] = active[0]
        for pin in pins:
            pid, _, version = pin.partition("@")
            if pid not in self.packs:
                raise EngineError.one(f"unknown pack {pid!r}", "unknown-pack", field="pack", got=pin,
                                      hint=did_you_mean(pid, self.packs) or f"loaded: {', '.join(sorted(self.packs))}")
            if version:
                if version not in self.packs[pid]:
                    raise EngineError.one(
                        f"pack {pid!r} has no version {version!r}", "unknown-pack", field="pack", got=pin,
                        hint=f"loaded versions: {', '.join(p.version for p in self.versions(pid))}")
                chosen[pid] = self.packs[pid][version]
            else:
                chosen[pid] = self.versions(pid)[0]
        selected = tuple(chosen[k] for k in sorted(chosen))
        if len(kept) < 64:
            kept[tuple(pins)] = selected
        return selected


def _semver_key(version: str) -> tuple:
    core, _, pre = version.partition("-")
    return (*(int(x) for x in core.split(".")), pre == "", pre)


def pack_folders(root: Path) -> list[Path]:
    """Pack folders below `root` (each holds a pack.yaml), or `root` itself if it is one."""
    if (root / "pack.yaml").is_file():
        return [root]
    return sorted(p.parent for p in root.glob("*/pack.yaml"))


def load_registry(pack_dirs: Sequence[Path] = (), *, bundled: bool = True,
                  concepts_path: Path | None = None, catalogue_dir: Path | None = None) -> Registry:
    """Load concepts, the catalogue and packs: the bundled ones and those below `pack_dirs`.

    Raises:
        PackError: any pack, the catalogue or the concepts file is invalid (all problems at once).
    """
    concepts = load_concepts(concepts_path or bundled_dir("catalogue") / "concepts")
    cat_dir = catalogue_dir or bundled_dir("catalogue") / BUNDLED_CATALOGUE
    catalogue = load_catalogue(cat_dir) if (cat_dir / "pack.yaml").is_file() else None
    registry = Registry(concepts=concepts, catalogue=catalogue)
    folders = [*(pack_folders(bundled_dir("pathways")) if bundled else []),
               *(f for d in pack_dirs for f in pack_folders(Path(d)))]
    problems: list[Problem] = []
    for folder in folders:
        try:
            registry.add(load_pack(folder, concepts, catalogue))
        except PackError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PackError(problems)
    return registry


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The bundled registry, loaded once per process (from the pack cache when no file changed)."""
    return cached("registry", _bundled_inputs(), load_registry)


def _bundled_inputs() -> list[Path]:
    """Every file the bundled registry is built from (the key of the pack cache)."""
    catalogue = bundled_dir("catalogue")
    packs = [f for folder in pack_folders(bundled_dir("pathways"))
             for f in [folder / "pack.yaml", *sorted((folder / "rules").glob("*.yaml"))]]
    return [*sorted((catalogue / "concepts").glob("*.yaml")),
            *sorted(p for p in (catalogue / BUNDLED_CATALOGUE).rglob("*") if p.is_file()), *packs]
