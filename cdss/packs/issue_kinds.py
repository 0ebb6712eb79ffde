"""Packs: the kinds of medication problem a `medication` rule may name (`then.issue`).

Codes of HL7 v3 ActCode (http://terminology.hl7.org/CodeSystem/v3-ActCode) in the FHIR value set
DetectedIssueCategory (http://hl7.org/fhir/ValueSet/detectedissue-category, the preferred binding of
DetectedIssue.code), rendered as that code on the DetectedIssue of the rule's alert. Only codes verified
in both places are listed: the value set's expansion in FHIR R4B 4.3.0 and R5 5.0.0 (cross-version tables
of GinoCanessa/fhir-cross-version-source, docs/R4B|R5/ValueSets/DetectedIssueCategory.md) and each code's
display and definition in HL7/UTG input/sourceOfTruth/v3/codeSystems/v3-ActCode.xml (read 2026-12-01).
The newest THO edition of the value set lists `DRUG` displayed "Drug Interaction Alert", but in ActCode
`DRUG` is "Drug therapy"; `DRG` is the interaction alert in ActCode and in the R4B and R5 value sets, so
`DRG` is used. Add a code only after checking it the same way; never invent one.
"""

from __future__ import annotations

from typing import Literal

ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# code -> (ActCode display, what it is for, from the ActCode definition)
ISSUE_KINDS: dict[str, tuple[str, str]] = {
    "ALGY": ("Allergy Alert", "the therapy may be contraindicated by a recorded allergy to the product"),
    "COND": ("Condition Alert", "the therapy may be contraindicated by an existing or recent condition"),
    "DRG": ("Drug Interaction Alert", "the therapy may interact with an existing or recent drug therapy"),
    "DUPTHPY": ("Duplicate Therapy Alert", "the therapy appears to duplicate an existing therapy"),
    "GEN": ("Genetic Alert", "the therapy may be contraindicated by the patient's genetic indicators"),
    "INT": ("Intolerance Alert", "the therapy may be contraindicated by a recorded (non-immune) intolerance "
                                 "to the product"),
    "LAB": ("Lab Alert", "the therapy may be contraindicated by recent lab test results"),
}
IssueKind = Literal["ALGY", "COND", "DRG", "DUPTHPY", "GEN", "INT", "LAB"]
