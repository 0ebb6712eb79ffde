"""Packs: load-time safety checks of a pack's rules, located at file:line:col.

* ``missing-scope``: a `treatment` or `medication` rule has no population scope (neither its own
  `population` nor the pack's default);
* ``bad-supersedes``: a `supersedes` entry is not `kind/slug` or `pack-id/kind/slug`, or names a rule of
  this pack that does not exist, or the rule itself;
* ``unknown-concept``: a `then.advises` entry is not a medication concept.

Cross-pack `supersedes` targets are resolved when packs run together (a target that is not loaded simply
never fires); `cdss pack test` reports one that no loaded pack defines.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdss.errors import ProblemList, did_you_mean
from cdss.packs.loader import YamlDoc
from cdss.packs.schema import PACK_ID, SLUG, Kind, PackFile, Rule
from cdss.packs.scope import SCOPED_KINDS
from cdss.vocab.concepts import ConceptSet

KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]


def split_target(target: str, own_pack: str) -> tuple[str, str, str] | None:
    """`kind/slug` or `pack-id/kind/slug` -> (pack-id, kind, slug); None when malformed."""
    parts = target.split("/")
    if len(parts) == 2:
        parts = [own_pack, *parts]
    if len(parts) != 3:
        return None
    pack, kind, slug = parts
    if not PACK_ID.match(pack) or kind not in KINDS or not SLUG.match(slug):
        return None
    return pack, kind, slug


def check_rules(meta: PackFile, rule_docs: Sequence[tuple[Rule, YamlDoc, tuple]], concepts: ConceptSet,
                problems: ProblemList) -> None:
    """Add the safety problems of a pack's rules to `problems`."""
    local = {f"{r.then.kind}/{r.id}" for r, _, _ in rule_docs}
    drugs = [c.id for c in concepts.source.concepts if c.kind == "medication"]
    for rule, doc, loc in rule_docs:
        if rule.then.kind in SCOPED_KINDS and rule.population is None and meta.population is None:
            problems.problems.append(doc.problem(
                (*loc, "then", "kind"), f"a {rule.then.kind} rule needs a population scope", "missing-scope",
                hint="add `population:` to the rule (or a default to pack.yaml), e.g. "
                     "`population: {age_years: {min: 18}, pregnant: exclude}`"))
        for j, target in enumerate(rule.supersedes):
            where = (*loc, "supersedes", j)
            parsed = split_target(target, meta.id)
            if parsed is None:
                problems.problems.append(doc.problem(where, f"malformed rule reference {target!r}",
                                                     "bad-supersedes",
                                                     expected="kind/slug or pack-id/kind/slug"))
                continue
            pack, kind, slug = parsed
            if pack == meta.id and f"{kind}/{slug}" not in local:
                problems.problems.append(doc.problem(where, f"unknown rule {target!r} in this pack",
                                                     "bad-supersedes",
                                                     hint=did_you_mean(f"{kind}/{slug}", local)))
            elif pack == meta.id and (kind, slug) == (rule.then.kind, rule.id):
                problems.problems.append(doc.problem(where, "a rule cannot supersede itself", "bad-supersedes"))
        for j, drug in enumerate(rule.then.advises):
            concept = concepts.by_id.get(drug)
            if concept is None or concept.kind != "medication":
                problems.problems.append(doc.problem(
                    (*loc, "then", "advises", j), f"{drug!r} is not a medication concept", "unknown-concept",
                    hint=did_you_mean(drug, drugs) or "declare it in catalogue/concepts/ (kind: medication)"))
