"""Scan and recognition figures: files, folders, NDJSON; every unrecognised coding counted, sorted."""

from __future__ import annotations

import json
import lzma

import pytest

from cdss.errors import IntakeError
from cdss.intake.scan import input_files, scan_files
from cdss.intake.unrecognised import Tally
from tests.conftest import FIXTURES

SYNTHEA = FIXTURES / "bundles" / "synthea"
LOCAL = "urn:example:his-lab"


def _cond(code: str, system: str = "http://snomed.info/sct", status: str = "active") -> dict:
    return {"resourceType": "Condition", "code": {"coding": [{"system": system, "code": code, "display": "x"}]},
            "clinicalStatus": {"coding": [{"code": status}]}}


def test_tally_is_sorted_and_order_independent():
    a, b = Tally(), Tally()
    rows = [("Observation", [{"system": LOCAL, "code": "K1", "display": "钾"}]),
            ("Condition", [{"system": LOCAL, "code": "Z9"}]),
            ("Observation", [{"system": LOCAL, "code": "K1", "display": "血钾"}]),
            ("Observation", [{"system": LOCAL, "code": "K1", "display": "钾"}])]
    for rt, codings in rows:
        a.add(rt, codings)
    for rt, codings in reversed(rows):
        b.add(rt, codings)
    assert a.result() == b.result()
    assert [(u.resource_type, u.code, u.display, u.count) for u in a.result()] == [
        ("Condition", "Z9", None, 1), ("Observation", "K1", "钾", 3)]


def test_scan_reads_folders_xz_and_ndjson(tmp_path, registry):
    (tmp_path / "a.ndjson").write_text("\n".join(json.dumps(r) for r in [
        _cond("38341003"), _cond("unknown-1", LOCAL), _cond("unknown-1", LOCAL, "resolved")]) + "\n")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": _cond("unknown-2", LOCAL)}]}
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json.xz").write_bytes(lzma.compress(json.dumps(bundle).encode()))
    (tmp_path / "notes.txt").write_text("ignored")
    files = input_files([tmp_path])
    assert [f.name for f in files] == ["a.ndjson", "b.json.xz"]
    scan = scan_files(files, registry.concepts)
    assert [(u.code, u.count) for u in scan.unrecognised] == [("unknown-1", 2), ("unknown-2", 1)]
    assert scan.groups["Condition"].resources == 4 and scan.groups["Condition"].recognised == 1
    assert scan.groups["Condition (active)"].resources == 3


def test_scan_names_the_line_of_bad_ndjson(tmp_path, registry):
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(_cond("1")) + "\n{not json\n")
    with pytest.raises(IntakeError) as err:
        scan_files(input_files([path]), registry.concepts)
    assert err.value.problems[0].line == 2 and err.value.code == "not-json"


def test_scan_of_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(IntakeError, match="no such file"):
        input_files([tmp_path / "nope.json"])


def test_synthea_fixtures_recognition_is_measured(registry):
    scan = scan_files(input_files([SYNTHEA]), registry.concepts)
    summary = scan.summary_json()["recognition"]
    assert summary["Observation"]["resources"] > 1000
    assert 0 < summary["Condition (active)"]["share"] <= 1
