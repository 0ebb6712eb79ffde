"""Render: the words that phrase a rule condition in Chinese and English (cdss.render.conditions).

One table of words, kept apart so that the project's single labels home can take it over: nothing clinical
(no threshold, code or advice), only how a comparison, a statistic, a time window or a unit is said.
`{x}` marks are filled by `cdss.render.conditions`.
"""

from __future__ import annotations

from collections.abc import Mapping

# Comparison signs, the same in both languages.
OP_SIGN: Mapping[str, str] = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "==": "=", "!=": "≠"}

# Phrases with marks: {subject} the concept's name, {n} a count of readings or days, {days} a time window.
PHRASES: Mapping[str, Mapping[str, str]] = {
    "has": {"zh": "有：{subject}", "en": "has: {subject}"},
    "has_not": {"zh": "否：{subject}", "en": "no: {subject}"},
    "not": {"zh": "否：{item}", "en": "not: {item}"},
    "latest": {"zh": "{subject}", "en": "{subject}"},
    "mean": {"zh": "{subject}平均值", "en": "mean {subject}"},
    "mean_n": {"zh": "最近 {n} 次{subject}平均值", "en": "mean of the last {n} {subject} readings"},
    "min": {"zh": "{subject}最低值", "en": "lowest {subject}"},
    "min_n": {"zh": "最近 {n} 次{subject}最低值", "en": "lowest of the last {n} {subject} readings"},
    "max": {"zh": "{subject}最高值", "en": "highest {subject}"},
    "max_n": {"zh": "最近 {n} 次{subject}最高值", "en": "highest of the last {n} {subject} readings"},
    "count": {"zh": "{subject}记录次数", "en": "number of {subject} records"},
    "days_since": {"zh": "距上次{subject}的天数", "en": "days since the last {subject}"},
    "day_mean": {"zh": "{subject}日均值", "en": "day-mean {subject}"},
    "on_days": {"zh": "（至少 {n} 天）", "en": " on at least {n} days"},
    "within": {"zh": "（{days} 天内）", "en": " within {days} days"},
    "within_1": {"zh": "（1 天内）", "en": " within 1 day"},
    "in": {"zh": "为以下之一：{values}", "en": "is one of {values}"},
    "definition": {"zh": "〔定义：{name}〕", "en": "[definition: {name}]"},
}

# How a list of values is joined.
JOIN: Mapping[str, str] = {"zh": "、", "en": ", "}

# The tree's combinators (the panel's own COMBINATOR table says the same with "以下").
COMBINATOR: Mapping[str, Mapping[str, str]] = {
    "all": {"zh": "全部满足", "en": "all of"},
    "any": {"zh": "任一满足", "en": "any of"},
    "not": {"zh": "以下不成立", "en": "not"},
}

# Code-like values a rule compares with (the only string values the packs use are sexes).
VALUES: Mapping[str, Mapping[str, str]] = {
    "male": {"zh": "男", "en": "male"},
    "female": {"zh": "女", "en": "female"},
    "other": {"zh": "其他", "en": "other"},
    "unknown": {"zh": "未知", "en": "unknown"},
}

# Canonical UCUM units as a reader writes them; an empty string: the unit is not written (a grade, an index).
UNITS: Mapping[str, Mapping[str, str]] = {
    "mm[Hg]": {"zh": "mmHg", "en": "mmHg"},
    "/min": {"zh": "次/分", "en": "/min"},
    "a": {"zh": "岁", "en": "years"},
    "d": {"zh": "天", "en": "days"},
    "wk": {"zh": "周", "en": "weeks"},
    "min": {"zh": "分钟", "en": "min"},
    "s": {"zh": "秒", "en": "s"},
    "Cel": {"zh": "°C", "en": "°C"},
    "10*9/L": {"zh": "×10⁹/L", "en": "×10⁹/L"},
    "kg/m2": {"zh": "kg/m²", "en": "kg/m²"},
    "mL/min/{1.73_m2}": {"zh": "mL/min/1.73 m²", "en": "mL/min/1.73 m²"},
    "m[IU]/L": {"zh": "mIU/L", "en": "mIU/L"},
    "ug/L": {"zh": "µg/L", "en": "µg/L"},
    "umol/L": {"zh": "µmol/L", "en": "µmol/L"},
    "{score}": {"zh": "分", "en": "points"},
    "{count}": {"zh": "次", "en": ""},
    "{grade}": {"zh": "", "en": ""},
    "{T-score}": {"zh": "", "en": ""},
    "{INR}": {"zh": "", "en": ""},
    "1": {"zh": "", "en": ""},
}
# The unit of a `days_since` test.
DAYS: Mapping[str, str] = UNITS["d"]
