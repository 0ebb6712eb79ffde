"""Packs: load and check rule packs, keep versions side by side, pin them, hash their content.

A pack is a folder: ``pack.yaml`` and ``rules/*.yaml`` (and ``cases/*.yaml``, read by cdss.testing).
Checks beyond the schema, all located at file:line:col: every concept and `has` name is declared (or a
derived fact of the pack), every citation names a listed source, rule ids are unique, `excludes` point at
rules of the pack, and every disease is in the catalogue.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cdss.errors import EngineError, PackError, Problem, ProblemList, did_you_mean
from cdss.intake.concepts import ConceptSet
from cdss.packs.catalogue import Catalogue, load_catalogue
from cdss.packs.loader import YamlDoc, read_yaml, validate
from cdss.packs.safety_checks import check_rules
from cdss.packs.schema import (
    AllOf,
    AnyOf,
    ConceptsFile,
    ConceptsPart,
    Condition,
    Derived,
    Leaf,
    NotOf,
    PackFile,
    Rule,
    RulesFile,
    Source,
    dump_for_hash,
)

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


def walk_leaves(cond: Condition, loc: tuple = ()) -> Iterator[tuple[Leaf, tuple]]:
    """Every leaf of a condition tree with its location (for error positions)."""
    if isinstance(cond, AllOf):
        for i, c in enumerate(cond.all):
            yield from walk_leaves(c, (*loc, "all", i))
    elif isinstance(cond, AnyOf):
        for i, c in enumerate(cond.any):
            yield from walk_leaves(c, (*loc, "any", i))
    elif isinstance(cond, NotOf):
        yield from walk_leaves(cond.not_, (*loc, "not"))
    else:
        yield cond, loc


def _hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


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
    return ConceptSet.build(model, _hash(dump_for_hash(model)))


def load_pack(folder: Path, concepts: ConceptSet, catalogue: Catalogue | None = None) -> Pack:
    """Load and check one pack folder.

    Raises:
        PackError: every problem of every file of the pack, in file and line order.
    """
    meta_doc = read_yaml(folder / "pack.yaml")
    meta = validate(PackFile, meta_doc)
    problems = ProblemList()
    rules: list[PackRule] = []
    derived: list[tuple[Derived, YamlDoc, tuple]] = [(d, meta_doc, ("derived", i)) for i, d in
                                                    enumerate(meta.derived)]
    rule_docs: list[tuple[Rule, YamlDoc, tuple]] = []
    rule_files = sorted((folder / "rules").glob("*.yaml")) if (folder / "rules").is_dir() else []
    if not rule_files:
        problems.add("a pack needs at least one rules/*.yaml file", "no-rules", file=meta_doc.shown)
    for path in rule_files:
        doc = read_yaml(path)
        try:
            part = validate(RulesFile, doc)
        except PackError as exc:
            problems.extend(exc.problems)
            continue
        derived.extend((d, doc, ("derived", i)) for i, d in enumerate(part.derived))
        for i, rule in enumerate(part.rules):
            rule_docs.append((rule, doc, ("rules", i)))
            line, _, _ = doc.position(("rules", i))
            rules.append(PackRule(rule, meta.id, doc.shown, line))

    source_ids = {s.id for s in meta.sources}
    derived_ids = {d.id for d, _, _ in derived}
    names = set(concepts.by_id) | derived_ids

    def check_citations(citations: Iterable, doc: YamlDoc, loc: tuple) -> None:
        for j, cit in enumerate(citations):
            if cit.source not in source_ids:
                hint = did_you_mean(cit.source, source_ids) or "list it under `sources` in pack.yaml"
                sub = (*loc, "citation") if isinstance(citations, tuple) and len(citations) == 1 else \
                    (*loc, "citation", j)
                problems.problems.append(doc.problem((*sub, "source"), f"unknown source {cit.source!r}",
                                                     "unknown-source", hint=hint))

    def check_condition(cond: Condition, doc: YamlDoc, loc: tuple) -> None:
        for leaf, sub in walk_leaves(cond, loc):
            if leaf.concept is not None:
                if leaf.concept not in names:
                    problems.problems.append(doc.problem(
                        (*sub, "concept"), f"unknown concept {leaf.concept!r}", "unknown-concept",
                        hint=" ".join(filter(None, [did_you_mean(leaf.concept, names), "concepts are declared in "
                                                    "catalogue/concepts/ or in the pack's `derived`"]))))
                    continue
                concept = concepts.by_id.get(leaf.concept)
                if concept is not None and concept.kind not in ("quantity", "demographic"):
                    problems.problems.append(doc.problem(
                        (*sub, "concept"), f"{leaf.concept!r} is a coded concept ({concept.kind})",
                        "not-a-quantity", hint=f"test its presence with `has: {leaf.concept}`"))
                elif leaf.op in (">", ">=", "<", "<=") and isinstance(leaf.value, str):
                    problems.problems.append(doc.problem((*sub, "value"), "a comparison needs a number",
                                                         "invalid-value", got=leaf.value))
            else:
                concept = concepts.by_id.get(leaf.has or "")
                if concept is None or concept.kind in ("quantity", "demographic"):
                    hint = (did_you_mean(leaf.has or "", [c.id for c in concepts.source.concepts
                                                          if c.kind not in ("quantity", "demographic")])
                            or "declare it in catalogue/concepts/")
                    what = "unknown coded concept" if concept is None else "a measured concept"
                    problems.problems.append(doc.problem((*sub, "has"), f"{what} {leaf.has!r}",
                                                         "unknown-concept", hint=hint))

    for d, doc, loc in derived:
        check_citations(d.citation if isinstance(d.citation, tuple) else (d.citation,), doc, loc)
        for k, part in enumerate(d.parts):
            check_condition(part.when, doc, (*loc, "parts", k, "when"))
    seen: dict[str, str] = {}
    slugs = {r.id for r, _, _ in rule_docs}
    for rule, doc, loc in rule_docs:
        if rule.id in seen:
            problems.problems.append(doc.problem((*loc, "id"), f"duplicate rule id {rule.id!r} (first in "
                                                 f"{seen[rule.id]})", "duplicate-id"))
        seen.setdefault(rule.id, doc.shown)
        check_citations(rule.citation, doc, loc)
        check_condition(rule.when, doc, (*loc, "when"))
        for other in rule.excludes:
            if other not in slugs:
                problems.problems.append(doc.problem((*loc, "excludes"), f"unknown rule {other!r}",
                                                     "unknown-rule", hint=did_you_mean(other, slugs)))
        disease = rule.then.disease
        if disease and catalogue is not None and catalogue.get(disease) is None:
            problems.problems.append(doc.problem(
                (*loc, "then", "disease"), f"unknown disease {disease!r}", "unknown-disease",
                hint=" ".join(filter(None, [did_you_mean(disease, catalogue.ids()),
                                            f"see `cdss catalogue search` (catalogue {catalogue.id})"]))))
    check_rules(meta, rule_docs, concepts, problems)
    problems.raise_if_any()
    digest = _hash(dump_for_hash(meta), [dump_for_hash(d) for d, _, _ in derived],
                   [dump_for_hash(r) for r, _, _ in rule_docs])
    return Pack(meta=meta, rules=tuple(rules), derived=tuple(d for d, _, _ in derived), sha256=digest,
                path=folder)


@dataclass
class Registry:
    """Concepts, catalogue and every loaded pack version, with selection by pin."""

    concepts: ConceptSet
    catalogue: Catalogue | None
    packs: dict[str, dict[str, Pack]] = field(default_factory=dict)  # id -> version -> Pack

    def add(self, pack: Pack) -> None:
        versions = self.packs.setdefault(pack.id, {})
        if pack.version in versions and versions[pack.version].sha256 != pack.sha256:
            raise PackError.one(f"{pack.key} is loaded twice with different content", "version-conflict",
                                file=str(pack.path), hint="give the changed pack a new version")
        versions[pack.version] = pack

    def versions(self, pack_id: str) -> list[Pack]:
        """All loaded versions of a pack, newest first."""
        return sorted(self.packs.get(pack_id, {}).values(), key=lambda p: _semver_key(p.version), reverse=True)

    def all(self) -> list[Pack]:
        return [p for pid in sorted(self.packs) for p in self.versions(pid)]

    def select(self, pins: Sequence[str] = ()) -> tuple[Pack, ...]:
        """Packs to run: by default the newest active version of each pack; a pin `id` or `id@version`
        replaces the default of that id (and may select a draft), `id@version` must exist.

        Raises:
            EngineError: a pin names an unknown pack or version [unknown-pack].
        """
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
        return tuple(chosen[k] for k in sorted(chosen))


def _semver_key(version: str) -> tuple:
    core, _, pre = version.partition("-")
    return (*(int(x) for x in core.split(".")), pre == "", pre)


def bundled_dir(package: str) -> Path:
    """The folder of a data package shipped with cdss (catalogue/ or pathways/)."""
    return Path(str(importlib.resources.files(package)))


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
    """The bundled registry, loaded once per process."""
    return load_registry()
