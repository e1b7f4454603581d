"""The b12brain symptom questionnaire: every question, its group, its choices and its source.

The items and their sources are listed in the project's ``docs/clinical-reference.md``:

* ``demyelination``: the seed article's list of demyelination symptoms;
* ``case_report``: what the seed article's case report adds;
* ``cognitive_mood`` and ``other``: the other recognised features §6 lists;
* ``course``: onset and progression (rapid progression is a §6 red flag);
* ``exposure``: recreational nitrous oxide (a §6 red flag and a NICE NG239 risk factor, §5);
* ``mnsi``: the 15 items of the Michigan Neuropathy Screening Instrument questionnaire, in the
  official wording of PhenX protocol 140401 (scored in :mod:`b12brain.symptoms.scoring`).

Question ids are short, stable snake_case names: they are the keys users write in answers
files, so they never change within a questionnaire version (:data:`QUESTIONNAIRE_VERSION`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

QuestionKind = Literal["yes_no", "choice"]

#: Name and version written in (and required of) every answers file.
QUESTIONNAIRE_NAME = "b12brain-symptoms"
QUESTIONNAIRE_VERSION = "1.0"

YES, NO = "yes", "no"
YES_NO: tuple[str, str] = (YES, NO)

#: Choices of the two course questions; "not sure" is always accepted there.
ONSET_CHOICES = ("days", "weeks", "months", "years", "not sure")
PROGRESSION_CHOICES = ("improving", "stable", "slowly worsening", "rapidly worsening", "not sure")


@dataclass(frozen=True)
class Group:
    """A heading under which questions are asked: ``id`` (used by ``--groups``), title, intro."""

    id: str
    title: str
    intro: str = ""


@dataclass(frozen=True)
class Question:
    """One question of the questionnaire.

    Attributes
    ----------
    id : str
        Stable snake_case key of the answers file (``"tingling_numbness"``, ``"mnsi_7"``).
    text : str
        The question as asked.
    kind : {"yes_no", "choice"}
        ``yes_no`` questions accept "yes"/"no"; ``choice`` questions one of ``choices``.
    choices : tuple of str
        The accepted answers, in the order they are offered.
    group : str
        Id of the :class:`Group` the question belongs to.
    source : str
        Key of :data:`b12brain.clinical.SOURCES` the item rests on.
    help : str
        Optional explanation shown under the question.
    label : str
        Short noun phrase naming the symptom in reports ("difficulty walking"); the text
        itself for questions that are not symptoms.
    """

    id: str
    text: str
    kind: QuestionKind
    choices: tuple[str, ...]
    group: str
    source: str
    help: str = ""
    label: str = ""

    @property
    def name(self) -> str:
        """What reports call the item: ``label`` when set, else ``text``."""
        return self.label or self.text


GROUPS: tuple[Group, ...] = (
    Group("demyelination", "Nerve symptoms (demyelination)", "Answer about how you have been recently."),
    Group("case_report", "Further nerve and brain symptoms"),
    Group("cognitive_mood", "Memory, concentration and mood"),
    Group("other", "Other signs"),
    Group("course", "Course of your symptoms", "If you have no symptoms, answer \"not sure\"."),
    Group("exposure", "Exposure"),
    Group(
        "mnsi",
        "Michigan Neuropathy Screening Instrument (MNSI) questionnaire",
        "Please answer these questions about the feeling in your legs and feet: "
        "yes or no, based on how you usually feel.",
    ),
)
GROUP_IDS: tuple[str, ...] = tuple(group.id for group in GROUPS)

#: Groups whose "yes" answers are symptoms (``SymptomResult.present``).
SYMPTOM_GROUPS: tuple[str, ...] = ("demyelination", "case_report", "cognitive_mood", "other")
#: Groups whose "yes" answers are neurological symptoms (``SymptomResult.neurological_involvement``).
NEUROLOGICAL_GROUPS: tuple[str, ...] = ("demyelination", "case_report")


def _yes_no(qid: str, text: str, group: str, source: str, label: str = "", help: str = "") -> Question:
    return Question(qid, text, "yes_no", YES_NO, group, source, help, label)


_SEED = "SEED_ARTICLE"

_CHECKLIST: tuple[Question, ...] = (
    # The seed article's list of demyelination symptoms.
    _yes_no("tingling_numbness", "Do you have painful tingling or numbness in your hands or feet?",
            "demyelination", _SEED, "painful tingling and numbness in hands and feet"),
    _yes_no("difficulty_walking", "Do you have difficulty walking?", "demyelination", _SEED, "difficulty walking"),
    _yes_no("poor_muscle_control", "Do you have poor control of your muscles (movements that are hard to control or coordinate)?",
            "demyelination", _SEED, "poor muscular control"),
    _yes_no("muscle_weakness", "Do you have muscle weakness?", "demyelination", _SEED, "muscle weakness"),
    _yes_no("shooting_pains", "Do you have shooting pains?", "demyelination", _SEED, "shooting pains",
            help="Sudden, sharp or electric-shock-like pains."),
    _yes_no("clumsiness", "Are you often clumsy (dropping or bumping into things)?", "demyelination", _SEED,
            "frequent clumsiness"),
    _yes_no("bladder_control", "Do you have poor bladder control?", "demyelination", _SEED, "poor bladder control",
            help="Leaking urine, sudden urgency, or difficulty passing urine."),
    _yes_no("poor_vision", "Has your eyesight become poor?", "demyelination", _SEED, "poor vision"),
    _yes_no("fatigue", "Do you have long-lasting tiredness (chronic fatigue)?", "demyelination", _SEED, "chronic fatigue"),
    # The seed article's case report adds these.
    _yes_no("seizures", "Have you had seizures (fits)?", "case_report", _SEED, "seizures"),
    _yes_no("partial_paralysis", "Have you had partial paralysis (been unable to move part of your body)?",
            "case_report", _SEED, "partial paralysis"),
    _yes_no("visual_problems", "Have you recently lost some of your sight (new loss of vision in one or both eyes)?",
            "case_report", _SEED, "visual problems (new loss of vision)"),
    _yes_no("gait_ataxia", "Is your walking unsteady, or have you had falls?", "case_report", _SEED,
            "gait ataxia (unsteady walking, falls)"),
    # Other recognised features.
    _yes_no("memory_concentration", "Do you have problems with memory or concentration?", "cognitive_mood", _SEED,
            "memory or concentration problems"),
    _yes_no("mood_change", "Has your mood changed (low mood, irritability)?", "cognitive_mood", _SEED,
            "mood change (low mood, irritability)"),
    _yes_no("glossitis", "Is your tongue sore and red?", "other", _SEED, "sore red tongue (glossitis)"),
    _yes_no("breathless_pallor", "Do you get breathless easily, or have you been told you look pale?", "other", _SEED,
            "breathlessness or pallor"),
    # Rapidly progressing symptoms are a red flag.
    Question("onset", "How long ago did your symptoms start?", "choice", ONSET_CHOICES, "course", _SEED,
             "Days, weeks, months or years ago."),
    Question("progression", "How have your symptoms changed over time?", "choice", PROGRESSION_CHOICES, "course", _SEED),
    # A risk factor (NICE NG239) and a red flag.
    _yes_no("nitrous_oxide", "Have you used nitrous oxide recreationally?", "exposure", "NICE_NG239",
            "recreational nitrous oxide use",
            help="Also called laughing gas, \"whippets\", \"nos\" or \"balloons\"."),
)

#: The 15 MNSI questionnaire items, official wording (PhenX protocol 140401).
MNSI_TEXTS: tuple[str, ...] = (
    "Are your legs and/or feet numb?",
    "Do you ever have any burning pain in your legs and/or feet?",
    "Are your feet too sensitive to touch?",
    "Do you get muscle cramps in your legs and/or feet?",
    "Do you ever have any prickling feelings in your legs or feet?",
    "Does it hurt when the bed covers touch your skin?",
    "When you get into the tub or shower, are you able to tell the hot water from the cold water?",
    "Have you ever had an open sore on your foot?",
    "Has your doctor ever told you that you have diabetic neuropathy?",
    "Do you feel weak all over most of the time?",
    "Are your symptoms worse at night?",
    "Do your legs hurt when you walk?",
    "Are you able to sense your feet when you walk?",
    "Is the skin on your feet so dry that it cracks open?",
    "Have you ever had an amputation?",
)

_MNSI: tuple[Question, ...] = tuple(
    _yes_no(f"mnsi_{number}", text, "mnsi", "PHENX_MNSI") for number, text in enumerate(MNSI_TEXTS, start=1)
)

#: Every question, in the order it is asked (groups in :data:`GROUPS` order).
QUESTIONS: tuple[Question, ...] = _CHECKLIST + _MNSI
#: Read-only lookup from question id to :class:`Question`.
QUESTIONS_BY_ID = MappingProxyType({question.id: question for question in QUESTIONS})
QUESTION_IDS: tuple[str, ...] = tuple(QUESTIONS_BY_ID)


def questions_in(groups: tuple[str, ...] | list[str] | None = None) -> tuple[Question, ...]:
    """The questions of ``groups`` (all when None), in questionnaire order.

    Unknown group ids are the caller's to check against :data:`GROUP_IDS`.

    Examples
    --------
    >>> [q.id for q in questions_in(["course"])]
    ['onset', 'progression']
    >>> len(questions_in(["mnsi"]))
    15
    """
    if groups is None:
        return QUESTIONS
    wanted = set(groups)
    return tuple(question for question in QUESTIONS if question.group in wanted)
