"""MNSI scoring on worked examples, neurological involvement and the red flags."""

from __future__ import annotations

import json

import pytest

from b12brain.clinical import DISCLAIMER
from b12brain.symptoms import (
    CORD_RED_FLAGS,
    OPTIC_NERVE_RED_FLAGS,
    RED_FLAG_CODES,
    SAME_DAY_RED_FLAGS,
    MnsiScore,
    assess_symptoms,
    parse_answers,
    score_mnsi,
)

# --- MNSI worked examples -------------------------------------------------------------------

def test_healthy_answers_score_zero(healthy: dict[str, str]) -> None:
    assert score_mnsi(healthy) == MnsiScore(score=0, abnormal=False, abnormal_newer=False, answered=15, maximum=13)


def test_all_yes_scores_eleven() -> None:
    # "yes" on the 11 forward items; items 7 and 13 score only for "no"; 4 and 10 never.
    assert score_mnsi({f"mnsi_{n}": "yes" for n in range(1, 16)}) == MnsiScore(11, True, True, 15)


def test_all_no_scores_two() -> None:
    # Only the two reverse-scored items (7: cannot tell hot from cold; 13: cannot sense feet).
    assert score_mnsi({f"mnsi_{n}": "no" for n in range(1, 16)}) == MnsiScore(2, False, False, 15)


def test_mixed_example_computed_by_hand() -> None:
    answers = {f"mnsi_{n}": "no" for n in range(1, 16)}
    yes = (1, 3, 4, 6, 9, 10, 11, 13, 14)
    answers.update({f"mnsi_{n}": "yes" for n in yes})
    # yes on 1, 3, 6, 9, 11, 14 -> 6 points; 4 and 10 unscored; 7 "no" -> +1; 13 "yes" -> 0.
    assert score_mnsi(answers) == MnsiScore(7, True, True, 15)
    answers["mnsi_7"] = "yes"
    assert score_mnsi(answers) == MnsiScore(6, False, True, 15)


@pytest.mark.parametrize("item", range(1, 16))
def test_each_item_alone(healthy: dict[str, str], item: int) -> None:
    flipped = dict(healthy)
    flipped[f"mnsi_{item}"] = "no" if healthy[f"mnsi_{item}"] == "yes" else "yes"
    expected = 0 if item in (4, 10) else 1
    score = score_mnsi(flipped)
    assert score is not None and score.score == expected


@pytest.mark.parametrize(
    ("yes_items", "score", "abnormal", "abnormal_newer"),
    [((1, 2, 3), 3, False, False), ((1, 2, 3, 5), 4, False, True),
     ((1, 2, 3, 5, 6, 8), 6, False, True), ((1, 2, 3, 5, 6, 8, 9), 7, True, True)],
)
def test_thresholds_on_both_sides(
    healthy: dict[str, str], yes_items: tuple[int, ...], score: int, abnormal: bool, abnormal_newer: bool
) -> None:
    healthy.update({f"mnsi_{n}": "yes" for n in yes_items})
    assert score_mnsi(healthy) == MnsiScore(score, abnormal, abnormal_newer, 15)


def test_unscored_items_may_be_left_out(healthy: dict[str, str]) -> None:
    del healthy["mnsi_4"], healthy["mnsi_10"]
    assert score_mnsi(healthy) == MnsiScore(0, False, False, 13)


def test_no_score_when_a_scored_item_is_missing(healthy: dict[str, str]) -> None:
    del healthy["mnsi_7"], healthy["mnsi_12"]
    assert score_mnsi(healthy) is None
    result = assess_symptoms(parse_answers(healthy))
    assert result.mnsi is None
    assert "2 of the 13 scored items unanswered (mnsi_7, mnsi_12)" in result.mnsi_note


def test_note_when_mnsi_not_answered() -> None:
    result = assess_symptoms(parse_answers({"fatigue": "no"}))
    assert result.mnsi is None
    assert result.mnsi_note == "MNSI questionnaire not answered; no score."


def test_note_reports_both_cutoffs(healthy: dict[str, str]) -> None:
    healthy.update(mnsi_1="yes", mnsi_2="yes", mnsi_3="yes", mnsi_5="yes")
    note = assess_symptoms(parse_answers(healthy)).mnsi_note
    assert note.startswith("MNSI questionnaire score 4 of 13: not abnormal by the original cut-off (>= 7), "
                           "abnormal by the newer cut-off (>= 4)")
    assert "PhenX protocol 140401 [V]" in note


# --- the whole result --------------------------------------------------------------------------

def test_healthy_answers_have_no_findings(healthy: dict[str, str]) -> None:
    result = assess_symptoms(parse_answers(healthy))
    assert result.present == ()
    assert result.neurological_involvement is False
    assert result.neurological_symptoms == ()
    assert result.red_flags == ()
    assert result.unanswered == ()
    assert (result.onset, result.progression) == ("not sure", "stable")


MNSI_ABNORMAL = {f"mnsi_{n}": "yes" for n in (1, 2, 3, 5, 6, 8, 9)}  # score 7


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({"gait_ataxia": "yes"}, ["neurological_symptoms", "gait_ataxia_or_falls"]),
        ({"difficulty_walking": "yes"}, ["neurological_symptoms"]),  # not gait ataxia unless unsteady or falls
        ({"bladder_control": "yes"}, ["neurological_symptoms", "bladder_symptoms"]),
        ({"poor_vision": "yes"}, ["neurological_symptoms"]),  # poor vision is not visual loss
        ({"visual_problems": "yes"}, ["neurological_symptoms", "visual_loss"]),
        ({"seizures": "yes"}, ["neurological_symptoms", "seizures"]),
        ({"partial_paralysis": "yes"}, ["neurological_symptoms", "partial_paralysis"]),
        ({"progression": "rapidly worsening"}, ["rapid_progression"]),
        ({"nitrous_oxide": "yes"}, ["nitrous_oxide"]),
        ({"fatigue": "yes"}, []),  # fatigue alone is not a neurological red flag
        ({"tingling_numbness": "yes"}, ["neurological_symptoms"]),
        (MNSI_ABNORMAL, ["neurological_symptoms"]),
        ({"memory_concentration": "yes", "mood_change": "yes"}, []),
        ({"glossitis": "yes", "breathless_pallor": "yes"}, []),
        ({"progression": "slowly worsening", "onset": "weeks"}, []),
        ({"mnsi_1": "yes", "mnsi_2": "yes", "mnsi_3": "yes", "mnsi_5": "yes", "mnsi_6": "yes", "mnsi_8": "yes"}, []),
    ],
)
def test_red_flag_triggers(healthy: dict[str, str], changes: dict[str, str], codes: list[str]) -> None:
    healthy.update(changes)
    result = assess_symptoms(parse_answers(healthy))
    assert [flag.code for flag in result.red_flags] == codes
    assert result.neurological_involvement is ("neurological_symptoms" in codes)


def test_red_flag_sources_and_wording(healthy: dict[str, str]) -> None:
    for qid in ("gait_ataxia", "bladder_control", "visual_problems", "seizures", "partial_paralysis", "nitrous_oxide"):
        healthy[qid] = "yes"
    healthy["progression"] = "rapidly worsening"
    flags = {flag.code: flag for flag in assess_symptoms(parse_answers(healthy)).red_flags}
    assert tuple(flags) == RED_FLAG_CODES
    neuro = flags["neurological_symptoms"]
    assert (neuro.source, neuro.level) == ("NICE_CKS", "S")
    assert "if B12 deficiency is suspected" in neuro.message and "urgent" in neuro.message
    for code in RED_FLAG_CODES[1:]:  # b12brain's red-flag list: the tool's own, no borrowed source
        assert (flags[code].source, flags[code].level) == ("B12BRAIN", "U")
        assert "a red flag (urgent" in flags[code].message and "same-day" not in flags[code].message
    assert "b12brain's own addition" in flags["partial_paralysis"].message
    assert flags["visual_loss"].message.startswith("New loss of vision reported")
    assert flags["gait_ataxia_or_falls"].message.startswith("Unsteady walking or falls reported")
    assert SAME_DAY_RED_FLAGS == CORD_RED_FLAGS | OPTIC_NERVE_RED_FLAGS == {
        "gait_ataxia_or_falls", "bladder_symptoms", "partial_paralysis", "visual_loss"}


def test_fatigue_counts_as_a_symptom_not_as_neurological_involvement(healthy: dict[str, str]) -> None:
    result = assess_symptoms(parse_answers(healthy | {"fatigue": "yes"}))
    assert result.present == ("fatigue",) and result.any_symptom
    assert result.neurological_involvement is False and result.neurological_symptoms == ()
    assert not assess_symptoms(parse_answers(healthy)).any_symptom


def test_present_and_neurological_symptoms(healthy: dict[str, str]) -> None:
    healthy.update(glossitis="yes", clumsiness="yes", gait_ataxia="yes", mood_change="yes", mnsi_1="yes")
    healthy.update(MNSI_ABNORMAL)
    result = assess_symptoms(parse_answers(healthy))
    assert result.present == ("clumsiness", "gait_ataxia", "mood_change", "glossitis")  # questionnaire order
    assert result.neurological_symptoms == (
        "frequent clumsiness", "gait ataxia (unsteady walking, falls)", "MNSI questionnaire score 7 of 13",
    )
    assert "frequent clumsiness; gait ataxia" in result.red_flags[0].message


def test_partial_answers_list_unanswered() -> None:
    result = assess_symptoms(parse_answers({"seizures": "no", "onset": "years"}))
    assert len(result.unanswered) == 33
    assert "seizures" not in result.unanswered and "onset" not in result.unanswered
    assert result.unanswered[:2] == ("tingling_numbness", "difficulty_walking")
    assert (result.onset, result.progression) == ("years", None)


def test_as_dict_is_json_ready_with_disclaimer(healthy: dict[str, str]) -> None:
    healthy.update(seizures="yes")
    result = assess_symptoms(parse_answers(healthy))
    data = json.loads(json.dumps(result.as_dict()))
    assert data["disclaimer"] == DISCLAIMER
    assert data["present"] == ["seizures"]
    assert data["neurological_involvement"] is True
    assert data["mnsi"]["score"] == 0 and data["mnsi"]["maximum"] == 13 and data["mnsi"]["abnormal_from"] == 7
    assert [flag["code"] for flag in data["red_flags"]] == ["neurological_symptoms", "seizures"]
    assert data["red_flags"][1]["citation"].endswith("[U]")
    assert data["answers"]["seizures"] == "yes"


def test_format_text(healthy: dict[str, str]) -> None:
    healthy.update(nitrous_oxide="yes", memory_concentration="yes")
    text = assess_symptoms(parse_answers(healthy)).format_text()
    assert "35 of 35 questions answered" in text
    assert "Symptoms reported: memory or concentration problems" in text
    assert "Neurological involvement: no" in text
    assert "MNSI questionnaire score 0 of 13" in text
    assert "Recreational nitrous oxide use reported" in text
    assert text.endswith(DISCLAIMER)
    assert "Red flags: none reported" in assess_symptoms(parse_answers({})).format_text()
