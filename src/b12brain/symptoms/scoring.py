"""Scoring the questionnaire: the MNSI score, neurological involvement and the red flags.

Rules (listed with their sources in the project's ``docs/clinical-reference.md``):

* MNSI questionnaire [V, PhenX protocol 140401]: 1 point for "yes" on items 1-3, 5-6, 8-9,
  11-12, 14-15 and for "no" on items 7 and 13; items 4 and 10 are not scored; maximum 13;
  a score >= 7 is abnormal, >= 4 in newer use (both are reported). The score needs all 13
  scored items; otherwise it is None and the note names the unanswered items.
* Neurological involvement (:data:`NEUROLOGICAL_RULE`): any "yes" in the ``demyelination``
  group (the seed article's list) or the ``case_report`` group, except chronic fatigue
  (fatigue alone is not a neurological red flag), or an abnormal MNSI score (>= 7).
* Red flags that make the assessment "urgent" (b12brain's red-flag list [U]): unsteady walking
  or falls (gait ataxia); bladder symptoms; new loss of vision; seizures; rapidly worsening
  symptoms; suspected nitrous oxide use; and partial paralysis, b12brain's own addition.
  Any neurological symptom with a suspected deficiency is urgent too (NICE CKS [S]).
  The words are kept as answered: "poor vision" is not visual loss and "difficulty walking"
  is not gait ataxia (both are neurological symptoms, not red flags on their own).
* With a suspected deficiency, the cord and optic-nerve flags (:data:`SAME_DAY_RED_FLAGS`)
  make it "same-day" (NHS Lothian [V]); whether a deficiency is suspected is decided by the
  lab interpretation and the assessment step, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from b12brain.clinical import DISCLAIMER, SOURCES, EvidenceLevel, Finding
from b12brain.symptoms.answers import Answers
from b12brain.symptoms.questionnaire import (
    NEUROLOGICAL_GROUPS,
    NO,
    QUESTIONNAIRE_NAME,
    QUESTIONNAIRE_VERSION,
    QUESTIONS,
    QUESTIONS_BY_ID,
    SYMPTOM_GROUPS,
    YES,
)

# MNSI questionnaire scoring, PhenX protocol 140401 [V].
MNSI_SCORED_IF_YES: tuple[int, ...] = (1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15)
MNSI_SCORED_IF_NO: tuple[int, ...] = (7, 13)
MNSI_NOT_SCORED: tuple[int, ...] = (4, 10)
MNSI_MAXIMUM = 13
MNSI_ABNORMAL_SCORE = 7
MNSI_ABNORMAL_SCORE_NEWER = 4

#: Symptoms of the neurological groups that do not count as neurological involvement alone.
NOT_NEUROLOGICAL: tuple[str, ...] = ("fatigue",)
NEUROLOGICAL_RULE = (
    "any 'yes' in the demyelination or case-report symptoms of the seed article except chronic fatigue "
    f"(fatigue alone is not a neurological red flag), or an MNSI questionnaire score >= {MNSI_ABNORMAL_SCORE} "
    f"of {MNSI_MAXIMUM} (PhenX protocol 140401)"
)

#: Red-flag codes, in the order they are reported.
RED_FLAG_CODES: tuple[str, ...] = (
    "neurological_symptoms",
    "gait_ataxia_or_falls",
    "bladder_symptoms",
    "visual_loss",
    "seizures",
    "rapid_progression",
    "nitrous_oxide",
    "partial_paralysis",
)
#: Red flags b12brain reads as possible spinal-cord involvement [U] (sensory ataxia, bladder
#: dysfunction, paraparesis are cord signs of subacute combined degeneration).
CORD_RED_FLAGS: frozenset[str] = frozenset({"gait_ataxia_or_falls", "bladder_symptoms", "partial_paralysis"})
#: Red flags b12brain reads as possible optic-nerve involvement [U].
OPTIC_NERVE_RED_FLAGS: frozenset[str] = frozenset({"visual_loss"})
#: Red flags that, with a suspected deficiency, make the assessment "same-day" (NHS Lothian [V]).
SAME_DAY_RED_FLAGS: frozenset[str] = CORD_RED_FLAGS | OPTIC_NERVE_RED_FLAGS
_RED_FLAG_LIST = "b12brain's red-flag list"


@dataclass(frozen=True)
class MnsiScore:
    """The MNSI questionnaire score [V, PhenX protocol 140401].

    Attributes
    ----------
    score : int
        0 to 13.
    abnormal : bool
        ``score >= 7`` (the original cut-off).
    abnormal_newer : bool
        ``score >= 4`` (the cut-off of newer use).
    answered : int
        How many of the 15 MNSI items were answered (13 to 15: items 4 and 10 are optional).
    maximum : int
        13.
    """

    score: int
    abnormal: bool
    abnormal_newer: bool
    answered: int
    maximum: int = MNSI_MAXIMUM

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the two cut-offs and the citation."""
        return {
            "score": self.score,
            "maximum": self.maximum,
            "abnormal": self.abnormal,
            "abnormal_newer": self.abnormal_newer,
            "answered": self.answered,
            "abnormal_from": MNSI_ABNORMAL_SCORE,
            "abnormal_newer_from": MNSI_ABNORMAL_SCORE_NEWER,
            "citation": f"{SOURCES['PHENX_MNSI']} [V]",
        }


def _mnsi_id(number: int) -> str:
    return f"mnsi_{number}"


def _missing_scored_items(answers: Mapping[str, str]) -> tuple[str, ...]:
    scored = sorted(MNSI_SCORED_IF_YES + MNSI_SCORED_IF_NO)
    return tuple(_mnsi_id(n) for n in scored if _mnsi_id(n) not in answers)


def score_mnsi(answers: Mapping[str, str]) -> MnsiScore | None:
    """Score the MNSI questionnaire; None unless all 13 scored items are answered.

    1 point for "yes" on items 1-3, 5-6, 8-9, 11-12, 14-15 and for "no" on items 7 and 13;
    items 4 and 10 are not scored; maximum 13; >= 7 abnormal, >= 4 abnormal in newer use
    [V, PhenX protocol 140401].

    Parameters
    ----------
    answers : Answers or mapping of str to str
        Validated answers (``"mnsi_1"`` ... ``"mnsi_15"`` as ``"yes"``/``"no"``).

    Returns
    -------
    MnsiScore or None
        None when any of the 13 scored items is unanswered.

    Examples
    --------
    Numb feet (item 1), burning pain (2), symptoms worse at night (11), and no longer able to
    tell hot from cold water (item 7 "no"); every other item answered the healthy way:

    >>> answers = {f"mnsi_{n}": "no" for n in range(1, 16)}
    >>> answers.update(mnsi_7="no", mnsi_13="yes", mnsi_1="yes", mnsi_2="yes", mnsi_11="yes")
    >>> score_mnsi(answers)
    MnsiScore(score=4, abnormal=False, abnormal_newer=True, answered=15, maximum=13)
    >>> del answers["mnsi_13"]
    >>> score_mnsi(answers) is None
    True
    """
    if _missing_scored_items(answers):
        return None
    score = sum(answers[_mnsi_id(n)] == YES for n in MNSI_SCORED_IF_YES)
    score += sum(answers[_mnsi_id(n)] == NO for n in MNSI_SCORED_IF_NO)
    answered = sum(_mnsi_id(n) in answers for n in range(1, 16))
    return MnsiScore(
        score=score,
        abnormal=score >= MNSI_ABNORMAL_SCORE,
        abnormal_newer=score >= MNSI_ABNORMAL_SCORE_NEWER,
        answered=answered,
    )


def _mnsi_note(answers: Mapping[str, str], mnsi: MnsiScore | None) -> str:
    if mnsi is not None:
        original = "abnormal" if mnsi.abnormal else "not abnormal"
        newer = "abnormal" if mnsi.abnormal_newer else "not abnormal"
        return (
            f"MNSI questionnaire score {mnsi.score} of {mnsi.maximum}: {original} by the original cut-off "
            f"(>= {MNSI_ABNORMAL_SCORE}), {newer} by the newer cut-off (>= {MNSI_ABNORMAL_SCORE_NEWER}) "
            f"({SOURCES['PHENX_MNSI']} [V])."
        )
    if not any(_mnsi_id(n) in answers for n in range(1, 16)):
        return "MNSI questionnaire not answered; no score."
    missing = _missing_scored_items(answers)
    return (
        f"MNSI score not computed: {len(missing)} of the {MNSI_MAXIMUM} scored items unanswered "
        f"({', '.join(missing)}); the score needs all of them."
    )


def _red_flag(code: str, what: str, source: str = "B12BRAIN", level: EvidenceLevel = "U") -> Finding:
    return Finding(code, f"{what}: a red flag (urgent; {_RED_FLAG_LIST})", source, level)


def _red_flags(answers: Answers, neurological: tuple[str, ...]) -> tuple[Finding, ...]:
    """The red flags present, in :data:`RED_FLAG_CODES` order."""
    flags: list[Finding] = []
    if neurological:
        flags.append(Finding(
            "neurological_symptoms",
            f"Neurological symptoms reported ({'; '.join(neurological)}): if B12 deficiency is suspected, "
            "neurological involvement makes specialist (haematology) advice and prompt treatment urgent",
            "NICE_CKS", "S"))
    if answers.is_yes("gait_ataxia"):
        flags.append(_red_flag("gait_ataxia_or_falls", "Unsteady walking or falls reported (gait ataxia)"))
    if answers.is_yes("bladder_control"):
        flags.append(_red_flag("bladder_symptoms", "Poor bladder control reported"))
    if answers.is_yes("visual_problems"):
        flags.append(_red_flag("visual_loss", "New loss of vision reported"))
    if answers.is_yes("seizures"):
        flags.append(_red_flag("seizures", "Seizures reported"))
    if answers.get("progression") == "rapidly worsening":
        flags.append(_red_flag("rapid_progression", "Symptoms rapidly worsening"))
    if answers.is_yes("nitrous_oxide"):
        flags.append(_red_flag("nitrous_oxide", "Recreational nitrous oxide use reported"))
    if answers.is_yes("partial_paralysis"):
        flags.append(Finding(
            "partial_paralysis",
            f"Partial paralysis reported: a red flag (urgent; b12brain's own addition to {_RED_FLAG_LIST}, "
            "from the seed article's case report)", "B12BRAIN", "U"))
    return tuple(flags)


@dataclass(frozen=True)
class SymptomResult:
    """What the questionnaire answers show. Not a diagnosis.

    Attributes
    ----------
    answers : Answers
        The validated answers.
    present : tuple of str
        Ids answered "yes" in the groups demyelination, case_report, cognitive_mood, other.
    neurological_involvement : bool
        :data:`NEUROLOGICAL_RULE`: any "yes" in demyelination or case_report except chronic
        fatigue, or MNSI >= 7.
    neurological_symptoms : tuple of str
        Short names (:attr:`Question.name`) of the present demyelination/case_report
        symptoms, plus the MNSI score when it is abnormal.
    red_flags : tuple of Finding
        The §6 red flags present, codes from :data:`RED_FLAG_CODES`.
    mnsi : MnsiScore or None
        None unless all 13 scored MNSI items are answered.
    mnsi_note : str
        One sentence on the MNSI score, or on why there is none (naming unanswered items).
    onset, progression : str or None
        The course answers (None when unanswered; "not sure" is kept as such).
    unanswered : tuple of str
        Ids of every question without an answer, in questionnaire order.
    """

    answers: Answers
    present: tuple[str, ...]
    neurological_involvement: bool
    neurological_symptoms: tuple[str, ...]
    red_flags: tuple[Finding, ...]
    mnsi: MnsiScore | None
    mnsi_note: str
    onset: str | None
    progression: str | None
    unanswered: tuple[str, ...]

    @property
    def any_symptom(self) -> bool:
        """At least one symptom reported (any group) or an abnormal MNSI score."""
        return bool(self.present) or (self.mnsi is not None and self.mnsi.abnormal)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the rule used and the disclaimer."""
        return {
            "questionnaire": QUESTIONNAIRE_NAME,
            "version": QUESTIONNAIRE_VERSION,
            "answers": dict(self.answers),
            "present": list(self.present),
            "neurological_involvement": self.neurological_involvement,
            "neurological_involvement_rule": NEUROLOGICAL_RULE,
            "neurological_symptoms": list(self.neurological_symptoms),
            "red_flags": [flag.as_dict() for flag in self.red_flags],
            "mnsi": None if self.mnsi is None else self.mnsi.as_dict(),
            "mnsi_note": self.mnsi_note,
            "onset": self.onset,
            "progression": self.progression,
            "unanswered": list(self.unanswered),
            "disclaimer": DISCLAIMER,
        }

    def format_text(self) -> str:
        """A plain-text report of a few lines, ending with the disclaimer."""
        answered = len(QUESTIONS) - len(self.unanswered)
        names = [QUESTIONS_BY_ID[qid].name for qid in self.present]
        lines = [
            (
                f"Symptom questionnaire ({QUESTIONNAIRE_NAME} {QUESTIONNAIRE_VERSION}): "
                f"{answered} of {len(QUESTIONS)} questions answered"
            ),
            "Symptoms reported: " + ("; ".join(names) if names else "none"),
            f"Neurological involvement: {'yes' if self.neurological_involvement else 'no'} (rule: {NEUROLOGICAL_RULE})",
            f"Onset: {self.onset or 'not answered'}; progression: {self.progression or 'not answered'}",
            self.mnsi_note,
        ]
        if self.red_flags:
            lines.append("Red flags:")
            lines += [f"  - {flag}" for flag in self.red_flags]
        else:
            lines.append("Red flags: none reported")
        if self.unanswered:
            lines.append(f"Unanswered ({len(self.unanswered)}): {', '.join(self.unanswered)}")
        lines.append(f"Not a diagnosis: {DISCLAIMER}")
        return "\n".join(lines)


def assess_symptoms(answers: Answers) -> SymptomResult:
    """Apply the symptom rules (module docstring) to validated answers.

    Parameters
    ----------
    answers : Answers
        From :func:`~b12brain.symptoms.parse_answers` or
        :func:`~b12brain.symptoms.read_answers`.

    Returns
    -------
    SymptomResult

    Examples
    --------
    >>> from b12brain.symptoms import parse_answers
    >>> result = assess_symptoms(parse_answers({"gait_ataxia": "yes", "progression": "stable"}))
    >>> result.present, result.neurological_involvement
    (('gait_ataxia',), True)
    >>> [flag.code for flag in result.red_flags]
    ['neurological_symptoms', 'gait_ataxia_or_falls']
    """
    present = tuple(
        q.id for q in QUESTIONS if q.group in SYMPTOM_GROUPS and answers.is_yes(q.id)
    )
    neurological = [QUESTIONS_BY_ID[qid].name for qid in present
                    if QUESTIONS_BY_ID[qid].group in NEUROLOGICAL_GROUPS and qid not in NOT_NEUROLOGICAL]
    mnsi = score_mnsi(answers)
    if mnsi is not None and mnsi.abnormal:
        neurological.append(f"MNSI questionnaire score {mnsi.score} of {mnsi.maximum}")
    return SymptomResult(
        answers=answers,
        present=present,
        neurological_involvement=bool(neurological),
        neurological_symptoms=tuple(neurological),
        red_flags=_red_flags(answers, tuple(neurological)),
        mnsi=mnsi,
        mnsi_note=_mnsi_note(answers, mnsi),
        onset=answers.get("onset"),
        progression=answers.get("progression"),
        unanswered=answers.unanswered,
    )
