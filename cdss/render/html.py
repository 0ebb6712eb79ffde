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

from cdss.packs.diff import content_diff
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

# The panel's own words.
UI = {
    "app": {"zh": "社区临床决策支持", "en": "Community clinical decision support"},
    "skip": {"zh": "跳到主要内容", "en": "Skip to main content"},
    "nav_evaluate": {"zh": "评估", "en": "Evaluate"},
    "nav_catalogue": {"zh": "病种目录", "en": "Disease catalogue"},
    "nav_packs": {"zh": "规则包", "en": "Rule packs"},
    "switch_lang": {"zh": "English", "en": "中文"},
    "evaluate_title": {"zh": "评估患者数据", "en": "Evaluate a patient"},
    "sample": {"zh": "样例患者", "en": "Sample patient"},
    "sample_none": {"zh": "（不使用样例）", "en": "(no sample)"},
    "sample_help": {"zh": "样例为虚构患者；按其数据包时间（Bundle.timestamp）评估。",
                    "en": "Samples are fictitious patients, evaluated at their Bundle.timestamp."},
    "sample_download": {"zh": "查看样例 JSON", "en": "View sample JSON"},
    "paste": {"zh": "粘贴 FHIR Bundle（JSON）", "en": "Paste a FHIR Bundle (JSON)"},
    "upload": {"zh": "或上传 JSON 文件", "en": "or upload a JSON file"},
    "choose_file": {"zh": "选择文件…", "en": "Choose a file…"},
    "no_file": {"zh": "未选择文件", "en": "No file chosen"},
    "source_help": {"zh": "优先顺序：上传的文件、粘贴的文本、样例患者。",
                    "en": "Used in this order: uploaded file, pasted text, sample patient."},
    "at": {"zh": "评估时间", "en": "Evaluation time"},
    "at_help": {"zh": "留空为当前时间（样例为其数据包时间）；格式 2026-11-22T09:00，未写时区按北京时间 +08:00。",
                "en": "Empty: now (samples: their bundle time). Format 2026-11-22T09:00; without an offset, "
                      "+08:00 (Beijing time) is assumed."},
    "packs_choice": {"zh": "规则包版本", "en": "Pack versions"},
    "pack_default": {"zh": "默认（生效版本）", "en": "default (active version)"},
    "submit": {"zh": "评估", "en": "Evaluate"},
    "error_title": {"zh": "无法评估", "en": "Could not evaluate"},
    "error_lead": {"zh": "数据未能读取，未生成任何建议。请修正后重试：",
                   "en": "The data could not be read and no advice was given. Please correct it and retry:"},
    "advice": {"zh": "建议", "en": "Advice"},
    "no_advice": {"zh": "无建议。请同时查看下方“缺少的数据”。", "en": "No advice. Check the data gaps below too."},
    "patient": {"zh": "患者", "en": "Patient"},
    "sex_age": {"zh": "性别 / 年龄", "en": "Sex / age"},
    "sex_male": {"zh": "男", "en": "male"},
    "sex_female": {"zh": "女", "en": "female"},
    "sex_other": {"zh": "其他", "en": "other"},
    "sex_unknown": {"zh": "未知", "en": "unknown"},
    "age_years": {"zh": "岁", "en": "years"},
    "pseudonym": {"zh": "（档案中仅存化名）", "en": "(only a pseudonym is stored)"},
    "advanced": {"zh": "高级：规则包版本与评估时间", "en": "Advanced: pack versions and evaluation time"},
    "time": {"zh": "评估时间", "en": "Evaluated at"},
    "packs": {"zh": "规则包", "en": "Packs"},
    "evaluation_id": {"zh": "评估编号", "en": "Evaluation id"},
    "why": {"zh": "依据（为什么给出此建议）", "en": "Rationale (why this advice)"},
    "permalink": {"zh": "永久链接", "en": "Permalink"},
    "rule": {"zh": "规则", "en": "Rule"},
    "kind": {"zh": "类别", "en": "Kind"},
    "disease": {"zh": "病种", "en": "Disease"},
    "detail": {"zh": "说明", "en": "Detail"},
    "conditions": {"zh": "条件与事实", "en": "Conditions and facts"},
    "concept": {"zh": "指标", "en": "Measure"},
    "value": {"zh": "数值", "en": "Value"},
    "stat": {"zh": "取值方式", "en": "Statistic"},
    "when": {"zh": "时间", "en": "Time"},
    "source": {"zh": "来源记录", "en": "Source record"},
    "note": {"zh": "备注", "en": "Note"},
    "citation": {"zh": "出处", "en": "Source"},
    "evidence": {"zh": "证据", "en": "Evidence"},
    "gaps": {"zh": "缺少的数据", "en": "Data gaps"},
    "gaps_help": {"zh": "以下数据缺失或不可用，相关规则无法判断；这不代表没有问题。",
                  "en": "These data were missing or unusable, so the rules below could not decide; this does "
                        "not mean there is no problem."},
    "reason": {"zh": "原因", "en": "Reason"},
    "urgency": {"zh": "紧急程度", "en": "Urgency"},
    "rules": {"zh": "规则", "en": "Rules"},
    "notes": {"zh": "注意", "en": "Notes"},
    "unrecognised": {"zh": "未识别的编码", "en": "Unrecognised codings"},
    "unrecognised_help": {"zh": "以下记录的编码无法对应到任何概念，规则没有使用它们：请勿以为已检查。"
                                "可用本地编码映射（ConceptMap）补充。",
                          "en": "These records carry codes that map to no concept, so no rule used them: do not "
                                "assume they were checked. A site ConceptMap can map them."},
    "resource_type": {"zh": "资源类型", "en": "Resource type"},
    "code_system": {"zh": "编码系统", "en": "Code system"},
    "display": {"zh": "名称", "en": "Display"},
    "count": {"zh": "次数", "en": "Count"},
    "concept_maps": {"zh": "本地编码映射", "en": "Site concept maps"},
    "trends": {"zh": "趋势", "en": "Trends"},
    "trends_help": {"zh": "虚线为所评估规则使用的阈值（红色：已触发规则的阈值；灰色：最接近当前值的其他阈值）；"
                          "竖线为评估时间。",
                    "en": "Dashed lines are thresholds of the evaluated rules (red: of rules that fired; grey: the "
                          "other thresholds nearest the current value); the vertical line is the evaluation "
                          "time."},
    "trends_partial": {"zh": "原始数据未保留在本服务进程中，趋势只显示依据中引用的数值。",
                       "en": "The original data are not kept in this service process; the trends show only "
                             "the values the rationale cites."},
    "trends_none": {"zh": "没有可绘制的数值。", "en": "No values to chart."},
    "threshold": {"zh": "规则阈值", "en": "rule threshold"},
    "off_chart": {"zh": "其他阈值（未画出）", "en": "other thresholds (not drawn)"},
    "other_measures": {"zh": "其他测量", "en": "Other measures"},
    "not_found": {"zh": "未找到", "en": "Not found"},
    "not_applicable": {"zh": "不适用", "en": "Not applicable"},
    "report_failed": {"zh": "无法生成报告", "en": "Could not make the report"},
    "not_found_evaluation": {"zh": "没有此评估记录（可能已超过保存期限，或编号有误）。",
                             "en": "No such evaluation (it may be past the retention period, or the id is wrong)."},
    "link_expired": {"zh": "此链接无效或已过期。请在电子病历中重新打开该提示卡片。",
                     "en": "This link is not valid or has expired. Open the card again in the EHR."},
    "catalogue_title": {"zh": "病种目录", "en": "Disease catalogue"},
    "search": {"zh": "搜索（名称、别名、编码）", "en": "Search (name, alias, code)"},
    "all": {"zh": "全部", "en": "all"},
    "department": {"zh": "科室", "en": "Department"},
    "disease_kind": {"zh": "中/西医", "en": "Western / TCM"},
    "filter": {"zh": "筛选", "en": "Filter"},
    "results": {"zh": "条结果", "en": "results"},
    "name": {"zh": "名称", "en": "Name"},
    "codes": {"zh": "编码", "en": "Codes"},
    "role": {"zh": "社区职责", "en": "Community role"},
    "provenance": {"zh": "来源说明", "en": "Provenance"},
    "coverage": {"zh": "规则覆盖", "en": "Rule coverage"},
    "syndromes": {"zh": "证候", "en": "Syndromes"},
    "none": {"zh": "无", "en": "none"},
    "differential": {"zh": "鉴别诊断（辅助）", "en": "Differential (aid)"},
    "differential_help": {"zh": "按规则包诊断标准中已满足条件的比例排序；分数不是患病概率，不能替代临床判断。"
                                "紧急与转诊建议见上方，优先于本列表。",
                          "en": "Ranked by the share of each pack diagnosis rule's criteria that are met; the score "
                                "is not a probability of disease and does not replace clinical judgement. "
                                "Emergency and referral advice is above and comes first."},
    "ddx_score": {"zh": "分数", "en": "Score"},
    "ddx_for": {"zh": "支持", "en": "For"},
    "ddx_against": {"zh": "不支持", "en": "Against"},
    "ddx_unknown": {"zh": "尚未知", "en": "Still unknown"},
    "ddx_next": {"zh": "下一步检查", "en": "Next test"},
    "ddx_met": {"zh": "符合诊断标准", "en": "criteria met"},
    "ddx_possible": {"zh": "部分符合", "en": "partly met"},
    "ddx_exclusion": {"zh": "排除条件", "en": "exclusion"},
    "packs_title": {"zh": "规则包", "en": "Rule packs"},
    "version": {"zh": "版本", "en": "Version"},
    "status": {"zh": "状态", "en": "Status"},
    "effective": {"zh": "生效日期", "en": "Effective"},
    "default_marker": {"zh": "默认运行", "en": "runs by default"},
    "sources": {"zh": "出处文献", "en": "Sources"},
    "diff": {"zh": "版本比较", "en": "Compare versions"},
    "diff_from": {"zh": "从", "en": "From"},
    "diff_to": {"zh": "到", "en": "To"},
    "compare": {"zh": "比较", "en": "Compare"},
    "added": {"zh": "新增", "en": "Added"},
    "removed": {"zh": "删除", "en": "Removed"},
    "changed": {"zh": "修改", "en": "Changed"},
    "unchanged": {"zh": "未变", "en": "Unchanged"},
    "no_diff": {"zh": "两个版本的规则相同。", "en": "The two versions have the same rules."},
    "field": {"zh": "字段", "en": "Field"},
    "before": {"zh": "之前", "en": "Before"},
    "after": {"zh": "之后", "en": "After"},
    "limits": {"zh": "本工具仅为辅助决策，不能替代临床判断。规则与出处见“依据”。",
               "en": "Decision support only; it does not replace clinical judgement. Rules and sources are "
                     "shown under each rationale."},
    "csrf": {"zh": "表单已过期或来自其他网站，请刷新本页后重新提交。",
             "en": "The form expired or came from another site; reload this page and submit again."},
    "incident": {"zh": "服务内部错误，请将以下编号告知管理员：",
                 "en": "Internal error; quote this incident id to the operator:"},
    # the yearly assessment report of a resident aged 65 or over (cdss.population.elderly)
    "elderly_report": {"zh": "老年人年度健康评估报告", "en": "Yearly health assessment of an older resident"},
    "elderly_report_link": {"zh": "打印老年人年度健康评估报告", "en": "Print the yearly health assessment report"},
    "elderly_report_unavailable": {"zh": "此评估的原始数据包已不在本服务内存中（或不是在本进程中评估的）；"
                                         "请重新评估后再打开报告。",
                                   "en": "This evaluation's bundle is no longer held in this service's memory (or "
                                         "was not evaluated here); evaluate it again, then open the report."},
    "measurements": {"zh": "测量", "en": "Measurements"},
    "no_measurements": {"zh": "无测量记录", "en": "No measurement recorded"},
    "scores": {"zh": "评分", "en": "Scores"},
    "no_scores": {"zh": "无评分（未填写评估问卷）", "en": "No score (no questionnaire answered)"},
    "latest": {"zh": "最近值", "en": "Latest"},
    "date": {"zh": "日期", "en": "Date"},
    "item": {"zh": "项目", "en": "Item"},
    "constitution": {"zh": "中医体质辨识", "en": "TCM constitution"},
    "constitution_not_done": {"zh": "未完成体质辨识", "en": "Constitution questionnaire not done"},
    "print": {"zh": "打印", "en": "Print"},
    "back_to_evaluation": {"zh": "返回评估结果", "en": "Back to the evaluation"},
}


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
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    title: Mapping[str, str]
    changes: tuple[FieldChange, ...]


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


def _changes(changes: Iterable[Any], prefix: str = "") -> tuple[FieldChange, ...]:
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
        meta=tuple(c for c in _changes(d.meta) if c.field != "version") + tuple(derived))


def ui_tables() -> dict[str, Mapping[str, Mapping[str, str]]]:
    """Every label table by name, for the templates (`L.urgency`, `L.ui` ...)."""
    return {"ui": UI, **{group: labels.table(group) for group in labels.groups()}}
