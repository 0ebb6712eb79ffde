"""`cdss batch`: a hand-computed population through the local engine and through Spark (local mode).

The population (now = 2026-12-01; one centre, two family-doctor teams; visits counted back from now):

| resident | age | condition | follow-ups (days ago) | latest value | yearly check | team / doctor |
|---|---|---|---|---|---|---|
| h1 | 60 | HTN  | 10, 100, 190, 280      | 130/80 | -      | team-1 / dr-li   |
| h2 | 70 | HTN  | 20, 110                | 145/85 | -      | team-1 / dr-li   |
| h3 | 50 | HTN  | 5, 80, 160, 240, 320   | 150/95 | -      | team-2 / dr-wang |
| h4 | 55 | HTN  | none                   | -      | -      | unsigned (Patient.generalPractitioner dr-wang) |
| d1 | 66 | T2DM | 15, 105, 195, 285      | FPG 6.5 | 15 d  | team-2 / dr-wang |
| d2 | 45 | T2DM | 30                     | FPG 7.8 | -     | team-1 / dr-li   |
| e1 | 80 | -    | -                      | -      | 200 d  | team-2 / dr-wang |
| e2 | 64 | -    | -                      | -      | -      | unsigned (a Bundle file, not NDJSON) |
| c1 | 30 | -    | -                      | LDL-C 5.5 | -   | unsigned (a statin card, pregnancy status unknown) |
| ghost | - | an Observation whose Patient is missing -> errors.ndjson |

Expected (numerator / denominator):
- htn_standard_management_rate: overall 2/3 (h1, h3 of h1-h3; h4 has no follow-up: not managed);
  team-1 1/2, team-2 1/1.
- htn_bp_control_rate: overall 2/3 (h1 130/80; h2 145/85 is at target at 70, <150/90; h3 150/95 is not);
  team-1 2/2, team-2 0/1.
- t2dm_standard_management_rate: overall 1/2 (d1); team-1 0/1, team-2 1/1.
- t2dm_glucose_control_rate: overall 1/2 (d1 6.5 < 7.0; d2 7.8); team-1 0/1, team-2 1/1.
- elderly_health_management_rate: overall 2/3 (aged >=65: h2, d1, e1; checked: d1, e1); team-1 0/1,
  team-2 2/2.
Doctors match their teams (h4's doctor dr-wang adds no denominator). The centre equals the overall figures.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cdss.packs.registry import default_registry
from cdss.population.run import parse_period, run_batch
from cdss.testing.factories import CaseFact, bundle_from_facts

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
TEAMS = {"team-1": "dr-li", "team-2": "dr-wang"}


def _htn(visits: list[int], sbp: float, dbp: float) -> list[CaseFact]:
    out = [CaseFact(has="hypertension", days_ago=1500)]
    for d in visits:
        out += [CaseFact(has="htn_followup_visit", days_ago=d)]
    if visits:
        out += [CaseFact(concept="sbp", value=sbp, days_ago=visits[0]), CaseFact(concept="dbp", value=dbp,
                                                                             days_ago=visits[0])]
    return out


def _t2dm(visits: list[int], fpg: float) -> list[CaseFact]:
    out = [CaseFact(has="t2dm", days_ago=1500)] + [CaseFact(has="t2dm_followup_visit", days_ago=d) for d in visits]
    return out + [CaseFact(concept="fpg", value=fpg, days_ago=visits[0])]


RESIDENTS = {
    "h1": (60, _htn([10, 100, 190, 280], 130, 80), "team-1"),
    "h2": (70, _htn([20, 110], 145, 85), "team-1"),
    "h3": (50, _htn([5, 80, 160, 240, 320], 150, 95), "team-2"),
    "h4": (55, _htn([], 0, 0), None),
    "d1": (66, _t2dm([15, 105, 195, 285], 6.5) + [CaseFact(has="annual_health_check", days_ago=15)], "team-2"),
    "d2": (45, _t2dm([30], 7.8), "team-1"),
    "e1": (80, [CaseFact(has="annual_health_check", days_ago=200)], "team-2"),
    # a woman of 30, pregnancy status unknown: the statin card carries a caution to confirm it (no indicator)
    "c1": (30, [CaseFact(concept="ldl_c", value=5.5, days_ago=10)], None),
}


def _write_population(folder: Path) -> Path:
    """The population as a Bulk Data export (resources shuffled) plus one Bundle file."""
    registry = default_registry()
    contract = registry.concepts.by_id["family_doctor_contract"].codes[0]
    by_type: dict[str, list[dict]] = {}

    def emit(res: dict) -> None:
        by_type.setdefault(res["resourceType"], []).append(res)

    emit({"resourceType": "Organization", "id": "centre-a", "name": "测试社区卫生服务中心"})
    for team, doctor in TEAMS.items():
        emit({"resourceType": "Practitioner", "id": doctor, "name": [{"family": "医生", "given": [doctor]}]})
        emit({"resourceType": "CareTeam", "id": team, "status": "active", "name": f"家庭医生{team}",
              "participant": [{"member": {"reference": f"Practitioner/{doctor}"}}]})
    for pid, (age, facts, team) in RESIDENTS.items():
        bundle = bundle_from_facts(facts, concepts=registry.concepts, now=NOW, age_years=age, sex="female",
                                   patient_id=pid)
        for entry in bundle["entry"]:
            res = dict(entry["resource"])
            if res["resourceType"] == "Patient":
                res["managingOrganization"] = {"reference": "Organization/centre-a"}
                if pid == "h4":
                    res["generalPractitioner"] = [{"reference": "Practitioner/dr-wang"}]
            else:
                res["id"] = f"{pid}-{res['id']}"
                res["subject"] = {"reference": f"Patient/{pid}"}
            emit(res)
        if team:
            emit({"resourceType": "CareTeam", "id": f"{pid}-contract", "status": "active",
                  "category": [{"coding": [{"system": contract.system, "code": contract.code}]}],
                  "subject": {"reference": f"Patient/{pid}"}, "period": {"start": "2025-01-01"},
                  "managingOrganization": [{"reference": "Organization/centre-a"}],
                  "participant": [{"member": {"reference": f"Practitioner/{TEAMS[team]}"}},
                                  {"member": {"reference": f"CareTeam/{team}"}}]})
    emit({"resourceType": "Observation", "id": "ghost-1", "status": "final", "subject": {"reference": "Patient/ghost"},
          "code": {"coding": [{"system": registry.concepts.by_id["sbp"].codes[0].system,
                               "code": registry.concepts.by_id["sbp"].codes[0].code}]}})
    export = folder / "export"
    export.mkdir(parents=True)
    rnd = random.Random(7)
    for rtype, items in by_type.items():
        rnd.shuffle(items)  # the outputs must not depend on the input order
        (export / f"{rtype}.ndjson").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    e2 = bundle_from_facts([], concepts=registry.concepts, now=NOW, age_years=64, sex="male", patient_id="e2")
    (folder / "e2.json").write_text(json.dumps(e2))
    return folder


SUMMARIES: dict[str, dict] = {}


def _run(tmp_path: Path, engine: str, out: str) -> Path:
    inputs = [str(tmp_path / "in" / "export"), str(tmp_path / "in" / "e2.json")]
    SUMMARIES[out] = run_batch(inputs, tmp_path / out, now=NOW, period=parse_period(None, NOW), engine=engine,
                               workers=2)
    return tmp_path / out


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("batch")
    _write_population(base / "in")
    _run(base, "local", "local")
    return base


def _figures(out: Path) -> dict[tuple[str, str, str | None], tuple[int, int]]:
    data = json.loads((out / "indicators.json").read_text())
    return {(i["id"], i["group"]["level"], i["group"]["ref"]): (i["numerator"], i["denominator"])
            for i in data["indicators"]}


def test_indicators_match_the_hand_computed_population(population: Path):
    f = _figures(population / "local")
    expected = {
        "htn_standard_management_rate": ((2, 3), (1, 2), (1, 1)),
        "htn_bp_control_rate": ((2, 3), (2, 2), (0, 1)),
        "t2dm_standard_management_rate": ((1, 2), (0, 1), (1, 1)),
        "t2dm_glucose_control_rate": ((1, 2), (0, 1), (1, 1)),
        "elderly_health_management_rate": ((2, 3), (0, 1), (2, 2)),
    }
    for ind, (overall, team1, team2) in expected.items():
        assert f[(ind, "overall", None)] == overall, ind
        assert f[(ind, "centre", "Organization/centre-a")] == overall, ind
        assert f[(ind, "team", "CareTeam/team-1")] == team1, ind
        assert f[(ind, "team", "CareTeam/team-2")] == team2, ind
        assert f[(ind, "doctor", "Practitioner/dr-li")] == team1, ind
        assert f[(ind, "doctor", "Practitioner/dr-wang")] == team2, ind
    data = json.loads((population / "local" / "indicators.json").read_text())
    first = data["indicators"][0]
    assert first["value"] == round(2 / 3, 4) and first["title"]["zh"] == "高血压患者规范管理率"
    assert data["period"] == {"start": "2025-12-01", "end": "2026-12-01", "now": NOW.isoformat()}


def test_evaluations_are_one_line_per_patient_sorted_in_the_evaluate_contract(population: Path):
    lines = (population / "local" / "evaluations.ndjson").read_text().splitlines()
    patients = [json.loads(line)["patient"] for line in lines]
    assert patients == sorted(f"Patient/{p}" for p in [*RESIDENTS, "e2"])
    first = json.loads(lines[0])
    assert list(first) == ["patient", "now", "packs", "suggestions", "data_gaps", "notes", "superseded", "unrecognised",
                           "concept_maps", "differential"]  # the `cdss evaluate --format json` contract


def test_a_patient_without_data_is_reported_and_the_run_goes_on(population: Path):
    errors = [json.loads(line) for line in (population / "local" / "errors.ndjson").read_text().splitlines()]
    assert [(e["patient"], e["code"]) for e in errors] == [("Patient/ghost", "no-patient")]


def test_parquet_tables_name_patient_pack_version_and_rule(population: Path):
    s = pq.read_table(population / "local" / "suggestions.parquet").to_pylist()
    row = next(r for r in s if r["patient"] == "Patient/h3" and r["rule"].endswith("htn-visit-uncontrolled"))
    assert row["pack"] == "phs-chronic-followup" and row["pack_version"] and row["team"] == "CareTeam/team-2"
    members = pq.read_table(population / "local" / "indicator_members.parquet").to_pylist()
    elderly = sorted((m["patient"], m["in_numerator"]) for m in members
                     if m["indicator"] == "elderly_health_management_rate")
    assert elderly == [("Patient/d1", True), ("Patient/e1", True), ("Patient/h2", False)]
    assert pq.read_table(population / "local" / "data_gaps.parquet").num_rows >= 0


def test_parquet_suggestions_keep_the_cautions_of_the_evaluations(population: Path):
    """What to check before acting (c1's unknown pregnancy status) is not lost in the table an analyst reads."""
    rows = pq.read_table(population / "local" / "suggestions.parquet").to_pylist()
    got = {(r["patient"], r["suggestion_id"]): (r["cautions_zh"], r["cautions_en"]) for r in rows}
    expected = {}
    for line in (population / "local" / "evaluations.ndjson").read_text().splitlines():
        evaluation = json.loads(line)
        for s in evaluation["suggestions"]:
            cautions = s.get("cautions", [])
            expected[(evaluation["patient"], s["id"])] = ([c["zh"] for c in cautions], [c["en"] for c in cautions])
    assert got == expected
    assert any(zh for zh, _ in got.values())


def test_report_lists_the_overdue_residents_per_doctor(population: Path):
    html = (population / "local" / "report.html").read_text()
    assert "高血压患者规范管理率" in html and "<svg" in html and "http://" not in html.split("<svg", 1)[0]
    worklists = json.loads((population / "local" / "summary.json").read_text())["worklists"]
    overdue = worklists["Practitioner/dr-li"]["elderly-health-management/public-health/elderly-annual-service-overdue"]
    assert [r["patient"] for r in overdue["residents"]] == ["Patient/h2"]


def test_same_input_in_another_order_gives_the_same_bytes(population: Path, tmp_path: Path):
    export = population / "in" / "export"
    shuffled = tmp_path / "in" / "export"
    shuffled.mkdir(parents=True)
    for f in export.iterdir():
        lines = f.read_text().splitlines()
        (shuffled / f.name).write_text("\n".join(reversed(lines)) + "\n")
    (tmp_path / "in" / "e2.json").write_text((population / "in" / "e2.json").read_text())
    out = _run(tmp_path, "local", "again")
    for name in ("evaluations.ndjson", "indicators.json", "errors.ndjson"):
        assert (out / name).read_bytes() == (population / "local" / name).read_bytes(), name


@pytest.mark.slow  # starts a JVM: about 20-40 s
def test_spark_engine_gives_the_same_evaluations_and_indicators(population: Path):
    pytest.importorskip("pyspark")
    out = _run(population, "spark", "spark")
    # Regression: sortByKey's sampling pass once evaluated every patient a second time (2.4x the run time).
    assert SUMMARIES["spark"]["evaluations"] == len(RESIDENTS) + 2  # + e2 and the ghost (an error record)
    for name in ("evaluations.ndjson", "indicators.json", "errors.ndjson"):
        assert (out / name).read_bytes() == (population / "local" / name).read_bytes(), name
