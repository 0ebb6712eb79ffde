"""Render: rule conditions in words, Chinese first, English beside, for the rationale of every output.

A leaf such as ``<concept> latest >= <value> (within 1 d)`` reads "<名称> ≥ <value> <单位>（1 天内）/ <name> ≥
<value> <unit> within 1 day"; ``has <concept>`` reads "有：<名称> / has: <name>"; a derived fact (a score, a
grade) is named by its title. The names and units come from the concept dictionary and the packs' derived
facts; the words around them from `cdss.render.wording`. Decides nothing.

Two entry points:

* :meth:`Wording.tree` phrases a pack rule's condition (the schema's `all`/`any`/`not`/leaf tree), for the
  panel's pack pages;
* :meth:`Wording.words` phrases one node of an evaluated rationale (``ConditionTrace.text``, the leaf's
  formula as the engine wrote it), for the panel's rationale, the text output and the CDS Hooks card detail.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdss.engine.compile import describe
from cdss.packs.registry import Pack, Registry, default_registry, walk_leaves
from cdss.packs.schema import AllOf, AnyOf, Condition, Leaf, NotOf
from cdss.render import wording as W
from cdss.vocab.locks import module_lock

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Phrase:
    """One text in Chinese and in English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    @property
    def both(self) -> str:
        """`中文 / English` (Chinese first)."""
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class Name:
    """What a leaf tests, by name: a concept or a derived fact, with its unit as written."""

    zh: str
    en: str
    unit: Phrase = Phrase("", "")


@dataclass(frozen=True)
class ConditionWords:
    """A condition tree in words: `op` is all / any / not (with `items`) or leaf (with `formula`)."""

    op: str
    words: Phrase
    formula: str = ""
    items: tuple[ConditionWords, ...] = field(default=())
    definition: str | None = None  # the named definition the node stands for (pack format v2), if any


def _fill(key: str, lang: str, **marks: str) -> str:
    if lang == "en" and key != "latest" and "subject" in marks:
        marks["subject"] = _mid(marks["subject"])
    return W.PHRASES[key][lang].format(**marks)


def _mid(name: str) -> str:
    """An English name inside a phrase: `Systolic blood pressure` -> `systolic ...`; `PHQ-9`, `eGFR` stay."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[0].isupper() and name[1].islower() else name


def unit_phrase(ucum: str | None) -> Phrase:
    """A canonical UCUM unit as a reader writes it (`mm[Hg]` -> mmHg, `/min` -> 次/分 / /min)."""
    if not ucum:
        return Phrase("", "")
    known = W.UNITS.get(ucum)
    if known is not None:
        return Phrase(known["zh"], known["en"])
    plain = "".join(ch for ch in ucum if ch not in "[]")  # mm[Hg] -> mmHg, the fallback for a new unit
    return Phrase(plain, plain)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _value(value: Any, lang: str) -> str:
    if isinstance(value, str):
        return W.VALUES.get(value, {}).get(lang, value)
    return _number(value)


class Wording:
    """Phrases conditions with the names of one concept dictionary and the derived facts of some packs."""

    def __init__(self, names: Mapping[str, Name], leaves: Iterable[Leaf] = ()):
        self._names = dict(names)
        self._formulas: dict[str, Leaf] = {}
        for leaf in leaves:
            self._formulas.setdefault(describe(leaf), leaf)

    @classmethod
    def of(cls, registry: Registry, packs: Iterable[Pack] | None = None) -> Wording:
        """The wording of a registry: its concepts, and the derived facts and leaves of `packs` (default:
        every loaded pack version)."""
        chosen = list(registry.all() if packs is None else packs)
        names = {cid: Name(c.title.zh, c.title.en, unit_phrase(c.unit)) for cid, c in registry.concepts.by_id.items()}
        for pack in chosen:
            for d in pack.derived:
                names.setdefault(d.id, Name(d.title.zh, d.title.en))
        return cls(names, (leaf for pack in chosen for leaf in _pack_leaves(pack)))

    def name(self, concept: str) -> Name | None:
        return self._names.get(concept)

    # --- one leaf ---------------------------------------------------------------------------------------
    def leaf(self, leaf: Leaf) -> Phrase:
        """A leaf in words; a name the dictionary lacks is written as its id (never expected in a pack)."""
        return Phrase(self._leaf(leaf, "zh"), self._leaf(leaf, "en"))

    def _leaf(self, leaf: Leaf, lang: str) -> str:
        name = self._names.get(leaf.subject)
        subject = getattr(name, lang) if name else leaf.subject
        if leaf.has is not None:
            text = _fill("has", lang, subject=subject)
        else:
            unit = name.unit.get(lang) if name else ""
            if leaf.on_days is not None:
                measured = _fill("day_mean", lang, subject=subject)
            elif leaf.stat in ("mean", "min", "max"):
                key = f"{leaf.stat}_n" if leaf.last_n else leaf.stat
                measured = _fill(key, lang, subject=subject, n=str(leaf.last_n or ""))
            elif leaf.stat in ("count", "days_since"):
                measured = _fill(leaf.stat, lang, subject=subject)
                unit = W.DAYS[lang] if leaf.stat == "days_since" else ""
            else:
                measured = _fill("latest", lang, subject=subject)
            if leaf.op == "in":
                values = W.JOIN[lang].join(_value(v, lang) for v in leaf.value or ())  # type: ignore[union-attr]
                text = f"{measured}{'' if lang == 'zh' else ' '}{_fill('in', lang, values=values)}"
            else:
                value = _value(leaf.value, lang)
                text = f"{measured} {W.OP_SIGN.get(leaf.op or '', leaf.op)} {value}" + (f" {unit}" if unit else "")
            if leaf.on_days is not None:
                text += _fill("on_days", lang, n=str(leaf.on_days))
        if leaf.within_days is not None:
            text += _fill("within_1", lang) if leaf.within_days == 1 else \
                _fill("within", lang, days=str(leaf.within_days))
        return text

    # --- a tree -----------------------------------------------------------------------------------------
    def tree(self, cond: Condition) -> ConditionWords:
        """A pack rule's condition as a tree in words (named definitions keep their name)."""
        definition = getattr(cond, "definition", None)
        definition = definition if isinstance(definition, str) and definition else None
        if isinstance(cond, AllOf | AnyOf):
            op = "all" if isinstance(cond, AllOf) else "any"
            items = cond.all if isinstance(cond, AllOf) else cond.any
            return ConditionWords(op, _combinator(op), items=tuple(self.tree(c) for c in items),
                                  definition=definition)
        if isinstance(cond, NotOf):
            inner = self.tree(cond.not_)
            if inner.op == "leaf":  # "否：糖尿病" reads better than a one-item "not" block
                words = self._negated(cond.not_) if isinstance(cond.not_, Leaf) else inner.words
                return ConditionWords("leaf", words, formula=f"not ({inner.formula})", definition=definition)
            return ConditionWords("not", _combinator("not"), items=(inner,), definition=definition)
        return ConditionWords("leaf", self.leaf(cond), formula=describe(cond), definition=definition)

    def _negated(self, leaf: Leaf) -> Phrase:
        if leaf.has is not None:
            name = self._names.get(leaf.has)
            zh, en = (name.zh, name.en) if name else (leaf.has, leaf.has)
            within = Phrase("", "") if leaf.within_days is None else self._within(leaf.within_days)
            return Phrase(_fill("has_not", "zh", subject=zh) + within.zh,
                          _fill("has_not", "en", subject=en) + within.en)
        words = self.leaf(leaf)
        return Phrase(_fill("not", "zh", item=words.zh), _fill("not", "en", item=words.en))

    @staticmethod
    def _within(days: int) -> Phrase:
        if days == 1:
            return Phrase(_fill("within_1", "zh"), _fill("within_1", "en"))
        return Phrase(_fill("within", "zh", days=str(days)), _fill("within", "en", days=str(days)))

    # --- a rationale node -------------------------------------------------------------------------------
    def words(self, text: str) -> Phrase | None:
        """The words of one rationale node (`ConditionTrace.text`): a combinator or a leaf's formula.

        None for a node that is already in words (a derived fact's part, "标签 / label: 2") or a formula
        of a pack this wording was not built with.
        """
        if text in W.COMBINATOR:
            return _combinator(text)
        leaf = self._formulas.get(text)
        return self.leaf(leaf) if leaf is not None else None

    def line(self, text: str) -> str:
        """A rationale node for plain text: the words (Chinese / English) and the formula in brackets."""
        phrase = self.words(text)
        if phrase is None or text in W.COMBINATOR:
            return phrase.both if phrase is not None else text
        return f"{phrase.both}  [{text}]"


def _combinator(op: str) -> Phrase:
    return Phrase(W.COMBINATOR[op]["zh"], W.COMBINATOR[op]["en"])


def _pack_leaves(pack: Pack) -> Iterable[Leaf]:
    for prule in pack.rules:
        for leaf, _ in walk_leaves(prule.rule.when):
            yield leaf
    for d in pack.derived:
        for part in d.parts:
            if part.when is not None:
                for leaf, _ in walk_leaves(part.when):
                    yield leaf


_cache: dict[int, tuple[weakref.ref[Registry], Wording]] = {}
_cache_lock = module_lock(globals(), "_cache_lock")


def wording_for(registry: Registry) -> Wording:
    """The wording of every pack version of a registry, built once per registry object."""
    with _cache_lock:
        hit = _cache.get(id(registry))
        if hit is not None and hit[0]() is registry:
            return hit[1]
    made = Wording.of(registry)
    with _cache_lock:
        _cache[id(registry)] = (weakref.ref(registry), made)
    return made


def default_wording() -> Wording:
    """The wording of the bundled packs (for outputs called without a registry at hand)."""
    return wording_for(default_registry())
