"""Symptom questionnaire: questions, answers files, MNSI score and red flags.

Typical use::

    from b12brain.symptoms import read_answers, assess_symptoms
    result = assess_symptoms(read_answers("answers.json"))
    print(result.format_text())

Decision support, not a diagnosis.
"""

from __future__ import annotations

from b12brain.symptoms.answers import (
    Answers,
    answers_schema,
    parse_answers,
    parse_answers_document,
    read_answers,
    write_answers,
)
from b12brain.symptoms.questionnaire import (
    GROUP_IDS,
    GROUPS,
    QUESTION_IDS,
    QUESTIONNAIRE_NAME,
    QUESTIONNAIRE_VERSION,
    QUESTIONS,
    QUESTIONS_BY_ID,
    Group,
    Question,
    questions_in,
)
from b12brain.symptoms.scoring import (
    CORD_RED_FLAGS,
    NEUROLOGICAL_RULE,
    OPTIC_NERVE_RED_FLAGS,
    RED_FLAG_CODES,
    SAME_DAY_RED_FLAGS,
    MnsiScore,
    SymptomResult,
    assess_symptoms,
    score_mnsi,
)

__all__ = [
    "CORD_RED_FLAGS",
    "OPTIC_NERVE_RED_FLAGS",
    "GROUPS",
    "GROUP_IDS",
    "NEUROLOGICAL_RULE",
    "QUESTIONNAIRE_NAME",
    "QUESTIONNAIRE_VERSION",
    "QUESTIONS",
    "QUESTIONS_BY_ID",
    "QUESTION_IDS",
    "RED_FLAG_CODES",
    "SAME_DAY_RED_FLAGS",
    "Answers",
    "Group",
    "MnsiScore",
    "Question",
    "SymptomResult",
    "answers_schema",
    "assess_symptoms",
    "parse_answers",
    "parse_answers_document",
    "questions_in",
    "read_answers",
    "score_mnsi",
    "write_answers",
]
