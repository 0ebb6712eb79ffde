"""中医四诊 free text -> findings: tongue, coating and pulse components, symptoms, negation, and the intake hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdss.errors import PackError
from cdss.intake.bundle import read_bundle
from cdss.intake.tcm_text import load_vocabulary

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary()


def _read(vocab, text):
    found = vocab.parse(text)
    return ({f.code for f in found if not f.negated}, {f.code for f in found if f.negated})


@pytest.mark.parametrize(("text", "present"), [
    ("舌红，苔薄黄，脉浮数", {"tongue-red", "coating-thin", "coating-yellow", "pulse-floating", "pulse-rapid"}),
    ("舌红苔薄黄脉浮数", {"tongue-red", "coating-thin", "coating-yellow", "pulse-floating", "pulse-rapid"}),
    ("舌质红，舌苔薄黄，脉象浮数。", {"tongue-red", "coating-thin", "coating-yellow", "pulse-floating", "pulse-rapid"}),
    ("舌淡红, 苔薄白, 脉浮紧", {"tongue-pale-red", "coating-thin", "coating-white", "pulse-floating", "pulse-tight"}),
    ("淡红舌，薄白苔，浮数脉", {"tongue-pale-red", "coating-thin", "coating-white", "pulse-floating", "pulse-rapid"}),
    ("舌质淡，边有齿痕，苔白腻，脉濡缓", {"tongue-pale", "tongue-teeth-marks", "coating-white", "coating-greasy",
                                         "pulse-soggy", "pulse-moderate"}),
    ("舌体胖大，苔白厚腻", {"tongue-enlarged", "coating-white", "coating-thick", "coating-greasy"}),
    ("舌红少苔，脉细数", {"tongue-red", "coating-little", "pulse-thready", "pulse-rapid"}),
    ("舌红无苔", {"tongue-red", "coating-little"}),
    ("舌红少津，苔花剥", {"tongue-red", "tongue-dry", "coating-peeled"}),
    ("舌边尖红，苔薄黄", {"tongue-tip-edge-red", "coating-thin", "coating-yellow"}),
    ("舌暗红有瘀斑，脉涩", {"tongue-dark-purple", "tongue-stasis-spots", "pulse-choppy"}),
    ("舌紫黯，脉弦涩", {"tongue-dark-purple", "pulse-wiry", "pulse-choppy"}),
    ("脉沉细无力", {"pulse-deep", "pulse-thready", "pulse-weak"}),
    ("脉弦滑数", {"pulse-wiry", "pulse-slippery", "pulse-rapid"}),
    ("脉结代", {"pulse-intermittent"}),
    ("ＴＣＭ：舌红，苔黄腻；脉滑数", {"tongue-red", "coating-yellow", "coating-greasy", "pulse-slippery",
                                     "pulse-rapid"}),
    ("恶寒发热，无汗，头痛，鼻塞流清涕", {"aversion-cold", "fever", "no-sweating", "headache", "nasal-congestion",
                                         "clear-nasal-discharge"}),
    ("失眠多梦，心烦，口苦", {"insomnia", "dreaminess", "irritability", "bitter-taste"}),
    ("胃脘隐痛，喜温喜按，便溏", {"epigastric-pain", "relieved-by-warmth", "loose-stool"}),
    ("头晕目眩，耳鸣，腰膝酸软", {"dizziness", "tinnitus", "lumbar-knee-soreness"}),
])
def test_phrasings_give_the_findings(vocab, text, present):
    assert _read(vocab, text)[0] == present


@pytest.mark.parametrize(("text", "present", "negated"), [
    ("无口干", set(), {"dry-mouth"}),
    ("口干，无口苦", {"dry-mouth"}, {"bitter-taste"}),
    ("无恶寒发热", set(), {"aversion-cold", "fever"}),
    ("发热，不恶寒", {"fever"}, {"aversion-cold"}),
    ("否认胸痛，伴心悸", {"palpitation"}, {"chest-pain"}),
    ("未见咯血", set(), {"haemoptysis"}),
    ("没有明显头痛，但有头晕", {"dizziness"}, {"headache"}),
    ("苔薄白，无口干", {"coating-thin", "coating-white"}, {"dry-mouth"}),
    ("口不干", set(), set()),  # no false positive: 口干 is not in the text
])
def test_negation_scope(vocab, text, present, negated):
    assert _read(vocab, text) == (present, negated)


def test_terms_that_start_with_a_negation_word_are_findings(vocab):
    """无汗 and 不寐 are findings of their own; 无力 is a pulse quality, not a negation."""
    assert _read(vocab, "不寐，无汗，脉细无力")[0] == {"insomnia", "no-sweating", "pulse-thready", "pulse-weak"}


CLAUSES = ["舌红", "苔薄黄", "脉浮数", "咽痛", "无汗", "口渴", "不恶寒"]


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(CLAUSES), sep=st.sampled_from(["，", ",", "；", "。", " "]))
def test_clause_order_and_punctuation_do_not_matter(vocab, order, sep):
    assert _read(vocab, sep.join(order)) == _read(vocab, "，".join(CLAUSES))


def test_every_finding_names_a_catalogue_concept(vocab, registry):
    missing = sorted({c for c in vocab.concept_of.values()} - set(registry.concepts.by_id))
    assert not missing


def test_observation_with_free_text_makes_findings_present(registry):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01"}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                      "code": {"coding": [{"system": "urn:oid:2.16.156.10011.2.2.1", "code": "DE02.10.028.00"}]},
                      "effectiveDateTime": "2026-11-22T08:00:00+08:00",
                      "valueString": "舌红，苔薄黄，脉浮数，无口干"}}]}
    facts = read_bundle(bundle, registry.concepts)
    present = {c for c, items in facts.present.items() if items}
    assert {"tcm_tongue_red", "tcm_coating_thin", "tcm_coating_yellow", "tcm_pulse_floating",
            "tcm_pulse_rapid"} <= present
    assert "tcm_dry_mouth" not in present
    assert facts.present["tcm_tongue_red"][0].source == "Observation/o1"


def test_free_text_of_another_observation_is_not_parsed(registry):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p"}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                      "valueString": "舌红"}}]}
    assert "tcm_tongue_red" not in read_bundle(bundle, registry.concepts).present


def test_a_broken_vocabulary_is_a_clear_error(tmp_path):
    bad = tmp_path / "findings.yaml"
    bad.write_text("system: x\nfindings: []\n", encoding="utf-8")
    with pytest.raises(PackError, match="lacks or misuses a key") as exc:
        load_vocabulary(bad)
    assert exc.value.code == "bad-vocabulary" and str(bad) in str(exc.value)
    bad.write_text("[: not yaml", encoding="utf-8")
    with pytest.raises(PackError, match="cannot read"):
        load_vocabulary(bad)


def test_published_code_systems_match_the_vocabulary_and_the_concepts(vocab, registry):
    """The FHIR CodeSystem files sites map to list exactly the codes the project reads."""
    import json

    findings = json.loads((ROOT / "catalogue/tcm/tcm-findings.codesystem.json").read_text("utf-8"))
    assert findings["url"] == vocab.system
    assert {c["code"] for c in findings["concept"]} == set(vocab.concept_of)
    herbs = json.loads((ROOT / "catalogue/tcm/tcm-herbs.codesystem.json").read_text("utf-8"))
    used = {code.code for c in registry.concepts.source.concepts for code in c.codes if code.system == herbs["url"]}
    assert used and {c["code"] for c in herbs["concept"]} == used
