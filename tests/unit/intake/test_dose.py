"""A medication order's dose becomes a reading of the `quantity` concept coded like the drug (herb doses)."""

from __future__ import annotations

from cdss.intake.bundle import read_bundle

HERBS = "https://cdss.local/fhir/CodeSystem/tcm-herbs"


def _bundle(dose: dict | None) -> dict:
    order = {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": HERBS, "code": "xixin"}]},
             "authoredOn": "2026-11-22T08:00:00+08:00"}
    if dose is not None:
        order["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": dose}]}]
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}, {"resource": order}]}


def test_dose_in_grams_and_milligrams_is_read_in_grams(registry):
    for dose, grams in (({"value": 6, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}, 6.0),
                        ({"value": 1500, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}, 1.5)):
        facts = read_bundle(_bundle(dose), registry.concepts)
        assert [r.value for r in facts.readings["tcm_herb_xixin_dose"]] == [grams]
        assert facts.present["tcm_herb_xixin"][0].source == "MedicationRequest/m1"


def test_an_order_without_a_dose_is_still_the_herb(registry):
    facts = read_bundle(_bundle(None), registry.concepts)
    assert "tcm_herb_xixin" in facts.present and not facts.readings.get("tcm_herb_xixin_dose")
