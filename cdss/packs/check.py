"""Packs: every semantic check of a pack's content, in one place, located at file:line:col.

Run by `load_pack` (so by the service, `cdss evaluate --packs-dir` and `cdss pack validate` alike): the
service can never load a pack that the editor's tool refuses. After the schema, it checks that

* every concept and `has` name is declared (a concept of the dictionary or a derived fact of the pack),
  and is tested the right way (a comparison of a measured concept, the presence of a coded one)
  [unknown-concept, not-a-quantity, invalid-value];
* every rule and derived fact cites at least one source, and every citation names a listed source
  [missing-citation, unknown-source];
* rule ids and derived-fact ids are unique, and a derived fact does not hide a concept
  [duplicate-id, derived-shadows-concept]; derived facts do not depend on each other in a cycle
  [derived-cycle];
* decision tables (`tables:`) pass `cdss.packs.tables.check_table` (cells, units, hit policy, overlaps)
  and share the derived facts' ids and cycle check;
* `excludes` names rules of the pack, `then.disease` an entry of the catalogue, and declared
  `properties` concepts that exist [unknown-rule, unknown-disease, unknown-concept, not-a-quantity].

Before them, `resolve_pack` (`cdss.packs.v2`) turns format v2 into these models: text leaves parsed and their
units checked, `defaults` applied, `{use: NAME}` resolved, and definitions checked [invalid-leaf,
unit-missing, unit-refused, unknown-definition, duplicate-definition, definition-cycle; unused-definition
is a warning].

Checks of example cases and of version discipline are the editor's (`cdss.testing.validate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cdss.errors import Problem, ProblemList, did_you_mean
from cdss.packs.catalogue import Catalogue
from cdss.packs.loader import YamlDoc
from cdss.packs.safety_checks import check_rules
from cdss.packs.schema import AllOf, AnyOf, Citation, Condition, Derived, Leaf, NotOf, PackFile, Rule, RulesFile, Table
from cdss.packs.tables import check_table, to_fact
from cdss.packs.v2 import resolve_pack as resolve_pack
from cdss.vocab.concepts import ConceptSet

MEASURED = ("quantity", "demographic")


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


@dataclass(frozen=True)
class Placed:
    """An item of a pack file with where it stands: the file and its path in the file."""

    doc: YamlDoc
    loc: tuple

    def problem(self, sub: Sequence[str | int], message: str, code: str, **extra: object) -> Problem:
        return self.doc.problem((*self.loc, *sub), message, code, **extra)


def check_pack(meta: PackFile, meta_doc: YamlDoc, rule_files: Sequence[tuple[YamlDoc, RulesFile]],
               concepts: ConceptSet, catalogue: Catalogue | None) -> list[Problem]:
    """Every problem of a pack's content beyond its schema (see the module docstring), unordered."""
    derived = [(d, Placed(meta_doc, ("derived", i))) for i, d in enumerate(meta.derived)]
    derived += [(d, Placed(doc, ("derived", i))) for doc, part in rule_files for i, d in enumerate(part.derived)]
    rules = [(r, Placed(doc, ("rules", i))) for doc, part in rule_files for i, r in enumerate(part.rules)]
    tables = [(t, Placed(doc, ("tables", i))) for doc, part in rule_files for i, t in enumerate(part.tables)]
    check = _Checker(meta, concepts, catalogue, {d.id for d, _ in derived} | {t.id for t, _ in tables})
    for d, at in derived:
        check.derived(d, at)
    derived += check.tables(tables)  # decision tables (cdss/packs/tables.py) join the derived facts
    for rule, at in rules:
        check.rule(rule, at, {r.id for r, _ in rules})
    check.cycles(derived)
    safety = ProblemList()  # population scopes and `supersedes` (cdss/packs/safety_checks.py)
    check_rules(meta, [(r, at.doc, at.loc) for r, at in rules], concepts, safety)
    return [*check.problems, *safety.problems]


class _Checker:
    def __init__(self, meta: PackFile, concepts: ConceptSet, catalogue: Catalogue | None, derived_ids: set[str]):
        self.sources = {s.id for s in meta.sources}
        self.concepts = concepts
        self.catalogue = catalogue
        self.names = set(concepts.by_id) | derived_ids
        self.problems: list[Problem] = []
        self.rule_at: dict[str, str] = {}
        self.derived_at: dict[str, str] = {}

    def citations(self, citation: Citation | tuple[Citation, ...], at: Placed) -> None:
        if isinstance(citation, tuple) and not citation:
            self.problems.append(at.problem(("citation",), "no citation", "missing-citation",
                                            hint="cite at least one source listed in pack.yaml `sources`"))
            return
        items = citation if isinstance(citation, tuple) else (citation,)
        for j, cit in enumerate(items):
            if cit.source not in self.sources:
                hint = did_you_mean(cit.source, self.sources) or "list it under `sources` in pack.yaml"
                sub = ("citation",) if len(items) == 1 else ("citation", j)
                self.problems.append(at.problem((*sub, "source"), f"unknown source {cit.source!r}",
                                                "unknown-source", hint=hint))

    def condition(self, cond: Condition, at: Placed, loc: tuple) -> None:
        by_id = self.concepts.by_id
        for leaf, sub in walk_leaves(cond, loc):
            if leaf.concept is not None:
                if leaf.concept not in self.names:
                    self.problems.append(at.problem(
                        (*sub, "concept"), f"unknown concept {leaf.concept!r}", "unknown-concept",
                        hint=" ".join(filter(None, [did_you_mean(leaf.concept, self.names), "concepts are declared "
                                                    "in catalogue/concepts/ or in the pack's `derived`"]))))
                    continue
                concept = by_id.get(leaf.concept)
                if concept is not None and concept.kind not in MEASURED and leaf.stat != "count":
                    self.problems.append(at.problem(
                        (*sub, "concept"), f"{leaf.concept!r} is a coded concept ({concept.kind})",
                        "not-a-quantity", hint=f"test its presence with `has: {leaf.concept}`"))
                elif leaf.op in (">", ">=", "<", "<=") and isinstance(leaf.value, str):
                    self.problems.append(at.problem((*sub, "value"), "a comparison needs a number",
                                                    "invalid-value", got=leaf.value))
                elif concept is not None and concept.kind == "demographic" and isinstance(leaf.value, float) \
                        and not leaf.value.is_integer():
                    # ages count completed units: `age_years < 0.5` holds for every infant under 1
                    self.problems.append(at.problem(
                        (*sub, "value"), f"{leaf.concept!r} is a whole number ({concept.title.en}): a threshold "
                        f"of {leaf.value:g} decides as the whole number next to it would", "not-whole",
                        got=f"{leaf.value:g}", hint=concept.note or "use a whole number"))
            else:
                concept = by_id.get(leaf.has or "")
                if concept is None or concept.kind in MEASURED:
                    hint = (did_you_mean(leaf.has or "", [c.id for c in self.concepts.source.concepts
                                                          if c.kind not in MEASURED])
                            or "declare it in catalogue/concepts/")
                    what = "unknown coded concept" if concept is None else "a measured concept"
                    self.problems.append(at.problem((*sub, "has"), f"{what} {leaf.has!r}", "unknown-concept",
                                                    hint=hint))

    def derived_id(self, fact_id: str, at: Placed, noun: str) -> None:
        """A derived fact's or a decision table's id: unique among them, and not a concept's."""
        if fact_id in self.derived_at:
            self.problems.append(at.problem(("id",), f"duplicate derived fact id {fact_id!r} (first in "
                                            f"{self.derived_at[fact_id]})", "duplicate-id"))
        self.derived_at.setdefault(fact_id, at.doc.shown)
        if fact_id in self.concepts.by_id:
            self.problems.append(at.problem(("id",), f"{noun} {fact_id!r} has the id of a concept",
                                            "derived-shadows-concept", hint=f"rename the {noun}"))

    def derived(self, d: Derived, at: Placed) -> None:
        self.derived_id(d.id, at, "derived fact")
        self.citations(d.citation, at)
        for k, part in enumerate(d.parts):
            self.condition(part.when, at, ("parts", k, "when"))

    def tables(self, tables: Sequence[tuple[Table, Placed]]) -> list[tuple[Derived, Placed]]:
        """Check each decision table; the derived facts of those whose cells parse (for the cycle check)."""
        out: list[tuple[Derived, Placed]] = []
        for t, at in tables:
            self.derived_id(t.id, at, "table")
            self.citations(t.citation, at)
            found = check_table(t, at.problem, self.concepts, self.names - set(self.concepts.by_id))
            self.problems.extend(found)
            if t.id not in self.concepts.by_id and not any(p.code in ("table-cell", "table-shape") for p in found):
                out.append((to_fact(t), at))
        return out

    def rule(self, rule: Rule, at: Placed, slugs: set[str]) -> None:
        if rule.id in self.rule_at:
            self.problems.append(at.problem(("id",), f"duplicate rule id {rule.id!r} (first in "
                                            f"{self.rule_at[rule.id]})", "duplicate-id"))
        self.rule_at.setdefault(rule.id, at.doc.shown)
        self.citations(rule.citation, at)
        self.condition(rule.when, at, ("when",))
        for other in rule.excludes:
            if other not in slugs:
                self.problems.append(at.problem(("excludes",), f"unknown rule {other!r}", "unknown-rule",
                                                hint=did_you_mean(other, slugs)))
        disease = rule.then.disease
        if disease and self.catalogue is not None and self.catalogue.get(disease) is None:
            self.problems.append(at.problem(
                ("then", "disease"), f"unknown disease {disease!r}", "unknown-disease",
                hint=" ".join(filter(None, [did_you_mean(disease, self.catalogue.ids()),
                                            f"see `cdss catalogue search` (catalogue {self.catalogue.id})"]))))
        self.properties(rule, at)

    def properties(self, rule: Rule, at: Placed) -> None:
        by_id = self.concepts.by_id
        for j, spec in enumerate(rule.properties):
            named = [("monotone_increasing", spec.monotone_increasing),
                     ("monotone_decreasing", spec.monotone_decreasing),
                     ("requires_within_days", spec.requires_within_days[0] if spec.requires_within_days else None)]
            for key, concept in named:
                if concept is None:
                    continue
                sub = ("properties", j, key)
                if concept not in self.names:
                    self.problems.append(at.problem(sub, f"unknown concept {concept!r}", "unknown-concept",
                                                    hint=did_you_mean(concept, self.names)))
                elif key.startswith("monotone") and concept in by_id and by_id[concept].kind not in MEASURED:
                    self.problems.append(at.problem(sub, f"{concept!r} is a coded concept", "not-a-quantity",
                                                    hint="monotone properties need a measured concept"))

    def cycles(self, derived: Sequence[tuple[Derived, Placed]]) -> None:
        """Derived facts that depend on each other in a cycle: reported once, at the first of them."""
        first = {}
        for d, at in derived:
            first.setdefault(d.id, (d, at))
        state: dict[str, str] = {}  # id -> "visiting" | "done"

        def visit(d: Derived, path: tuple[str, ...]) -> tuple[str, ...] | None:
            state[d.id] = "visiting"
            for part in d.parts:
                for leaf, _ in walk_leaves(part.when):
                    dep = first.get(leaf.concept or "")
                    if dep is None:
                        continue
                    if state.get(dep[0].id) == "visiting":
                        return (*path, d.id, dep[0].id)
                    if dep[0].id not in state and (found := visit(dep[0], (*path, d.id))):
                        return found
            state[d.id] = "done"
            return None

        for d, at in first.values():
            if d.id not in state and (cycle := visit(d, ())):
                start = cycle.index(cycle[-1])
                self.problems.append(at.problem(("id",), "derived facts depend on each other in a cycle: "
                                                + " -> ".join(cycle[start:]), "derived-cycle"))
                return
