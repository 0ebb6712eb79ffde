"""Packs: text leaves (pack format v2), e.g. ``hba1c >= 7 % within 180 days``, parsed into `Leaf` models.

The grammar (words in quotes are keywords; spaces between tokens are free, `140mmHg` is read as `140 mmHg`)::

    leaf     = "has" NAME window*
             | [stat] NAME OP value [UNIT] window*
    stat     = "latest" | "count" | "days_since"
             | ("mean" | "min" | "max") ["of"] ["last" INT]
    OP       = ">=" | "<=" | ">" | "<" | "==" | "!=" | "in"
    value    = NUMBER | WORD | STRING | "[" item {"," item} "]"      (a list goes with `in`)
    window   = "within" INT ("day" | "days" | "week" | "weeks")     -> within_days
             | "ever"                                               -> no recency window, whatever the defaults
             | "on" INT ("day" | "days")                            -> on_days (the day-mean holds on N days)

Each field of `Leaf` has one spelling: `has X` (has), `NAME` (concept), OP (op, `in` with a list), value,
`mean of last 3` (stat and last_n; `latest` is the default and is not written), `within N days`
(within_days), `on N days` (on_days). Examples: ``has diabetes``, ``has stroke_history within 14 days``,
``days_since hba1c >= 90``, ``sex in [male, female]``, ``crb65 >= 2``, ``egfr < 30 mL/min/1.73m2``,
``hba1c >= 7 % within 180 days``, ``mean of last 3 sbp >= 140 mmHg``, and windows written after the
unit: ``... within 1 day``, ``... on 3 days``, ``... ever``.

Units. A comparison of a concept whose canonical unit is a real unit (mm[Hg], mmol/L, %, a ...) must state
a unit; the value is converted to the canonical unit (pint through `cdss.vocab.units`: same dimension, or
mass <-> substance only when the concept declares a molar mass, or the concept's `alt_units`), and any
other unit is refused. Editors may write the usual spellings of a few UCUM codes (`mmHg` for mm[Hg], `°C`
for Cel, `years` for a, `days` for d, `mL/min/1.73m2` for mL/min/{1.73_m2}: annotations in braces may be
left out). Counts (`{count}`, `{score}` ... and derived facts) take no unit; `days_since` takes none or
`days`. `count` compares a number of readings and takes no unit.

Why a hand parser and not lark: the grammar is a flat run of clauses with one bracketed list; a regex
tokenizer and a few functions give each error its exact column and the `Leaf` field it concerns, in the
project's own words, which a generated parser's errors would have to be translated into case by case.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from cdss.errors import did_you_mean
from cdss.packs.schema import Leaf
from cdss.vocab.dictionary import Concept
from cdss.vocab.units import UnitTooComplex, UnknownUnit, to_canonical

STATS = ("latest", "mean", "min", "max", "count", "days_since")
OPS = (">=", "<=", "==", "!=", ">", "<")
KEYWORDS = frozenset({"has", "of", "last", "within", "ever", "on", "in", *STATS})
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\Z")
GLUED = re.compile(r"([-+]?\d+(?:\.\d+)?)([^\d.eE\s][^\s]*)\Z")  # a value glued to its unit: 140mmHg
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<punct>[\[\],])
  | (?P<op>>=|<=|==|!=|>|<)
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<word>[^\s\[\],<>=!"'](?:[^\s\[\],<>=!"']|\[[^\]\s,]*\])*)
""", re.VERBOSE)

# Editors' spellings of UCUM codes (not clinical content: names of units), and the spelling a leaf is written
# with by `render` (the reverse, for the codes that have one).
UNIT_ALIASES = {"mmHg": "mm[Hg]", "°C": "Cel", "degC": "Cel", "year": "a", "years": "a", "day": "d", "days": "d",
                "week": "wk", "weeks": "wk", "month": "mo", "months": "mo", "bpm": "/min", "mIU/L": "m[IU]/L",
                "x10^9/L": "10*9/L", "×10^9/L": "10*9/L"}
UNIT_SPELLING = {"mm[Hg]": "mmHg", "Cel": "°C", "a": "years", "mo": "months", "d": "days", "wk": "weeks",
                 "m[IU]/L": "mIU/L"}
_DAY_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7}


class LeafSyntaxError(ValueError):
    """A text leaf that cannot be read or checked: `col` counts from 0 in the text; `field` is the Leaf
    field concerned (`concept`, `op`, `value`, `unit`, `stat`, `within_days` ...)."""

    def __init__(self, message: str, col: int, field: str, code: str = "invalid-leaf", hint: str | None = None):
        super().__init__(message)
        self.message, self.col, self.field, self.code, self.hint = message, col, field, code, hint


@dataclass(frozen=True)
class Token:
    kind: str  # punct | op | string | word
    text: str
    col: int


@dataclass
class ParsedLeaf:
    """A text leaf read but not yet checked against the concepts (see `to_leaf`)."""

    text: str
    subject: str = ""
    subject_col: int = 0
    has: bool = False
    stat: str = "latest"
    stat_col: int = 0
    last_n: int | None = None
    op: str | None = None
    op_col: int = 0
    values: list[tuple[float | str, int]] = field(default_factory=list)
    is_list: bool = False
    unit: str | None = None
    unit_col: int = 0
    within: int | None = None
    within_given: bool = False  # `within N days` or `ever` written
    on_days: int | None = None


def tokenize(text: str) -> list[Token]:
    """The tokens of a text leaf (a number glued to its unit is split: `140mmHg`).

    Raises:
        LeafSyntaxError: a character that starts no token.
    """
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            where = "op" if text[pos] in "=!<>" else "condition"
            raise LeafSyntaxError(f"unexpected character {text[pos]!r}", pos, where,
                                  hint="comparisons are >=, <=, >, <, ==, != and in" if where == "op" else None)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    return out


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str, fld: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise LeafSyntaxError(f"expected {what} after {self.text.strip()!r}", len(self.text), fld)
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text in words:
            self.i += 1
            return True
        return False

    def integer(self, fld: str, what: str) -> int:
        tok = self.next(what, fld)
        if tok.kind != "word" or not tok.text.isdigit():
            raise LeafSyntaxError(f"expected {what}, got {tok.text!r}", tok.col, fld)
        return int(tok.text)


def parse(text: str) -> ParsedLeaf:
    """Read a text leaf (the grammar is in the module docstring).

    Raises:
        LeafSyntaxError: the text does not follow the grammar; `col` and `field` say where and what.
    """
    r = _Reader(text)
    out = ParsedLeaf(text)
    if not r.tokens:
        raise LeafSyntaxError("empty condition", 0, "condition",
                              hint="write e.g. `sbp >= 140 mmHg` or `has diabetes`")
    first = r.tokens[0]
    if first.kind == "word" and first.text == "has":
        r.i = 1
        out.has = True
        _subject(r, out)
        _windows(r, out)
        return out
    if first.kind == "word" and first.text in STATS:
        r.i = 1
        out.stat, out.stat_col = first.text, first.col
        r.word("of")
        if r.word("last"):
            if out.stat not in ("mean", "min", "max"):
                raise LeafSyntaxError(f"`last N` goes with mean, min or max, not {out.stat}",
                                      r.tokens[r.i - 1].col, "last_n")
            out.last_n = r.integer("last_n", "a number of readings after `last`")
    _subject(r, out)
    tok = r.next("a comparison (>=, <=, >, <, ==, !=, in)", "op")
    if not (tok.kind == "op" or (tok.kind == "word" and tok.text == "in")):
        raise LeafSyntaxError(f"expected a comparison (>=, <=, >, <, ==, !=, in), got {tok.text!r}", tok.col, "op",
                              hint="a test of presence is written `has NAME`")
    out.op, out.op_col = tok.text, tok.col
    _value(r, out)
    tok = r.peek()
    if out.unit is None and tok is not None and tok.kind == "word" and tok.text not in ("within", "ever", "on"):
        r.i += 1
        out.unit, out.unit_col = tok.text, tok.col
    elif out.unit is None and tok is not None and tok.text == "[":  # a UCUM unit in brackets: [degF]
        end = re.compile(r"\S+").match(text, tok.col).end()  # type: ignore[union-attr]
        out.unit, out.unit_col = text[tok.col:end], tok.col
        while (nxt := r.peek()) is not None and nxt.col < end:
            r.i += 1
    _windows(r, out)
    return out


def _subject(r: _Reader, out: ParsedLeaf) -> None:
    tok = r.next("a concept name", "has" if out.has else "concept")
    fld = "has" if out.has else "concept"
    if tok.kind != "word" or not NAME.match(tok.text) or tok.text in KEYWORDS:
        raise LeafSyntaxError(f"expected a concept name, got {tok.text!r}", tok.col, fld,
                              hint="concept names are lowercase snake_case, e.g. `sbp`, `hba1c`")
    out.subject, out.subject_col = tok.text, tok.col


def _item(tok: Token) -> float | str:
    if tok.kind == "string":
        return tok.text[1:-1]
    if tok.kind == "word" and NUMBER.match(tok.text):
        number = float(tok.text)
        if not math.isfinite(number):
            raise LeafSyntaxError(f"{tok.text!r} is not a finite number", tok.col, "value")
        return number
    if tok.kind == "word" and tok.text not in KEYWORDS:
        return tok.text
    raise LeafSyntaxError(f"expected a value, got {tok.text!r}", tok.col, "value")


def _value(r: _Reader, out: ParsedLeaf) -> None:
    tok = r.next("a value", "value")
    if tok.kind == "punct" and tok.text == "[":
        out.is_list = True
        while True:
            item = r.next("a list item or `]`", "value")
            out.values.append((_item(item), item.col))
            sep = r.next("`,` or `]`", "value")
            if sep.text == "]":
                break
            if sep.text != ",":
                raise LeafSyntaxError(f"expected `,` or `]`, got {sep.text!r}", sep.col, "value")
    elif tok.kind == "word" and not NUMBER.match(tok.text) and (glued := GLUED.match(tok.text)):
        out.values.append((_item(Token("word", glued.group(1), tok.col)), tok.col))
        out.unit, out.unit_col = glued.group(2), tok.col + len(glued.group(1))
    else:
        out.values.append((_item(tok), tok.col))
    if out.op in ("<", "<=", ">", ">=") and isinstance(out.values[0][0], str):
        raise LeafSyntaxError(f"a comparison needs a number, got {out.values[0][0]!r}", out.values[0][1], "value")
    if out.op == "in" and not out.is_list:
        raise LeafSyntaxError("`in` needs a list, e.g. `[male, female]`", tok.col, "value")
    if out.op != "in" and out.is_list:
        raise LeafSyntaxError(f"a list goes with `in`, not {out.op}", tok.col, "op")


def _windows(r: _Reader, out: ParsedLeaf) -> None:
    while (tok := r.peek()) is not None:
        r.i += 1
        if tok.kind == "word" and tok.text in ("within", "ever"):
            if out.within_given:
                raise LeafSyntaxError("the recency window is given twice", tok.col, "within_days")
            out.within_given = True
            if tok.text == "within":
                n = r.integer("within_days", "a number of days after `within`")
                unit = r.next("`days` or `weeks`", "within_days")
                if unit.text not in _DAY_UNITS:
                    raise LeafSyntaxError(f"expected `days` or `weeks`, got {unit.text!r}", unit.col, "within_days",
                                          hint="a window is counted in days or weeks (months and years vary)")
                out.within = n * _DAY_UNITS[unit.text]
        elif tok.kind == "word" and tok.text == "on" and not out.has:
            if out.on_days is not None:
                raise LeafSyntaxError("`on N days` is given twice", tok.col, "on_days")
            out.on_days = r.integer("on_days", "a number of days after `on`")
            unit = r.next("`days`", "on_days")
            if unit.text not in ("day", "days"):
                raise LeafSyntaxError(f"expected `days`, got {unit.text!r}", unit.col, "on_days")
        else:
            what = "`within N days` or `ever`" if out.has else "a unit, `within N days`, `ever` or `on N days`"
            raise LeafSyntaxError(f"unexpected {tok.text!r}: expected {what}", tok.col, "condition")


# --- checking against the concepts -------------------------------------------------------------------------

def _bare(unit: str) -> str:
    """A unit without its UCUM annotations' braces and underscores: mL/min/{1.73_m2} -> mL/min/1.73m2."""
    return unit.replace("{", "").replace("}", "").replace("_", "")


def _annotation_only(unit: str | None) -> bool:
    return unit is None or unit == "1" or bool(re.fullmatch(r"\{[^{}]*\}", unit))


def defaults_apply(concept: Concept | None, stat: str) -> bool:
    """Whether a pack's `defaults.within` applies to a text leaf on this concept and stat (see Defaults)."""
    return concept is not None and concept.kind == "quantity" and stat in ("latest", "mean", "min", "max")


def to_leaf(parsed: ParsedLeaf, concepts: dict[str, Concept], derived: set[str],
            default_within: int | None = None) -> Leaf:
    """The Leaf a parsed text leaf means: units converted to the concept's canonical unit, the default
    recency window applied where it applies (`defaults_apply`).

    Raises:
        LeafSyntaxError: unknown concept, a unit that is missing, refused or not convertible, or a shape the
            Leaf model refuses (e.g. `on N days` with `mean`).
    """
    p = parsed
    if p.has:
        if p.subject not in concepts or concepts[p.subject].kind in ("quantity", "demographic"):
            what = "unknown coded concept" if p.subject not in concepts else "a measured concept"
            coded = [c for c, v in concepts.items() if v.kind not in ("quantity", "demographic")]
            hint = did_you_mean(p.subject, coded) if p.subject not in concepts else \
                f"compare it, e.g. `{p.subject} >= ...`"
            raise LeafSyntaxError(f"{what} {p.subject!r}", p.subject_col, "has", "unknown-concept", hint=hint)
        return _leaf(p, has=p.subject, within_days=p.within)
    concept = concepts.get(p.subject)
    if concept is None and p.subject not in derived:
        known = [c for c, v in concepts.items() if v.kind in ("quantity", "demographic")] + sorted(derived)
        hint = " ".join(filter(None, [did_you_mean(p.subject, known),
                                      "concepts are declared in catalogue/concepts/ or in the pack's `derived`"]))
        raise LeafSyntaxError(f"unknown concept {p.subject!r}", p.subject_col, "concept", "unknown-concept", hint=hint)
    values = [_convert(v, col, p, concept) for v, col in p.values]
    within = p.within
    if not p.within_given and default_within is not None and defaults_apply(concept, p.stat):
        within = default_within
    value: float | str | tuple[float | str, ...] = tuple(values) if p.is_list else values[0]
    return _leaf(p, concept=p.subject, op=p.op, value=value, stat=p.stat, last_n=p.last_n, within_days=within,
                 on_days=p.on_days)


def _leaf(p: ParsedLeaf, **fields: object) -> Leaf:
    from pydantic import ValidationError

    try:
        return Leaf(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        col = p.stat_col if "stat" in message or "last_n" in message else p.op_col
        raise LeafSyntaxError(message, col, "condition") from exc


def _convert(value: float | str, col: int, p: ParsedLeaf, concept: Concept | None) -> float | str:
    """A value in the concept's canonical unit (see the module docstring for which units are taken)."""
    if isinstance(value, str):
        if p.unit is not None:
            raise LeafSyntaxError(f"a unit goes with a number, not with {value!r}", p.unit_col, "unit")
        return value
    unit = p.unit
    if p.stat == "count" or concept is None:
        if unit is not None:
            what = "a count of readings" if p.stat == "count" else f"derived fact {p.subject!r}"
            raise LeafSyntaxError(f"{what} takes no unit", p.unit_col, "unit", "unit-refused", hint="remove the unit")
        return value
    if p.stat == "days_since":
        if unit is None or unit in ("day", "days", "d"):
            return value
        if unit in ("week", "weeks", "wk"):
            return value * 7
        raise LeafSyntaxError(f"`days_since` counts days, not {unit!r}", p.unit_col, "unit", "unit-refused",
                              hint="write the number of days, e.g. `days_since hba1c >= 90`")
    canonical = concept.unit
    if _annotation_only(canonical):
        if unit is not None and _bare(unit) != _bare(canonical or ""):
            raise LeafSyntaxError(f"{p.subject!r} is a count ({canonical or 'no unit'}): it takes no unit, "
                                  f"got {unit!r}",
                                  p.unit_col, "unit", "unit-refused", hint="remove the unit")
        return value
    if unit is None:
        spelt = UNIT_SPELLING.get(canonical, _bare(canonical))  # type: ignore[arg-type]
        raise LeafSyntaxError(f"a comparison of {p.subject!r} needs a unit (its canonical unit is {canonical})",
                              _after_value(p), "unit", "unit-missing",
                              hint=f"e.g. `{p.subject} {p.op} {_number(value)} {spelt}`")
    code = UNIT_ALIASES.get(unit, unit)
    if _bare(code) == _bare(canonical):  # type: ignore[arg-type]
        return value
    try:
        return to_canonical(value, code, concept)
    except (UnknownUnit, UnitTooComplex) as exc:
        raise LeafSyntaxError(f"unit {unit!r} cannot be converted to {p.subject!r}'s unit {canonical}: {exc}",
                              p.unit_col, "unit", "unit-refused",
                              hint="use the concept's unit, or one of the same dimension (mass and substance "
                                   "convert only where the concept declares a molar mass)") from exc


def _after_value(p: ParsedLeaf) -> int:
    last_col = p.values[-1][1]
    m = re.compile(r"\S+").match(p.text, last_col)
    return m.end() if m else last_col


# --- rendering (Leaf -> text), used by `cdss pack migrate` ---------------------------------------------------

def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _value_text(value: float | str) -> str:
    if isinstance(value, str):
        plain = NAME.match(value) is not None and value not in KEYWORDS
        return value if plain else '"' + value + '"'
    return _number(value)


def render(leaf: Leaf, concepts: dict[str, Concept], default_within: int | None = None) -> str:
    """A Leaf as a text leaf that `parse` + `to_leaf` read back to the same Leaf (with the same defaults).

    Raises:
        ValueError: a string value holding a double quote (not expressible as a text leaf).
    """
    if leaf.has is not None:
        text = f"has {leaf.has}"
        return text + (f" within {days_text(leaf.within_days)}" if leaf.within_days is not None else "")
    concept = concepts.get(leaf.concept or "")
    stat = ""
    if leaf.stat != "latest":
        stat = leaf.stat + (f" of last {leaf.last_n}" if leaf.last_n is not None else "") + " "
    values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
    if any(isinstance(v, str) and '"' in v for v in values):
        raise ValueError(f"a value with a double quote cannot be written as a text leaf: {leaf.value!r}")
    shown = "[" + ", ".join(_value_text(v) for v in values) + "]" if isinstance(leaf.value, tuple) \
        else _value_text(leaf.value)  # type: ignore[arg-type]
    text = f"{stat}{leaf.concept} {leaf.op} {shown}"
    numeric = any(not isinstance(v, str) for v in values)
    if (numeric and concept is not None and leaf.stat not in ("count", "days_since")
            and not _annotation_only(concept.unit)):
        text += " " + _unit_text(UNIT_SPELLING.get(concept.unit, _bare(concept.unit)), values)  # type: ignore[arg-type]
    if leaf.on_days is not None:
        text += f" on {days_text(leaf.on_days)}"
    if defaults_apply(concept, leaf.stat) and default_within is not None:
        if leaf.within_days is None:
            return text + " ever"
        if leaf.within_days == default_within:
            return text
    if leaf.within_days is not None:
        text += f" within {days_text(leaf.within_days)}"
    return text


def _unit_text(spelt: str, values: tuple) -> str:
    """`1 year`, not `1 years`: a unit spelt as an English plural (years, days, weeks) after the number 1."""
    singular = spelt[:-1]
    return singular if values == (1.0,) and UNIT_ALIASES.get(singular) == UNIT_ALIASES.get(spelt, "") else spelt


def days_text(n: int) -> str:
    """`1 day`, `N days`."""
    return f"{n} day" if n == 1 else f"{n} days"
