"""Render: the panel's HTML helpers (labels, grouping, time format, condition trees, pack diffs)."""

from __future__ import annotations

import dataclasses

from cdss.packs.schema import KIND_ORDER, URGENCY_ORDER
from cdss.render import html as H


def test_every_engine_value_has_both_labels():
    for table, keys in [(H.URGENCY, URGENCY_ORDER), (H.KIND, KIND_ORDER),
                        (H.EVIDENCE, ("verified", "secondary", "unverified")),
                        (H.OUTCOME, ("true", "false", "unknown"))]:
        for key in keys:
            assert table[key]["zh"] and table[key]["en"], key
    for key, entry in H.UI.items():
        assert set(entry) == {"zh", "en"}, key


def test_text_falls_back_to_the_key():
    assert H.text(H.URGENCY, "emergency", "en") == "Emergency"
    assert H.text(H.URGENCY, "no-such", "zh") == "no-such"


def test_group_by_urgency_puts_emergency_first_and_keeps_order():
    items = [{"urgency": u, "id": f"{u}{i}"} for i, u in enumerate(["info", "routine", "emergency", "urgent",
                                                                     "emergency"])]
    groups = H.group_by_urgency(items)
    assert [u for u, _ in groups] == ["emergency", "urgent", "routine", "info"]
    assert [s["id"] for s in groups[0][1]] == ["emergency2", "emergency4"]
    assert H.group_by_urgency([]) == []


def test_format_time_and_value():
    assert H.format_time("2026-11-22T08:40:00+08:00") == "2026-11-22 08:40 (+08:00)"
    assert H.format_time("2019-06-01") == "2019-06-01"
    assert H.format_time(None) == ""
    assert H.format_time("garbage") == "garbage"
    assert H.format_value(196.0) == "196"
    assert H.format_value(True).startswith("是")


def test_diff_packs_finds_added_removed_and_changed_rules(registry):
    old = registry.versions("htn-community")[0]
    first, second, *rest = old.rules
    changed_rule = first.rule.model_copy(update={"evidence": "verified" if first.rule.evidence != "verified"
                                                 else "unverified"})
    new_meta = old.meta.model_copy(update={"version": "9.9.9"})
    new = dataclasses.replace(old, meta=new_meta, rules=(dataclasses.replace(first, rule=changed_rule), *rest))
    diff = H.diff_packs(old, new)
    assert [r.full_id for r in diff.removed] == [second.full_id]
    assert diff.added == ()
    assert [c.rule_id for c in diff.changed] == [first.full_id]
    assert [f.path for f in diff.changed[0].changes] == ["evidence"]
    assert diff.meta == ()  # the version itself is not listed as a change
    assert not diff.empty
    assert H.diff_packs(old, old).empty
