"""Fixtures of the symptom tests: a complete set of healthy answers."""

from __future__ import annotations

import pytest

from b12brain.symptoms import QUESTIONS


def healthy_answers() -> dict[str, str]:
    """Every question answered the healthy way: no symptom, stable course, MNSI score 0.

    MNSI items 7 (can tell hot from cold water) and 13 (can sense the feet) are "yes" when
    healthy; every other item is "no".
    """
    answers = {q.id: "no" for q in QUESTIONS if q.kind == "yes_no"}
    answers.update(onset="not sure", progression="stable", mnsi_7="yes", mnsi_13="yes")
    return answers


@pytest.fixture
def healthy() -> dict[str, str]:
    return healthy_answers()
