"""The question definitions: ids, groups, choices, sources and the official MNSI wording."""

from __future__ import annotations

import re

from b12brain.clinical import SOURCES
from b12brain.symptoms import (
    GROUP_IDS,
    QUESTION_IDS,
    QUESTIONS,
    QUESTIONS_BY_ID,
    questions_in,
)
from b12brain.symptoms.scoring import (
    MNSI_NOT_SCORED,
    MNSI_SCORED_IF_NO,
    MNSI_SCORED_IF_YES,
)

EXPECTED_IDS_BY_GROUP = {
    "demyelination": [
        "tingling_numbness", "difficulty_walking", "poor_muscle_control", "muscle_weakness",
        "shooting_pains", "clumsiness", "bladder_control", "poor_vision", "fatigue",
    ],
    "case_report": ["seizures", "partial_paralysis", "visual_problems", "gait_ataxia"],
    "cognitive_mood": ["memory_concentration", "mood_change"],
    "other": ["glossitis", "breathless_pallor"],
    "course": ["onset", "progression"],
    "exposure": ["nitrous_oxide"],
    "mnsi": [f"mnsi_{n}" for n in range(1, 16)],
}


def test_ids_by_group_are_the_published_keys() -> None:
    # The ids are the JSON keys users write: changing one breaks their files.
    assert GROUP_IDS == tuple(EXPECTED_IDS_BY_GROUP)
    for group, ids in EXPECTED_IDS_BY_GROUP.items():
        assert [q.id for q in questions_in([group])] == ids
    assert QUESTION_IDS == tuple(qid for ids in EXPECTED_IDS_BY_GROUP.values() for qid in ids)
    assert len(QUESTIONS) == 35 == len(set(QUESTION_IDS))


def test_every_question_is_well_formed() -> None:
    for question in QUESTIONS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", question.id), question.id
        assert question.source in SOURCES, question.id
        assert question.text.endswith("?"), question.id
        assert len(set(question.choices)) == len(question.choices) >= 2
        if question.kind == "yes_no":
            assert question.choices == ("yes", "no")
        else:
            assert question.kind == "choice"
        assert QUESTIONS_BY_ID[question.id] is question


def test_course_choices_include_not_sure() -> None:
    assert QUESTIONS_BY_ID["onset"].choices == ("days", "weeks", "months", "years", "not sure")
    assert QUESTIONS_BY_ID["progression"].choices == (
        "improving", "stable", "slowly worsening", "rapidly worsening", "not sure"
    )


def test_visual_items_are_worded_apart() -> None:
    assert QUESTIONS_BY_ID["poor_vision"].text != QUESTIONS_BY_ID["visual_problems"].text
    assert "new loss of vision" in QUESTIONS_BY_ID["visual_problems"].text  # a red flag: new loss, not poor vision


def test_nitrous_oxide_question_names_street_names() -> None:
    question = QUESTIONS_BY_ID["nitrous_oxide"]
    for name in ("laughing gas", "whippets", "nos"):
        assert name in question.help
    assert question.source == "NICE_NG239"


def test_mnsi_has_fifteen_items_in_official_wording() -> None:
    mnsi = questions_in(["mnsi"])
    assert len(mnsi) == 15
    assert all(q.source == "PHENX_MNSI" and q.kind == "yes_no" for q in mnsi)
    # Spot checks against PhenX protocol 140401, including both reverse-scored items.
    assert QUESTIONS_BY_ID["mnsi_1"].text == "Are your legs and/or feet numb?"
    assert QUESTIONS_BY_ID["mnsi_7"].text == (
        "When you get into the tub or shower, are you able to tell the hot water from the cold water?"
    )
    assert QUESTIONS_BY_ID["mnsi_13"].text == "Are you able to sense your feet when you walk?"
    assert QUESTIONS_BY_ID["mnsi_15"].text == "Have you ever had an amputation?"


def test_mnsi_scored_item_sets() -> None:
    assert MNSI_SCORED_IF_YES == (1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15)
    assert MNSI_SCORED_IF_NO == (7, 13)
    assert MNSI_NOT_SCORED == (4, 10)
    assert sorted(MNSI_SCORED_IF_YES + MNSI_SCORED_IF_NO + MNSI_NOT_SCORED) == list(range(1, 16))
