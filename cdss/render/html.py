"""Render: helpers for the clinician panel's HTML (labels, grouping, condition trees, pack diffs).

Decides nothing: every clinical word on a page comes from the evaluation, the packs or the catalogue.
What lives here are the panel's own UI labels, Chinese first with English beside, and shapes that the
Jinja2 templates of ``service/templates`` walk. Evaluations are read in their JSON form
(``Evaluation.model_dump(mode="json")``), so that one stored by any channel renders the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdss.packs.diff import FieldChange, content_diff
from cdss.packs.registry import Pack
from cdss.packs.schema import KIND_ORDER, URGENCY_ORDER
from cdss.vocab import labels

LANGS = ("zh", "en")

# Names of the values the engine emits (urgency, kind, evidence, data-gap reason, outcome, statistic ...):
# their one home is cdss/vocab/labels.yaml.
URGENCY = labels.table("urgency")
KIND = labels.table("kind")
EVIDENCE = labels.table("evidence")
EVIDENCE_HELP = labels.table("evidence_help")
REASON = labels.table("reason")
OUTCOME = labels.table("outcome")
COMBINATOR = labels.table("combinator")
STAT = labels.table("stat")
STATUS = labels.table("status")
DISEASE_KIND = labels.table("disease_kind")
ROLE = labels.table("role")
PROVENANCE = labels.table("provenance")

# The panel's own words (headings, buttons, help texts).
UI = labels.table("ui")


# Chinese sentences for the error codes a clinician meets on the evaluate form (the located English
# message follows each); codes without an entry get the generic one.
ERROR_ZH = {
    "not-json": "内容不是有效的 JSON。",
    "not-a-bundle": "内容不是 FHIR Bundle（资源包）。",
    "bad-bundle-type": "Bundle 的类型（type）不受支持。",
    "bad-bundle": "Bundle 的条目（entry）不是列表。",
    "bad-entry": "某个条目没有资源（resource）。",
    "no-patient": "Bundle 中没有患者（Patient）资源。",
    "two-patients": "Bundle 中有两位患者；每次只能评估一位患者的数据。",
    "bad-date": "日期或时间格式不正确。",
    "bad-quantity": "数值不正确（不是数字或过大）。",
    "bad-type": "某个字段的数据类型不正确。",
    "unit-too-complex": "单位字符串过长或嵌套过深。",
    "unknown-pack": "所选规则包或版本不存在。",
    "not-elderly": "老年人年度健康评估报告仅适用于65岁及以上居民（或缺少出生日期）。",
    "other-patient": "Bundle 中有记录属于另一位患者；每次只能评估一位患者的数据。",
    "bad-concept-map": "本地编码映射（ConceptMap）不正确。",
}
ERROR_ZH_DEFAULT = "输入的数据无法使用。"


def error_zh(code: str) -> str:
    """The Chinese sentence for an error code (the generic one when there is none)."""
    return ERROR_ZH.get(code, ERROR_ZH_DEFAULT)


def text(mapping: Mapping[str, Mapping[str, str]], key: str, lang: str) -> str:
    """The label of `key` in `lang`, or the key itself when the table has no entry."""
    entry = mapping.get(key)
    return entry.get(lang, entry.get("zh", key)) if entry else key


def other_lang(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


def group_by_urgency(suggestions: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Suggestions (JSON form) grouped by urgency, most urgent first; inside a group the engine's order."""
    groups: dict[str, list[Mapping[str, Any]]] = {u: [] for u in URGENCY_ORDER}
    for s in suggestions:
        groups.setdefault(s["urgency"], []).append(s)
    return [(u, items) for u, items in groups.items() if items]


def format_time(iso: str | None) -> str:
    """`2026-11-22T08:40:00+08:00` -> `2026-11-22 08:40 (+08:00)`; dates stay dates."""
    if not iso:
        return ""
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if len(iso) <= 10:
        return t.date().isoformat()
    offset = t.strftime("%z")
    shown = f" ({offset[:3]}:{offset[3:]})" if offset else ""
    return t.strftime("%Y-%m-%d %H:%M") + shown


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "是 yes" if value else "否 no"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def citations(rule: Any) -> tuple[Any, ...]:
    """A rule's citations as a tuple (the pack format allows one or a list)."""
    return rule.citation if isinstance(rule.citation, tuple) else (rule.citation,)


def rule_sort_key(rule: Any) -> tuple[int, int, str]:
    """Pack rules shown most urgent first, then by kind, then by id (as suggestions are)."""
    return (URGENCY_ORDER.index(rule.urgency), KIND_ORDER.index(rule.kind) if rule.kind in KIND_ORDER else 99,
            rule.full_id)


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    title: Mapping[str, str]
    changes: tuple[FieldChange, ...]  # each side as JSON text ("": absent)


@dataclass(frozen=True)
class PackDiff:
    """Rule-level difference between two versions of a pack."""

    old: str
    new: str
    added: tuple[Any, ...]
    removed: tuple[Any, ...]
    changed: tuple[RuleChange, ...]
    meta: tuple[FieldChange, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.meta)


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _changes(changes: Iterable[FieldChange], prefix: str = "") -> tuple[FieldChange, ...]:
    return tuple(FieldChange(prefix + c.path, _json_text(c.old), _json_text(c.new)) for c in changes)


def diff_packs(old: Pack, new: Pack) -> PackDiff:
    """Which rules were added, removed or changed (field by field) between two versions of a pack: the
    one structural diff (cdss.packs.diff) as the panel shows it (the version itself is not a change)."""
    d = content_diff(old, new)
    derived = [FieldChange(f"derived.{i}", "", "+") for i in d.derived.added]
    derived += [FieldChange(f"derived.{i}", "-", "") for i in d.derived.removed]
    derived += [f for c in d.derived.changed for f in _changes(c.fields, f"derived.{c.id}.")]
    return PackDiff(
        old=old.key, new=new.key,
        added=tuple(sorted((d.new_rules[r] for r in d.rules.added), key=rule_sort_key)),
        removed=tuple(sorted((d.old_rules[r] for r in d.rules.removed), key=rule_sort_key)),
        changed=tuple(RuleChange(d.new_rules[c.id].full_id, d.new_rules[c.id].rule.then.title.model_dump(),
                                 _changes(c.fields)) for c in d.rules.changed),
        meta=tuple(c for c in _changes(d.meta) if c.path != "version") + tuple(derived))


def ui_tables() -> dict[str, Mapping[str, Mapping[str, str]]]:
    """Every label table by name, for the templates (`L.urgency`, `L.ui` ...)."""
    return {group: labels.table(group) for group in labels.groups()}
