"""Population inputs: keyed by patient, read in ranges (Spark) exactly once, bad lines reported with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdss.errors import ConfigError
from cdss.population.local import bucket_count, partition, read_bucket
from cdss.population.run import parse_period
from cdss.population.sources import chunks, expand, patient_key, read_all, read_range


def test_patient_key_reads_patient_subject_and_urn_references():
    assert patient_key({"resourceType": "Patient", "id": "p1"}) == "p1"
    assert patient_key({"resourceType": "Observation", "subject": {"reference": "Patient/p2"}}) == "p2"
    assert patient_key({"resourceType": "AllergyIntolerance", "patient": {"reference": "urn:uuid:abc"}}) == "abc"
    assert patient_key({"resourceType": "Observation", "subject": {"reference": "Group/g1"}}) is None
    assert patient_key({"resourceType": "Organization", "id": "o1"}) is None


def test_ranges_of_a_large_ndjson_file_read_every_line_exactly_once(tmp_path: Path):
    f = tmp_path / "Observation.ndjson"
    lines = [json.dumps({"resourceType": "Observation", "id": f"o{i}", "subject": {"reference": f"Patient/p{i % 7}"},
                         "pad": "x" * (i % 13)}) for i in range(300)]
    f.write_text("\n".join(lines) + "\n")
    ranges = chunks([f], size=997)
    assert len(ranges) > 5
    ids = [json.loads(item.payload)["id"] for r in ranges for item in read_range(*r)]
    assert sorted(ids) == sorted(f"o{i}" for i in range(300))


def test_a_bad_line_is_reported_with_file_and_line_and_the_rest_is_read(tmp_path: Path):
    f = tmp_path / "Patient.ndjson"
    f.write_text('{"resourceType": "Patient", "id": "a"}\n{not json\n{"resourceType": "Patient", "id": "b"}\n')
    items = list(read_all([f]))
    assert [i.key for i in items if i.kind == "resource"] == ["a", "b"]
    (error,) = [json.loads(i.payload) for i in items if i.kind == "error"]
    assert error["source"] == f"{f}:2" and error["code"] == "not-json"


def test_partition_puts_a_patients_resources_in_one_bucket(tmp_path: Path):
    f = tmp_path / "all.ndjson"
    res = [{"resourceType": "Patient", "id": f"p{i}"} for i in range(20)]
    res += [{"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": f"Patient/p{i % 20}"}}
            for i in range(60)]
    f.write_text("".join(json.dumps(r) + "\n" for r in reversed(res)))
    paths, errors, shared = partition(read_all([f]), tmp_path, 4)
    seen: dict[str, int] = {}
    for p in paths:
        for key, items in read_bucket(p):
            assert key not in seen
            seen[key] = len(items)
    assert seen == {f"p{i}": 4 for i in range(20)} and not errors and not shared


def test_bucket_count_grows_with_the_input_and_is_capped():
    assert bucket_count(0, 2) == 8
    assert bucket_count(10 * 2**30, 2) == 321
    assert bucket_count(10**15, 2) == 4096


def test_missing_input_and_bad_period_are_clear_errors(tmp_path: Path):
    with pytest.raises(ConfigError) as exc:
        expand([str(tmp_path / "nope")])
    assert exc.value.problems[0].code == "input-missing"
    with pytest.raises(ConfigError) as exc:
        parse_period("2026", None)  # type: ignore[arg-type]
    assert exc.value.problems[0].code == "bad-period"


def test_cli_batch_bad_period_exits_2_with_one_line(tmp_path: Path):
    from cdss.cli import _register, app

    _register()
    result = CliRunner().invoke(app, ["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--period", "x"])
    assert result.exit_code == 2
    assert "bad-period" in result.output
