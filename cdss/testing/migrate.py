"""Editor toolkit: `cdss pack migrate`: a pack in format v1 rewritten in format v2, its behaviour proved
unchanged.

What changes: every condition leaf written as a mapping (`{concept: hba1c, op: ">=", value: 7,
within_days: 90}`) becomes a text leaf (`hba1c >= 7 % within 90 days`, `cdss.packs.text_leaf.render`);
in a rules file whose leaves are all mappings, the most common `within_days` of the leaves that defaults
apply to (at least 3 of them, and more than those without a window) is hoisted to `defaults: {within: N
days}`, and those leaves no longer say it (the others say their own window, or `ever`). The minor version
is bumped (1.2.0 -> 1.3.0) when anything changed. Publishing is left to the editor: `cdss pack publish`.

How: ruamel's round-trip dump re-flows long lines and quoted text, so the files are not dumped; ruamel's
composer gives each node's exact span in the file, and only the spans of leaves (and of `version`) are
replaced. Comments, key order, quoting and line breaks elsewhere stay byte for byte. The output depends
only on the input files and the concept dictionary: running it twice gives the same bytes, and a second run
finds nothing to change.

The proof, before anything is written: the migrated pack (in a temporary copy) must load, its rules,
derived facts and pack metadata (but the version) must dump to the same data, its compiled tests and
condition trees (`cdss.engine.compile`) must be equal, and every example case must give the same result as
before (the same failures, if any, and the same evaluation JSON but for pack versions and hashes).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdss.engine.compile import compile_pack
from cdss.errors import PackError, Problem
from cdss.packs.loader import display_path
from cdss.packs.registry import Pack, Registry, load_pack
from cdss.packs.schema import Leaf, dump_for_hash
from cdss.packs.text_leaf import days_text, defaults_apply, render
from cdss.packs.v2 import effective_within
from cdss.testing.cases import run_pack_cases
from cdss.vocab.dictionary import Concept

HOIST_MIN = 3  # leaves sharing a window before it is worth a `defaults:` line
_PLAIN = re.compile(r"[a-z][A-Za-z0-9_ ./%°*^>=<!-]*\Z")  # a text leaf that YAML reads as itself, unquoted


@dataclass
class FileEdit:
    path: Path
    before: str
    after: str


@dataclass
class Migration:
    """The outcome of migrating one pack: the edits, the version change, and what differs (nothing, or the
    migration is refused)."""

    folder: Path
    edits: list[FileEdit] = field(default_factory=list)
    version: tuple[str, str] | None = None
    differences: list[str] = field(default_factory=list)
    cases: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.edits)

    @property
    def ok(self) -> bool:
        return not self.differences


# --- rewriting one file --------------------------------------------------------------------------------------

def _compose(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").compose(text)


def _pairs(node: Any) -> list[tuple[str, Any]]:
    from ruamel.yaml.nodes import MappingNode

    if not isinstance(node, MappingNode):
        return []
    return [(k.value, v) for k, v in node.value if hasattr(k, "value") and isinstance(k.value, str)]


def _get(node: Any, key: str) -> Any:
    return next((v for k, v in _pairs(node) if k == key), None)


def _items(node: Any) -> list[Any]:
    from ruamel.yaml.nodes import SequenceNode

    return list(node.value) if isinstance(node, SequenceNode) else []


@dataclass
class _LeafSpot:
    node: Any
    in_flow: bool
    leaf: Leaf | None = None


def _conditions(root: Any) -> list[tuple[Any, bool]]:
    """Condition nodes of a pack file, each with whether it stands in a flow collection: rules[*].when,
    derived[*].parts[*].when, definitions.*."""
    out = []
    for rule in _items(_get(root, "rules")):
        if (when := _get(rule, "when")) is not None:
            out.append((when, bool(rule.flow_style)))
    for derived in _items(_get(root, "derived")):
        for part in _items(_get(derived, "parts")):
            if (when := _get(part, "when")) is not None:
                out.append((when, bool(part.flow_style or derived.flow_style)))
    definitions = _get(root, "definitions")
    out += [(v, bool(definitions.flow_style)) for _, v in _pairs(definitions)]
    return out


def _leaf_spots(cond: Any, in_flow: bool, out: list[_LeafSpot], texts: list[Any]) -> None:
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if isinstance(cond, ScalarNode):
        texts.append(cond)
        return
    if not isinstance(cond, MappingNode):
        return
    flow = in_flow or bool(cond.flow_style)
    keys = dict(_pairs(cond))
    for form in ("all", "any"):
        if form in keys:
            seq = keys[form]
            for item in _items(seq):
                _leaf_spots(item, flow or bool(seq.flow_style), out, texts)
            return
    if "not" in keys:
        _leaf_spots(keys["not"], flow, out, texts)
        return
    if "use" in keys:
        return
    out.append(_LeafSpot(cond, in_flow))


def _end(node: Any) -> int:
    """Where a node's text ends: a block mapping's end mark runs on to the next token, so take its last
    value's end instead."""
    from ruamel.yaml.nodes import MappingNode

    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        return _end(node.value[-1][1])
    return node.end_mark.index


def _quoted(text: str, in_flow: bool) -> str:
    if not in_flow and _PLAIN.match(text) and " #" not in text and ": " not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _leaf_of(node: Any, text: str) -> Leaf:
    from ruamel.yaml import YAML

    return Leaf.model_validate(YAML(typ="rt").load(_node_text(node, text)))


def _node_text(node: Any, text: str) -> str:
    """The source of a leaf node, as a YAML document of its own (a block mapping is dedented)."""
    source = text[node.start_mark.index:_end(node)]
    if node.flow_style:
        return source
    pad = " " * node.start_mark.column
    return "\n".join(line.removeprefix(pad) if i else line for i, line in enumerate(source.splitlines()))


def _hoist(spots: list[_LeafSpot], concepts: dict[str, Concept]) -> int | None:
    windows = Counter(s.leaf.within_days for s in spots
                      if s.leaf is not None and s.leaf.concept is not None
                      and defaults_apply(concepts.get(s.leaf.concept), s.leaf.stat))
    best = sorted(((n, w) for w, n in windows.items() if w is not None), key=lambda t: (-t[0], t[1]))
    if not best:
        return None
    count, within = best[0]
    return within if count >= HOIST_MIN and count > windows.get(None, 0) else None


def rewrite(text: str, concepts: dict[str, Concept], pack_default: int | None, *, may_hoist: bool) -> str:
    """One pack file's text with its mapping leaves written as text leaves (see the module docstring).

    Raises:
        ValueError: a leaf cannot be written as text (a value holding a double quote).
    """
    root = _compose(text)
    if root is None:
        return text
    spots: list[_LeafSpot] = []
    texts: list[Any] = []
    for cond, in_flow in _conditions(root):
        _leaf_spots(cond, in_flow, spots, texts)
    if not spots:
        return text
    for spot in spots:
        spot.leaf = _leaf_of(spot.node, text)
    hoisted = None
    if may_hoist and not texts and _get(root, "defaults") is None:
        hoisted = _hoist(spots, concepts)
    default = hoisted if hoisted is not None else pack_default
    out = text
    for spot in sorted(spots, key=lambda s: s.node.start_mark.index, reverse=True):
        start, end = spot.node.start_mark.index, _end(spot.node)
        out = out[:start] + _quoted(render(spot.leaf, concepts, default), spot.in_flow) + out[end:]  # type: ignore[arg-type]
    if hoisted is not None:
        first_key = root.value[0][0].start_mark
        at = first_key.index - first_key.column
        window = days_text(hoisted)
        out = (out[:at] + f"# Format v2: text leaves comparing a measured quantity are `within {window}` unless they "
               "say otherwise.\n"
               f"defaults: {{within: {window}}}\n" + out[at:])
    return out


def bump_minor(text: str) -> tuple[str, str, str]:
    """pack.yaml's text with its minor version bumped: (new text, old version, new version)."""
    root = _compose(text)
    node = _get(root, "version")
    old = str(node.value)
    major, minor, _ = (int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", old).groups())  # type: ignore[union-attr]
    new = f"{major}.{minor + 1}.0"
    start, end = node.start_mark.index, node.end_mark.index
    quote = text[start] if text[start] in "\"'" else ""
    return text[:start] + f"{quote}{new}{quote}" + text[end:], old, new


def convert(folder: Path, registry: Registry) -> tuple[dict[Path, str], tuple[str, str] | None]:
    """New texts of the pack's files that change (the version not yet bumped), and the version change that
    goes with them (None when nothing changes)."""
    from cdss.packs.loader import read_yaml, validate
    from cdss.packs.schema import PackFile

    concepts = dict(registry.concepts.by_id)
    meta = validate(PackFile, read_yaml(folder / "pack.yaml"))
    pack_default = effective_within(meta.defaults, None)
    out: dict[Path, str] = {}
    for path in [folder / "pack.yaml", *sorted((folder / "rules").glob("*.yaml"))]:
        before = path.read_text(encoding="utf-8")
        after = rewrite(before, concepts, pack_default, may_hoist=path.name != "pack.yaml" or path.parent != folder)
        if after != before:
            out[path] = after
    return out, None if not out else _bumped_version(folder / "pack.yaml")


def _bumped_version(meta_path: Path) -> tuple[str, str]:
    _, old, new = bump_minor(meta_path.read_text(encoding="utf-8"))
    return old, new


# --- the proof --------------------------------------------------------------------------------------------------

def _compiled(pack: Pack) -> Any:
    cp = compile_pack(pack)
    return ([(c.key, c.stage, c.derived, c.leaf) for c in cp.leaves], cp.rule_trees, cp.part_trees,
            [d.id for d in cp.derived_order])


def _content(pack: Pack) -> Any:
    return (dump_for_hash(pack.meta), [dump_for_hash(d) for d in pack.derived],
            [(r.full_id, dump_for_hash(r.rule)) for r in pack.rules])


def _case_results(pack: Pack, registry: Registry) -> list[tuple[str, tuple[str, ...], str]]:
    return [(r.case.id, r.failures,
             json.dumps(r.result.model_dump(mode="json") if r.result else None, ensure_ascii=False,
                        sort_keys=True, default=str))
            for r in run_pack_cases(pack, registry)]


def migrate(folder: Path, registry: Registry) -> Migration:
    """Migrate one pack in memory and prove it (see the module docstring); nothing is written.

    Raises:
        PackError: the pack does not load as it is, or the migrated copy does not load.
    """
    before = load_pack(folder, registry.concepts, registry.catalogue)
    texts, version = convert(folder, registry)
    result = Migration(folder, version=version)
    if not texts:
        return result
    with tempfile.TemporaryDirectory(prefix="cdss-migrate-") as tmp:
        copy = Path(tmp) / folder.resolve().name
        shutil.copytree(folder, copy)
        for path, text in texts.items():
            (copy / path.relative_to(folder)).write_text(text, encoding="utf-8")
        try:  # the proof runs at the old version, so that every id and hash of an evaluation can be compared
            after = load_pack(copy, registry.concepts, registry.catalogue)
        except PackError as exc:
            result.differences += [f"the migrated pack does not load: {p}" for p in exc.problems]
            return result
        if _content(after) != _content(before) or after.sha256 != before.sha256:
            result.differences.append("the migrated rules, derived facts or pack metadata differ from the original "
                                      f"(content hash {after.sha256[:12]} instead of {before.sha256[:12]})")
        if _compiled(after) != _compiled(before):
            result.differences.append("the compiled tests or condition trees differ from the original")
        old_cases, new_cases = _case_results(before, registry), _case_results(after, registry)
        result.cases = len(old_cases)
        for (cid, old_f, old_j), (_, new_f, new_j) in zip(old_cases, new_cases, strict=True):
            if old_f != new_f or old_j != new_j:
                result.differences.append(f"example case {cid!r} gives a different result after migration")
        failing = [cid for cid, f, _ in new_cases if f]
        if failing:
            result.differences.append(f"example cases fail (before and after): {', '.join(failing)}")
    meta_path = folder / "pack.yaml"
    texts[meta_path] = bump_minor(texts.get(meta_path, meta_path.read_text(encoding="utf-8")))[0]
    result.edits = [FileEdit(p, p.read_text(encoding="utf-8"), t) for p, t in sorted(texts.items())]
    return result


def write(migration: Migration) -> None:
    """Write a proved migration's files.

    Raises:
        PackError: the migration is not proved [migration-differs].
    """
    if not migration.ok:
        shown = display_path(migration.folder)
        raise PackError([Problem(d, "migration-differs", file=shown, hint="nothing was written; report it")
                         for d in migration.differences])
    for edit in migration.edits:
        edit.path.write_text(edit.after, encoding="utf-8")
