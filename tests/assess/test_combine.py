"""assess(): one worked example per urgency rule of the combine.py docstring, the result's form,
and write_assessment."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from b12brain import __version__
from b12brain.assess import (
    ASSESSMENT_SCHEMA_VERSION,
    Assessment,
    ImagingPattern,
    assess,
    describe_imaging,
    write_assessment,
)
from b12brain.clinical import DISCLAIMER, SOURCES, URGENCY_ORDER
from b12brain.errors import ConfigError
from b12brain.labs import LabResult, interpret_panel, parse_panel
from b12brain.symptoms import QUESTIONS, SymptomResult, assess_symptoms, parse_answers

NORMAL_FOUR = {"b12": "350 pmol/L", "holotc": "90 pmol/L", "mma": "0.2 umol/L", "homocysteine": "10 umol/L", "age": 50}
LOW_FOUR = {"b12": "120 pmol/L", "holotc": "20 pmol/L", "mma": "0.8 umol/L", "homocysteine": "25 umol/L", "age": 50}
CLASSES = ("periventricular", "deep", "juxtacortical", "infratentorial")


def labs(**fields: Any) -> LabResult:
    return interpret_panel(parse_panel(fields, "panel.json"))


def symptoms(**answers: Any) -> SymptomResult:
    return assess_symptoms(parse_answers(answers, "answers.json"))


def healthy_answers() -> dict[str, str]:
    """Every question answered the healthy way (as tests/symptoms/conftest.py builds it)."""
    answers = {q.id: "no" for q in QUESTIONS if q.kind == "yes_no"}
    answers.update(onset="not sure", progression="stable", mnsi_7="yes", mnsi_13="yes")
    return answers


def imaging(ml: dict[str, float], count: dict[str, int], pv_grade: int = 1, deep_grade: int = 0) -> ImagingPattern:
    ml_by_class = {c: 0.0 for c in CLASSES} | ml
    count_by_class = {c: 0 for c in CLASSES} | count
    return describe_imaging({
        "lesions": {"lesion_count": sum(count_by_class.values()), "lesion_ml": sum(ml_by_class.values()),
                    "ml_by_class": ml_by_class, "count_by_class": count_by_class},
        "fazekas_estimate": {"periventricular": pv_grade, "deep": deep_grade},
    }, "summary.json")


def pv_pattern() -> ImagingPattern:
    return imaging({"periventricular": 4.0, "deep": 1.0}, {"periventricular": 2, "deep": 2}, pv_grade=2)


def no_lesions() -> ImagingPattern:
    return imaging({}, {}, pv_grade=0)


def pairs(result: Assessment) -> list[tuple[str, str]]:
    return [(level, finding.code) for level, finding in result.reasons]


def reason(result: Assessment, code: str) -> tuple[str, Any]:
    return next((level, f) for level, f in result.reasons if f.code == code)


# --- same-day ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ({"gait_ataxia": "yes"}, "same_day_spinal_cord"),
        ({"bladder_control": "yes"}, "same_day_spinal_cord"),
        ({"partial_paralysis": "yes"}, "same_day_spinal_cord"),
        ({"visual_problems": "yes"}, "same_day_optic_nerve"),
    ],
)
def test_cord_or_optic_signs_with_suspected_deficiency_are_same_day(answers: dict[str, str], code: str) -> None:
    result = assess(labs(b12="120 pmol/L"), symptoms(**(healthy_answers() | answers)))
    assert result.urgency == "same-day"
    level, finding = result.reasons[0]
    assert (level, finding.code) == ("same-day", code)
    assert (finding.source, finding.level) == ("NHS_LOTHIAN", "V") and "same-day assessment" in finding.message
    assert "b12brain reads these answers" in finding.message
    assert result.summary.startswith("Summary: urgency same-day; B12 status deficiency confirmed (NICE NG239); "
                                     "next step: Suspected B12 deficiency with possible")


def test_cord_signs_without_suspected_deficiency_are_urgent_not_same_day() -> None:
    result = assess(labs(b12="400 pmol/L"), symptoms(**(healthy_answers() | {"gait_ataxia": "yes"})))
    assert result.urgency == "urgent" and "same-day" not in [level for level, _ in result.reasons]


def test_spinal_mri_suggested_for_cord_signs() -> None:
    result = assess(symptoms=symptoms(gait_ataxia="yes"))
    mri = next(f for f in result.suggestions if f.code == "spinal_mri")
    assert "cervical and thoracic spine" in mri.message and (mri.source, mri.level) == ("NICE_TREATMENT", "S")
    assert mri.message.startswith("For the clinician to decide: ")
    assert not any(f.code == "spinal_mri" for f in assess(symptoms=symptoms(tingling_numbness="yes")).suggestions)


# --- urgent ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ({"gait_ataxia": "yes"}, "gait_ataxia_or_falls"),
        ({"bladder_control": "yes"}, "bladder_symptoms"),
        ({"visual_problems": "yes"}, "visual_loss"),
        ({"seizures": "yes"}, "seizures"),
        ({"partial_paralysis": "yes"}, "partial_paralysis"),
        ({"progression": "rapidly worsening"}, "rapid_progression"),
    ],
)
def test_each_questionnaire_red_flag_is_urgent(answers: dict[str, str], code: str) -> None:
    # Markers say deficiency is unlikely, so nothing but the red flag can make this urgent.
    panel = labs(b12="400 pmol/L")
    assert panel.suspected_deficiency is False and panel.urgency == "routine"
    answered = symptoms(**(healthy_answers() | answers))
    result = assess(panel, answered)
    assert result.urgency == "urgent"
    urgent = [c for level, c in pairs(result) if level == "urgent"]
    assert urgent == [code]
    flag = next(f for f in answered.red_flags if f.code == code)
    assert reason(result, code) == ("urgent", flag)


@pytest.mark.parametrize("answer", ["difficulty_walking", "poor_vision", "fatigue"])
def test_words_as_answered_are_not_red_flags(answer: str) -> None:
    """Issue 17: 'poor vision' became visual loss, 'difficulty walking' gait ataxia, fatigue a neurological red flag."""
    result = assess(labs(b12="400 pmol/L"), symptoms(**(healthy_answers() | {answer: "yes"})))
    assert not [level for level, _ in result.reasons if level in ("urgent", "same-day")]


def test_chronic_fatigue_with_indeterminate_b12_is_not_urgent() -> None:
    """Issue 17: chronic fatigue alone with an indeterminate B12 once gave URGENT haematology."""
    result = assess(labs(b12="250 pmol/L"), symptoms(**(healthy_answers() | {"fatigue": "yes"})))
    assert result.neurological_involvement == "no"
    assert result.suspected_deficiency is True  # indeterminate with a symptom
    assert result.urgency == "routine"
    assert "test_mma" in [f.code for f in result.next_tests]  # indeterminate with symptoms: consider MMA


def test_red_flag_alone_without_labs_is_urgent() -> None:
    result = assess(symptoms=symptoms(nitrous_oxide="yes"))
    assert result.urgency == "urgent"
    assert pairs(result) == [("urgent", "nitrous_oxide")]  # nitrous oxide is not a neurological symptom
    assert result.neurological_involvement == "no"
    assert result.b12_status == "not assessed" and result.suspected_deficiency is None


@pytest.mark.parametrize(
    ("panel", "status"),
    [
        ({"b12": "120 pmol/L"}, "deficiency confirmed"),
        ({"b12": "250 pmol/L"}, "indeterminate"),  # suspected once the questionnaire's symptoms are read
        ({"b12": "250 pmol/L", "mma": "0.5 umol/L"}, "deficiency likely"),
    ],
    ids=["confirmed", "indeterminate", "mma-raised"],
)
def test_neurological_symptoms_with_suspected_deficiency_are_urgent(panel: dict[str, Any], status: str) -> None:
    lab = labs(**panel)
    assert lab.b12_status == status and lab.urgency != "urgent"  # the panel alone does not say neurological_symptoms
    result = assess(lab, symptoms(tingling_numbness="yes"))
    assert result.urgency == "urgent"
    assert result.neurological_involvement == "yes" and result.suspected_deficiency is True
    level, finding = reason(result, "neurological_symptoms_with_suspected_deficiency")
    assert level == "urgent"
    assert finding.source == "NICE_CKS" and finding.level == "S"
    assert finding.citation == f"{SOURCES['NICE_CKS']} [S]"
    assert "symptoms_despite_normal_markers" not in [c for _, c in pairs(result)]
    assert result.labs is not None and result.labs.neurological_reported  # the panel was read with the answers
    assert "treat_neurological" in [f.code for f in result.suggestions]


def test_neurological_symptoms_from_the_panel_with_suspected_deficiency_are_urgent() -> None:
    result = assess(labs(b12="200 pmol/L", neurological_symptoms=True))
    assert result.neurological_involvement == "yes"
    assert result.urgency == "urgent"
    # The lab interpretation's own "urgent_neurological" says the same: one reason per rule.
    assert pairs(result) == [("urgent", "neurological_symptoms_with_suspected_deficiency")]
    assert result.labs is not None and "urgent_neurological" in [r.code for r in result.labs.urgency_reasons]


def test_nitrous_oxide_in_labs_and_answers_is_one_reason() -> None:
    result = assess(labs(b12="400 pmol/L", nitrous_oxide=True), symptoms(nitrous_oxide="yes"))
    assert result.urgency == "urgent"
    assert pairs(result) == [("urgent", "nitrous_oxide")]


def test_nitrous_oxide_answer_reaches_the_lab_rules() -> None:
    """Issue 17: nitrous oxide with a normal total B12 once read "deficiency unlikely, suspected: no"."""
    result = assess(labs(b12="400 pmol/L"), symptoms(**(healthy_answers() | {"nitrous_oxide": "yes"})))
    assert result.b12_status == "indeterminate" and result.suspected_deficiency is True
    assert result.labs is not None and result.labs.nitrous_oxide_reported
    assert {"test_hcy_mma_nitrous"} <= {f.code for f in result.next_tests}
    assert "treat_nitrous_oxide" in [f.code for f in result.suggestions]


def test_lab_interpretation_urgent_on_its_own() -> None:
    lab = labs(b12="300 pmol/L", nitrous_oxide=True)
    assert lab.urgency == "urgent"
    result = assess(lab)
    assert result.urgency == "urgent"
    assert ("urgent", "urgent_nitrous_oxide") in pairs(result)


# --- soon -----------------------------------------------------------------------------------------

def test_lab_interpretation_soon_on_its_own() -> None:
    result = assess(labs(**LOW_FOUR))
    assert result.b12_status == "deficiency confirmed"
    assert result.urgency == "soon"
    assert pairs(result) == [("soon", "soon_deficiency")]


def test_neurological_symptoms_with_normal_markers_are_soon() -> None:
    lab = labs(b12="400 pmol/L", holotc="90 pmol/L")
    assert lab.b12_status == "deficiency unlikely" and lab.suspected_deficiency is False and lab.urgency == "routine"
    result = assess(lab, symptoms(**(healthy_answers() | {"muscle_weakness": "yes"})))
    assert result.urgency == "soon"
    assert pairs(result) == [("soon", "symptoms_despite_normal_markers")]
    finding = reason(result, "symptoms_despite_normal_markers")[1]
    assert finding.source == "BSH_2014" and finding.level == "V" and "BSH 2014" in finding.citation
    assert "do not delay treatment" in finding.message


def test_neurological_symptoms_without_labs_are_soon() -> None:
    result = assess(symptoms=symptoms(tingling_numbness="yes"))
    assert result.urgency == "soon"
    assert pairs(result) == [("soon", "b12_not_measured")]
    finding = reason(result, "b12_not_measured")[1]
    assert finding.source == "NICE_NG239" and "NICE NG239" in finding.citation
    assert "test total or active B12" in finding.message
    assert result.b12_status == "not assessed" and result.suspected_deficiency is None


def test_abnormal_mnsi_counts_as_neurological_involvement() -> None:
    answers = healthy_answers() | {f"mnsi_{n}": "yes" for n in (1, 2, 3, 5, 6, 8, 9)}  # score 7
    result = assess(symptoms=symptoms(**answers))
    assert result.neurological_involvement == "yes"
    assert pairs(result) == [("soon", "b12_not_measured")]


def test_neurological_symptoms_with_no_b12_marker_measured_say_not_measured() -> None:
    lab = labs(age=70, folate="20 nmol/L")
    assert lab.b12_status == "not assessable" and lab.suspected_deficiency is False
    result = assess(lab, symptoms(tingling_numbness="yes"))
    assert result.urgency == "soon"
    assert pairs(result) == [("soon", "b12_not_measured")]


def test_panel_neurological_symptoms_count_when_answers_say_none() -> None:
    lab = labs(b12="100 pmol/L", neurological_symptoms=True)
    result = assess(lab, symptoms())
    assert result.neurological_involvement == "yes"
    assert result.urgency == "urgent"


@pytest.mark.parametrize("pattern", ["periventricular", "confluent"])
def test_b12_pattern_with_suspected_deficiency_is_soon(pattern: str) -> None:
    lab = labs(b12="200 pmol/L", age=70)  # indeterminate with a risk factor: suspected, routine on its own
    assert lab.suspected_deficiency is True and lab.urgency == "routine"
    image = pv_pattern() if pattern == "periventricular" else imaging({"periventricular": 5.0}, {"periventricular": 1}, pv_grade=3)
    assert image.consistent_with_b12 and not image.points_to_other_causes
    result = assess(lab, imaging=image)
    assert result.urgency == "soon"
    assert pairs(result) == [("soon", "b12_pattern_with_suspected_deficiency")]
    finding = reason(result, "b12_pattern_with_suspected_deficiency")[1]
    assert (finding.source, finding.level) == ("B12BRAIN", "U") and "b12brain's rule" in finding.message
    assert "do not delay" not in finding.message  # BSH's sentence is about lab results, not imaging
    assert image.pattern in finding.message


def test_deep_confluence_with_suspected_deficiency_is_routine() -> None:
    deep = imaging({"deep": 5.0}, {"deep": 1}, pv_grade=0, deep_grade=2)
    assert deep.pattern == "confluent deep lesions" and not deep.consistent_with_b12
    assert assess(labs(b12="200 pmol/L", age=70), imaging=deep).urgency == "routine"


def test_b12_pattern_without_suspected_deficiency_is_routine() -> None:
    assert assess(labs(b12="400 pmol/L"), imaging=pv_pattern()).urgency == "routine"
    alone = assess(imaging=pv_pattern())
    assert alone.urgency == "routine" and alone.reasons == ()
    assert alone.suspected_deficiency is None and alone.neurological_involvement == "not assessed"


def test_other_pattern_with_suspected_deficiency_is_routine() -> None:
    deep = imaging({"periventricular": 1.0, "deep": 4.0}, {"periventricular": 1, "deep": 3})
    assert deep.pattern == "deep-predominant"
    result = assess(labs(b12="200 pmol/L", age=70), imaging=deep)
    assert result.urgency == "routine" and result.reasons == ()


@pytest.mark.parametrize(
    ("ml", "count"),
    [
        ({"periventricular": 1.0, "juxtacortical": 0.2}, {"periventricular": 2, "juxtacortical": 1}),
        ({"periventricular": 1.0, "infratentorial": 0.2}, {"periventricular": 2, "infratentorial": 1}),
        ({"periventricular": 3.0, "deep": 1.0}, {"periventricular": 4, "deep": 5}),  # 9 discrete lesions
    ],
    ids=["juxtacortical", "infratentorial", "nine-discrete"],
)
def test_ms_pointing_imaging_is_soon(ml: dict[str, float], count: dict[str, int]) -> None:
    image = imaging(ml, count)
    assert image.points_to_other_causes
    result = assess(imaging=image)
    assert result.urgency == "soon"
    assert pairs(result) == [("soon", "other_cause_imaging_features")]
    finding = reason(result, "other_cause_imaging_features")[1]
    assert finding.source == "B12BRAIN" and finding.level == "U"


def test_one_juxtacortical_lesion_beside_deep_lesions_is_routine() -> None:
    """Issue 17: one juxtacortical dot once gave 'deep-predominant' and urgency 'soon'."""
    result = assess(imaging=imaging({"deep": 2.0, "juxtacortical": 0.05}, {"deep": 2, "juxtacortical": 1}))
    assert result.urgency == "routine"


# --- routine --------------------------------------------------------------------------------------

def test_healthy_everything_is_routine() -> None:
    result = assess(labs(**NORMAL_FOUR), symptoms(**healthy_answers()), no_lesions())
    assert result.urgency == "routine"
    assert result.reasons == ()
    assert result.b12_status == "deficiency unlikely" and result.suspected_deficiency is False
    assert result.neurological_involvement == "no"
    assert result.imaging is not None and result.imaging.pattern == "none"
    assert result.next_tests == () and result.suggestions == ()
    assert result.summary == "Summary: urgency routine; B12 status deficiency unlikely (NICE NG239); next step: none suggested"


def test_no_evidence_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least one of lab results, symptom answers or an MRI summary"):
        assess()
    with pytest.raises(ConfigError):
        assess(None, None, None)


# --- order and uniqueness of reasons --------------------------------------------------------------

def test_reasons_most_urgent_first() -> None:
    result = assess(labs(**LOW_FOUR), symptoms(tingling_numbness="yes", seizures="yes", gait_ataxia="yes"),
                    imaging({"periventricular": 1.0, "juxtacortical": 0.2}, {"periventricular": 2, "juxtacortical": 1}))
    levels = [URGENCY_ORDER.index(level) for level, _ in result.reasons]
    assert levels == sorted(levels, reverse=True)
    assert [c for level, c in pairs(result) if level == "same-day"] == ["same_day_spinal_cord"]
    assert [c for level, c in pairs(result) if level == "urgent"] == [
        "gait_ataxia_or_falls", "seizures", "neurological_symptoms_with_suspected_deficiency"]
    assert {c for level, c in pairs(result) if level == "soon"} == {
        "soon_deficiency", "b12_pattern_with_suspected_deficiency", "other_cause_imaging_features"}
    assert result.urgency == "same-day"


def test_reasons_unique_by_code() -> None:
    answered = symptoms(seizures="yes", gait_ataxia="yes")
    flag = next(f for f in answered.red_flags if f.code == "seizures")
    doubled = dataclasses.replace(answered, red_flags=(*answered.red_flags, flag, flag))
    result = assess(symptoms=doubled)
    codes = [c for _, c in pairs(result)]
    assert len(codes) == len(set(codes))
    assert pairs(result) == [("urgent", "gait_ataxia_or_falls"), ("urgent", "seizures"), ("soon", "b12_not_measured")]


def test_each_lab_reason_keeps_its_own_level() -> None:
    """A 'soon' lab rule stays 'soon' when another lab rule makes the panel urgent."""
    lab = labs(b12="120 pmol/L", nitrous_oxide=True)
    assert lab.urgency == "urgent"
    assert [r.code for r in lab.urgency_reasons] == ["urgent_nitrous_oxide", "soon_deficiency"]
    result = assess(lab)
    assert pairs(result) == [("urgent", "urgent_nitrous_oxide"), ("soon", "soon_deficiency")]


# --- the result's forms ---------------------------------------------------------------------------

@pytest.fixture
def full() -> Assessment:
    return assess(labs(**LOW_FOUR), symptoms(**(healthy_answers() | {"tingling_numbness": "yes", "bladder_control": "yes"})),
                  pv_pattern())


def test_as_dict(full: Assessment) -> None:
    d = full.as_dict()
    assert {"schema_version", "disclaimer", "urgency", "reasons", "b12_status", "neurological_involvement", "imaging",
            "labs", "symptoms", "sources"} <= set(d)
    assert d["schema_version"] == ASSESSMENT_SCHEMA_VERSION == "1.1"
    assert d["software"] == {"name": "b12brain", "version": __version__}
    assert d["disclaimer"] == DISCLAIMER
    assert d["urgency"] == "same-day"
    assert [(r["urgency"], r["code"]) for r in d["reasons"]] == pairs(full)
    for r in d["reasons"]:
        assert set(r) >= {"urgency", "code", "message", "citation"}
        assert r["urgency"] in URGENCY_ORDER and r["citation"].endswith(("[V]", "[S]", "[U]"))
    assert d["b12_status"] == {"status": "deficiency confirmed", "suspected_deficiency": True, "cb12": -1.64,
                               "cb12_category": "possible deficiency"}
    assert d["summary"] == full.summary
    assert [f["code"] for f in d["next_tests"]] == ["test_anti_if", "test_folate", "test_egfr"]
    assert [f["code"] for f in d["suggestions"]] == ["treat_neurological", "no_folic_acid_alone", "follow_up",
                                                     "spinal_mri", "follow_up_imaging"]
    assert all(f["message"].startswith("For the clinician to decide: ") for f in d["suggestions"])
    assert "risk_age" not in [f["code"] for f in d["flags"]]
    neuro = d["neurological_involvement"]
    assert neuro["status"] == "yes"
    assert neuro["symptoms"] == ["painful tingling and numbness in hands and feet", "poor bladder control"]
    assert [f["code"] for f in neuro["red_flags"]] == ["neurological_symptoms", "bladder_symptoms"]
    assert d["imaging"]["pattern"] == "periventricular-predominant" and d["imaging"]["lesion_count"] == 4
    assert d["labs"]["cb12"] == -1.64 and d["labs"]["b12_status"] == "deficiency confirmed"
    assert d["symptoms"]["neurological_involvement"] is True
    assert d["sources"] == sorted(d["sources"]) and len(set(d["sources"])) == len(d["sources"])
    for r in d["reasons"]:
        assert r["citation"] in d["sources"]
    assert f"{SOURCES['DE_LAU_2009']} [V]" in d["sources"]  # the imaging finding's source
    assert "CLINICAL.md" not in json.dumps(d, ensure_ascii=False)


def test_as_dict_is_json_serialisable(full: Assessment) -> None:
    text = json.dumps(full.as_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["urgency"] == "same-day" and back["imaging"]["lesion_ml"] == 5.0
    only_imaging = json.loads(json.dumps(assess(imaging=no_lesions()).as_dict(), allow_nan=False))
    assert only_imaging["labs"] is None and only_imaging["symptoms"] is None
    assert only_imaging["b12_status"] == {"status": "not assessed", "suspected_deficiency": None, "cb12": None,
                                          "cb12_category": None}
    assert only_imaging["neurological_involvement"] == {"status": "not assessed", "symptoms": [], "red_flags": []}
    assert only_imaging["reasons"] == [] and only_imaging["urgency"] == "routine"
    assert only_imaging["next_tests"] == [] and only_imaging["flags"] == [] and only_imaging["suggestions"] == []


def test_format_text(full: Assessment) -> None:
    text = full.format_text()
    assert text.splitlines()[0] == full.summary
    assert full.summary.startswith("Summary: urgency same-day; B12 status deficiency confirmed (NICE NG239); next step: ")
    assert "Urgency: SAME-DAY" in text
    assert "B12 status: deficiency confirmed; suspected deficiency: yes" in text
    assert "B12 status deficiency confirmed by NICE NG239; cB12 -1.64 (possible deficiency on the cB12 scale)" in text
    for finding in (*full.next_tests, *full.suggestions):
        assert f"  - {finding}" in text
    assert "Next tests:" in text and "Suggestions for the clinician:" in text and "Confounders and risk factors:" in text
    assert "Neurological involvement: yes" in text
    assert "Imaging: periventricular-predominant; 4 lesions, 5.00 mL" in text
    assert "[urgent] Poor bladder control" in text and "[same-day] Suspected B12 deficiency" in text
    assert text.rstrip().endswith(DISCLAIMER)
    assert "Imaging: not given" in assess(symptoms=symptoms(fatigue="no")).format_text()


def test_write_assessment_is_atomic(full: Assessment, tmp_path: Path) -> None:
    path = write_assessment(full, tmp_path / "assessment.json")
    assert path == tmp_path / "assessment.json"
    assert [p.name for p in tmp_path.iterdir()] == ["assessment.json"]  # no temporary file left
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["urgency"] == "same-day" and written["schema_version"] == "1.1"
    assert [r["code"] for r in written["reasons"]] == [c for _, c in pairs(full)]


def test_write_assessment_failure_leaves_nothing(full: Assessment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "assessment.json"
    target.write_text("previous", encoding="utf-8")

    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("b12brain.assess.combine.json.dumps", boom)
    with pytest.raises(RuntimeError):
        write_assessment(full, target)
    assert [p.name for p in tmp_path.iterdir()] == ["assessment.json"]
    assert target.read_text(encoding="utf-8") == "previous"
