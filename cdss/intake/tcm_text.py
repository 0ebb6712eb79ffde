"""Intake: free-text TCM four-examination findings (中医四诊观察结果, e.g. "舌红，苔薄黄，脉浮数") -> findings.

Chinese EHRs usually send tongue, pulse and TCM symptoms as one string. The vocabulary that reads it is data,
`catalogue/tcm/findings.yaml`: each finding's code (the project code system), the concept it makes present,
and its terms. Reading rules:

* The text is split into clauses at punctuation; a clause is read left to right, longest term first.
* Tongue, coating and pulse terms are *components* read after a mode word (舌 / 舌质 -> tongue, 苔 / 舌苔 ->
  coating, 脉 / 脉象 -> pulse) or before its suffix form (淡红舌, 薄白苔, 浮数脉, 少苔): "脉浮数" is floating +
  rapid. A mode lasts until a symptom, another mode word or an unknown character, across clauses too
  ("舌质淡，边有齿痕").
* Symptoms are whole terms anywhere ("无汗", "不寐" are terms of their own).
* Inside a tongue / coating / pulse run a component wins over a negation word ("脉细无力", "舌红无苔"); at the
  start of a clause the negation wins ("苔薄白，无口干").
* A negation word (无, 未见, 否认, 不 ...) negates every term after it in its clause until a resume word (有, 伴,
  但): "无恶寒发热" negates both, "发热，不恶寒" only 恶寒. Negated findings are returned (so callers can show
  them) but never made present.

`read_tcm_text` is the intake hook: an Observation coded as the vocabulary's text concept with a valueString.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdss.errors import PackError

if TYPE_CHECKING:
    import datetime as dt

    from cdss.intake.bundle import _Reader

_CLAUSE = re.compile(r"[，,。.；;、：:\s/（）()]+")
_MODES = ("tongue", "coating", "pulse")


@dataclass(frozen=True)
class Finding:
    """One term read from the text: its code, the concept it stands for, and whether it was negated."""

    code: str
    concept: str
    negated: bool
    term: str


@dataclass(frozen=True)
class _Token:
    kind: str  # finding | component | mode | neg | resume | filler
    value: str  # finding code, mode name, or ""


class Vocabulary:
    """The parser's tables, built from the findings vocabulary file."""

    def __init__(self, doc: Mapping[str, Any], source: str = "findings.yaml"):
        try:
            self.system: str = doc["system"]
            self.text_concept: str = doc["text_concept"]
            self.concept_of: dict[str, str] = {f["code"]: f["concept"] for f in doc["findings"]}
            self.global_terms: dict[str, _Token] = {}
            self.mode_terms: dict[str, dict[str, _Token]] = {m: {} for m in _MODES}
            for f in doc["findings"]:
                cat = f["category"]
                table = self.global_terms if cat == "symptom" else self.mode_terms[cat]
                for term in f["terms"]:
                    table[term] = _Token("finding" if cat == "symptom" else "component", f["code"])
            for mode, words in doc["modes"].items():
                for w in words:
                    self.global_terms.setdefault(w, _Token("mode", mode))
            for w in doc["negations"]:
                self.global_terms.setdefault(w, _Token("neg", ""))
            for w in doc["resume"]:
                self.global_terms.setdefault(w, _Token("resume", ""))
            self.fillers = {w: _Token("filler", "") for w in doc["fillers"]}
            self.suffix: dict[str, str] = dict(doc["suffix_forms"])
        except (KeyError, TypeError) as exc:
            raise PackError.one(f"the TCM findings vocabulary lacks or misuses a key: {exc}", "bad-vocabulary",
                                file=source, hint="see the header of catalogue/tcm/findings.yaml") from exc
        self._rewrites = [self._suffix_pattern(mode, char) for mode, char in self.suffix.items()]

    def _suffix_pattern(self, mode: str, char: str) -> tuple[re.Pattern[str], str]:
        """`淡红舌` -> `舌淡红`, `薄白苔` -> `苔薄白`, `浮数脉` -> `脉浮数` (components before the suffix form)."""
        terms = sorted(self.mode_terms[mode], key=len, reverse=True)
        alt = "|".join(re.escape(t) for t in terms)
        return re.compile(f"((?:{alt})+){re.escape(char)}(?![质体象苔])"), char

    def _normal(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        for pattern, char in self._rewrites:
            text = pattern.sub(lambda m, c=char: c + m.group(1), text)
        return text

    def parse(self, text: str) -> list[Finding]:
        """The findings a free text names, in order, each once per polarity."""
        out: list[Finding] = []
        seen: set[tuple[str, bool]] = set()
        mode: str | None = None
        for clause in _CLAUSE.split(self._normal(text)):
            negated = False
            i = 0
            while i < len(clause):
                term, token = self._longest(clause, i, mode, clause_start=i == 0)
                if token is None:
                    mode = None  # an unknown character ends a tongue / coating / pulse run
                    i += 1
                    continue
                i += len(term)
                if token.kind == "mode":
                    mode = token.value
                elif token.kind == "neg":
                    negated = True
                elif token.kind == "resume":
                    negated = False
                elif token.kind in ("finding", "component"):
                    if token.kind == "finding":
                        mode = None
                    if (token.value, negated) not in seen:
                        seen.add((token.value, negated))
                        out.append(Finding(token.value, self.concept_of[token.value], negated, term))
        return out

    def _longest(self, clause: str, i: int, mode: str | None, clause_start: bool) -> tuple[str, _Token | None]:
        if mode is None:
            tables: list[Mapping[str, _Token]] = [self.global_terms]
        elif clause_start:  # a clause opens with a word of its own ("苔薄白，无口干": 无 negates)
            tables = [self.global_terms, self.mode_terms[mode], self.fillers]
        else:  # inside a run a component wins ties over a negation word ("脉细无力", "舌红无苔")
            tables = [self.mode_terms[mode], self.global_terms, self.fillers]
        best, best_token = "", None
        for table in tables:  # earlier tables win ties
            for n in range(min(len(clause) - i, 8), len(best), -1):
                token = table.get(clause[i:i + n])
                if token is not None:
                    best, best_token = clause[i:i + n], token
                    break
        return best, best_token


@functools.lru_cache(maxsize=4)
def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """The bundled vocabulary (catalogue/tcm/findings.yaml), or the one at `path`.

    Raises:
        PackError: the file is missing, not YAML, or lacks a key [bad-vocabulary].
    """
    import yaml  # only when a record has TCM text: not at start-up

    if path is None:
        import importlib.resources

        path = Path(str(importlib.resources.files("catalogue"))) / "tcm" / "findings.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError.one(f"cannot read the TCM findings vocabulary: {exc}", "bad-vocabulary",
                            file=str(path)) from exc
    if not isinstance(doc, Mapping):
        raise PackError.one("the TCM findings vocabulary is not a mapping", "bad-vocabulary", file=str(path))
    return Vocabulary(doc, str(path))


def read_tcm_text(reader: _Reader, ids: Sequence[str], text: str, ref: str, time: dt.datetime | None) -> None:
    """Make present the findings of a 中医四诊 free text, when the Observation is coded as that text."""
    vocab = load_vocabulary()
    if vocab.text_concept not in ids:
        return
    for finding in vocab.parse(text):
        if not finding.negated and finding.concept in reader.concepts.by_id:
            reader.add_presence(finding.concept, time, ref)
