"""Packs: format v2 resolved into the models the engine runs (text leaves, `defaults`, `definitions`).

Run by the one check phase (`cdss.packs.check.resolve_pack`, called by `load_pack`, so by the service and
`cdss pack validate` alike), before the other checks:

* every text leaf is parsed (`cdss.packs.text_leaf`) and checked against the concepts: its unit converted
  to the concept's canonical unit or refused [invalid-leaf, unknown-concept, unit-missing, unit-refused];
* `defaults.within` of the rules file, else of pack.yaml, is applied to the text leaves it applies to
  (`text_leaf.defaults_apply`: measured quantities by latest/mean/min/max; never `has`, `count`,
  `days_since`, demographics, derived facts, nor mapping leaves);
* `{use: NAME}` is replaced by the definition's condition under its name (a `Defined` node: the trace shows
  the name). A rules file sees its own definitions and pack.yaml's; names are unique in the pack
  [unknown-definition, duplicate-definition, definition-cycle]; a definition no rule or definition uses is
  a warning [unused-definition]. A definition's text leaves take the defaults of the file it is written in.

A loaded pack holds Leaf, AllOf, AnyOf, NotOf and Defined nodes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cdss.errors import Problem, did_you_mean
from cdss.packs.loader import YamlDoc
from cdss.packs.schema import (
    SNAKE_ID,
    AllOf,
    AnyOf,
    Condition,
    Defaults,
    Defined,
    Derived,
    Leaf,
    NotOf,
    PackFile,
    RulesFile,
    Use,
)
from cdss.packs.text_leaf import LeafSyntaxError, parse, to_leaf
from cdss.vocab.concepts import ConceptSet


def within_days(defaults: Defaults | None) -> int | None | str:
    """Days of a `defaults.within` (`ever` -> None), or "unset" when not given."""
    if defaults is None or defaults.within is None:
        return "unset"
    if defaults.within == "ever":
        return None
    n, unit = defaults.within.split()
    return int(n) * (7 if unit.startswith("week") else 1)


def effective_within(pack: Defaults | None, file: Defaults | None) -> int | None:
    """The default window of a file's text leaves: the file's `within`, else the pack's."""
    own = within_days(file)
    if own != "unset":
        return own  # type: ignore[return-value]
    inherited = within_days(pack)
    return None if inherited == "unset" else inherited  # type: ignore[return-value]


@dataclass
class _Scope:
    doc: YamlDoc
    default_within: int | None
    names: dict[str, tuple[Condition, _Scope]]  # definitions visible here
    file_level: bool


@dataclass
class Resolved:
    """A pack's files with every v2 form resolved, and what was wrong (problems) or doubtful (warnings)."""

    meta: PackFile
    rule_files: list[tuple[YamlDoc, RulesFile]]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    failed_files: set[str] = field(default_factory=set)  # rules files left out because a v2 form failed


def _lines(path: Path) -> tuple[str, ...]:  # read again for each problem: problems are few
    try:
        return tuple(path.read_text(encoding="utf-8").splitlines())
    except OSError:
        return ()


def _scalar_at(doc: YamlDoc, loc: Sequence[str | int]) -> tuple[int | None, int | None, str]:
    """(line, col of the scalar's first character, field path) of the value at `loc`; lines from 1."""
    line, col, fld = doc.position(loc)
    node = doc.data
    pos = None
    for step in loc[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return line, col, fld
    last = loc[-1] if loc else None
    try:
        pos = node.lc.item(last) if isinstance(last, int) else node.lc.value(last)
    except (AttributeError, KeyError, TypeError, IndexError):
        pos = None
    if pos is None:
        return line, col, fld
    line, col = pos[0] + 1, pos[1] + 1
    text = _lines(doc.path)
    if 0 < line <= len(text) and col <= len(text[line - 1]) and text[line - 1][col - 1] in "\"'":
        col += 1  # a quoted scalar: columns count from its first character
    return line, col, fld


class _Resolver:
    def __init__(self, concepts: ConceptSet, derived: set[str]):
        self.concepts = dict(concepts.by_id)
        self.derived = derived
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.used: set[str] = set()
        self.done: dict[str, Condition | None] = {}
        self.visiting: list[str] = []
        self.cycle_reported = False
        self.failed = False

    def condition(self, cond: Condition, scope: _Scope, loc: tuple) -> Condition:
        if isinstance(cond, str):
            return self.text(cond, scope, loc)
        if isinstance(cond, Use):
            return self.use(cond, scope, loc)
        if isinstance(cond, NotOf):
            return cond.model_copy(update={"not_": self.condition(cond.not_, scope, (*loc, "not"))})
        if isinstance(cond, AnyOf):
            return cond.model_copy(update={"any": tuple(self.condition(c, scope, (*loc, "any", i))
                                                        for i, c in enumerate(cond.any))})
        if isinstance(cond, AllOf):
            return cond.model_copy(update={"all": tuple(self.condition(c, scope, (*loc, "all", i))
                                                        for i, c in enumerate(cond.all))})
        return cond

    def text(self, text: str, scope: _Scope, loc: tuple) -> Condition:
        try:
            return to_leaf(parse(text), self.concepts, self.derived, scope.default_within)
        except LeafSyntaxError as exc:
            line, col, fld = _scalar_at(scope.doc, loc)
            self.problems.append(Problem(exc.message, exc.code, file=scope.doc.shown, line=line,
                                         col=None if col is None else col + exc.col,
                                         field=f"{fld}.{exc.field}" if fld else exc.field, got=text, hint=exc.hint))
            self.failed = True
            return Leaf(has="_")  # a placeholder: the file is left out of the pack

    def use(self, ref: Use, scope: _Scope, loc: tuple) -> Condition:
        name = ref.use
        self.used.add(name)
        found = scope.names.get(name)
        if found is None:
            self.problems.append(scope.doc.problem((*loc, "use"), f"unknown definition {name!r}", "unknown-definition",
                                                   hint=did_you_mean(name, scope.names) or
                                                   "define it under `definitions:` in this file or in pack.yaml"))
            self.failed = True
            return Leaf(has="_")
        resolved = self.definition(name, *found)
        if resolved is None:
            self.failed = True
            return Leaf(has="_")
        return Defined(all=(resolved,), name=name)

    def definition(self, name: str, cond: Condition, scope: _Scope) -> Condition | None:
        if name in self.done:
            return self.done[name]
        if name in self.visiting:
            if not self.cycle_reported:
                cycle = [*self.visiting[self.visiting.index(name):], name]
                first = cycle[0]
                at = scope.names[first][1]
                self.problems.append(at.doc.problem(("definitions", first), "definitions use each other in a "
                                                    "cycle: " + " -> ".join(cycle), "definition-cycle"))
                self.cycle_reported = True
            return None
        self.visiting.append(name)
        before = len(self.problems)
        resolved = self.condition(cond, scope, ("definitions", name))
        self.visiting.pop()
        self.done[name] = resolved if len(self.problems) == before else None
        return self.done[name]

    def derived_fact(self, d: Derived, scope: _Scope, loc: tuple) -> Derived:
        parts = tuple(p.model_copy(update={"when": self.condition(p.when, scope, (*loc, "parts", k, "when"))})
                      if p.when is not None else p for k, p in enumerate(d.parts))
        return d.model_copy(update={"parts": parts})


def resolve_pack(meta: PackFile, meta_doc: YamlDoc, rule_files: Sequence[tuple[YamlDoc, RulesFile]],
                 concepts: ConceptSet) -> Resolved:
    """Resolve every v2 form of a pack (see the module docstring). A rules file where one fails is left out
    of `rule_files` (its problems are reported), as a file whose schema fails is."""
    derived_ids = ({d.id for d in meta.derived} | {d.id for _, f in rule_files for d in f.derived}
                   | {t.id for _, f in rule_files for t in f.tables})  # decision tables are derived facts too
    r = _Resolver(concepts, derived_ids)
    out = Resolved(meta, [])
    pack_names: dict[str, tuple[Condition, _Scope]] = {}
    pack_scope = _Scope(meta_doc, effective_within(meta.defaults, None), pack_names, False)
    where: dict[str, str] = {}

    def declare(names: dict[str, tuple[Condition, _Scope]], defs: dict[str, Condition], scope: _Scope) -> None:
        for name, cond in defs.items():
            if not SNAKE_ID.match(name):
                r.problems.append(scope.doc.problem(("definitions", name), f"definition name {name!r} is not "
                                                    "snake_case", "invalid-value",
                                                    hint="names are lowercase letters, digits and _"))
            if name in where:
                r.problems.append(scope.doc.problem(("definitions", name), f"duplicate definition {name!r} (first "
                                                    f"in {where[name]})", "duplicate-definition",
                                                    hint="definition names are unique in the pack"))
                continue
            where[name] = scope.doc.shown
            names[name] = (cond, scope)

    declare(pack_names, meta.definitions, pack_scope)
    scopes = []
    for doc, part in rule_files:
        names = dict(pack_names)
        scope = _Scope(doc, effective_within(meta.defaults, part.defaults), names, True)
        declare(names, part.definitions, scope)
        scopes.append(scope)

    # pack.yaml: its derived facts and definitions
    r.failed = False
    meta_derived = tuple(r.derived_fact(d, pack_scope, ("derived", i)) for i, d in enumerate(meta.derived))
    for name in meta.definitions:
        if name in pack_names and pack_names[name][1] is pack_scope:
            r.definition(name, *pack_names[name])
    meta_failed = r.failed
    out.meta = meta.model_copy(update={"derived": meta_derived})
    for (doc, part), scope in zip(rule_files, scopes, strict=True):
        r.failed = False
        for name in part.definitions:
            if name in scope.names and scope.names[name][1] is scope:
                r.definition(name, *scope.names[name])
        derived = tuple(r.derived_fact(d, scope, ("derived", i)) for i, d in enumerate(part.derived))
        rules = tuple(rule.model_copy(update={"when": r.condition(rule.when, scope, ("rules", i, "when"))})
                      for i, rule in enumerate(part.rules))
        if r.failed:
            out.failed_files.add(doc.shown)
            continue
        out.rule_files.append((doc, part.model_copy(update={"derived": derived, "rules": rules})))
    for name, (_, scope) in sorted(pack_names.items()) + sorted(
            (n, v) for s in scopes for n, v in s.names.items() if v[1] is s):
        if name not in r.used and scope.names.get(name, (None, None))[1] is scope:
            r.warnings.append(scope.doc.problem(("definitions", name), f"definition {name!r} is never used",
                                                "unused-definition", hint="use it as `{use: " + name + "}` or "
                                                "remove it"))
    if meta_failed:
        out.failed_files.add(meta_doc.shown)
    out.problems, out.warnings = r.problems, r.warnings
    return out
