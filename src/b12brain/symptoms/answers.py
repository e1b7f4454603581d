"""Questionnaire answers: validation, the JSON file format and its schema, reading and writing.

An answers file is a JSON object::

    {"questionnaire": "b12brain-symptoms", "version": "1.0",
     "answers": {"tingling_numbness": "yes", "onset": "months", "mnsi_7": "no"}}

Keys of ``answers`` are question ids (:data:`~b12brain.symptoms.questionnaire.QUESTION_IDS`);
yes/no items take ``"yes"``/``"no"`` (JSON ``true``/``false`` are read as yes/no); choice items
take one of their choices exactly. Items may be left out: they are not answered. Every
problem raises :class:`~b12brain.errors.AnswerError` naming the file, the item, the value and
what is accepted.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b12brain.errors import AnswerError, InputFileError
from b12brain.io.jsonfile import DuplicateKeyError, JSONProblem, parse_json, read_json_bytes, shorten
from b12brain.io.outdir import write_text_file
from b12brain.symptoms.questionnaire import (
    NO,
    QUESTION_IDS,
    QUESTIONNAIRE_NAME,
    QUESTIONNAIRE_VERSION,
    QUESTIONS,
    QUESTIONS_BY_ID,
    YES,
    Question,
)

#: Versions of the answers file this code reads.
SUPPORTED_VERSIONS: tuple[str, ...] = (QUESTIONNAIRE_VERSION,)
_TOP_LEVEL_KEYS = ("questionnaire", "version", "answers")
_SCHEMA_ID = "https://b12brain.invalid/schemas/b12brain-symptoms-answers-1.0.json"


@dataclass(frozen=True)
class Answers(Mapping[str, str]):
    """Validated answers: a read-only mapping from question id to answer, in questionnaire order.

    Build it with :func:`parse_answers` or :func:`read_answers`, which validate; the
    constructor itself trusts its input. Unanswered questions are absent.

    Attributes
    ----------
    pairs : tuple of (str, str)
        ``(question id, answer)`` in questionnaire order; answers are normalised
        (``"yes"``/``"no"`` for yes/no items).
    source : str
        Where the answers came from (a file name, ``"<stdin>"``), used in messages; not
        part of equality.
    """

    pairs: tuple[tuple[str, str], ...]
    source: str = field(default="<answers>", compare=False)

    def __getitem__(self, question_id: str) -> str:
        for key, value in self.pairs:
            if key == question_id:
                return value
        raise KeyError(question_id)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def is_yes(self, question_id: str) -> bool:
        """True when ``question_id`` was answered "yes" (False for "no" or unanswered)."""
        return self.get(question_id) == YES

    @property
    def unanswered(self) -> tuple[str, ...]:
        """Ids of the questions with no answer, in questionnaire order."""
        return tuple(qid for qid in QUESTION_IDS if qid not in self)

    def as_document(self) -> dict[str, Any]:
        """The JSON document of an answers file (what :func:`write_answers` writes)."""
        return {
            "questionnaire": QUESTIONNAIRE_NAME,
            "version": QUESTIONNAIRE_VERSION,
            "answers": dict(self.pairs),
        }


def _expected(question: Question) -> str:
    choices = ", ".join(repr(choice) for choice in question.choices)
    if question.kind == "yes_no":
        return f"one of {choices} (or JSON true/false)"
    return f"one of {choices}"


def _describe(value: object) -> str:
    """A value as the user wrote it, with its JSON type when that is the problem."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    kind = kinds.get(type(value), type(value).__name__)
    try:
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (bool, int, float, str, list, dict, type(None))) else repr(value)
    except ValueError:  # a container nested too deep to show
        shown = repr(type(value).__name__)
    return f"{shorten(shown)} ({kind})"


def _unknown_id_error(source: str, key: str) -> AnswerError:
    close = difflib.get_close_matches(key, QUESTION_IDS, n=1, cutoff=0.6)
    if close:
        expected = f"a known question id (did you mean {close[0]!r}?)"
    else:
        expected = "one of the question ids " + ", ".join(QUESTION_IDS)
    return AnswerError(source, str(key), f"unknown question id {key!r}", expected)


def normalise_answer(question: Question, value: object, source: str = "<answers>") -> str:
    """Return the stored form of one answer, or raise :class:`AnswerError`.

    Yes/no items accept ``"yes"``, ``"no"``, ``True`` and ``False``; choice items accept one of
    their choices exactly (as the JSON Schema does).

    Examples
    --------
    >>> from b12brain.symptoms.questionnaire import QUESTIONS_BY_ID
    >>> normalise_answer(QUESTIONS_BY_ID["seizures"], True)
    'yes'
    >>> normalise_answer(QUESTIONS_BY_ID["onset"], "sometimes", "a.json")
    Traceback (most recent call last):
    ...
    b12brain.errors.AnswerError: a.json: onset: answer "sometimes" (a string) is not one of the choices; expected one of 'days', 'weeks', 'months', 'years', 'not sure'
    """
    if question.kind == "yes_no" and isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, str) and value in question.choices:
        return value
    problem = f"answer {_describe(value)} is not one of the choices"
    if value is None:
        problem += " (leave the item out to mark it unanswered)"
    raise AnswerError(source, question.id, problem, _expected(question))


def parse_answers(mapping: Mapping[str, object], source: str = "<answers>") -> Answers:
    """Validate a mapping of question id to answer and return :class:`Answers`.

    Parameters
    ----------
    mapping : mapping of str to str or bool
        The ``"answers"`` object of an answers file: question id to answer. Items left out
        are unanswered.
    source : str
        Named in error messages (a file name, ``"<stdin>"``).

    Returns
    -------
    Answers
        In questionnaire order, yes/no answers normalised to ``"yes"``/``"no"``.

    Raises
    ------
    AnswerError
        ``mapping`` is not a mapping, a key is not a question id (the closest id is
        suggested), or a value is of the wrong type or outside the question's choices.

    Examples
    --------
    >>> answers = parse_answers({"onset": "months", "tingling_numbness": True})
    >>> dict(answers)
    {'tingling_numbness': 'yes', 'onset': 'months'}
    >>> parse_answers({"tingling": "yes"}, "a.json")
    Traceback (most recent call last):
    ...
    b12brain.errors.AnswerError: a.json: tingling: unknown question id 'tingling'; expected a known question id (did you mean 'tingling_numbness'?)
    """
    if not isinstance(mapping, Mapping):
        raise AnswerError(source, "answers", f"is {_describe(mapping)}, not an object",
                          'an object of question id to answer, e.g. {"fatigue": "no"}')
    for key in mapping:
        if not isinstance(key, str) or key not in QUESTIONS_BY_ID:
            raise _unknown_id_error(source, shorten(str(key)))
    given = {key: normalise_answer(QUESTIONS_BY_ID[key], value, source) for key, value in mapping.items()}
    return Answers(tuple((qid, given[qid]) for qid in QUESTION_IDS if qid in given), source)


def parse_answers_document(document: object, source: str = "<answers>") -> Answers:
    """Validate a whole answers document (``questionnaire``, ``version``, ``answers``).

    Raises
    ------
    AnswerError
        Not an object, a top-level key missing or unknown, another questionnaire's name, an
        unsupported version, or any problem :func:`parse_answers` finds.
    """
    shape = f'an object {{"questionnaire": "{QUESTIONNAIRE_NAME}", "version": "{QUESTIONNAIRE_VERSION}", "answers": {{...}}}}'
    if not isinstance(document, Mapping):
        raise AnswerError(source, "document", f"the top level is {_describe(document)}, not an object", shape)
    for key in document:
        if key not in _TOP_LEVEL_KEYS:
            raise AnswerError(source, shorten(str(key)), f"unknown top-level key {shorten(str(key))!r}",
                              "only the keys " + ", ".join(_TOP_LEVEL_KEYS) + " (answers go inside \"answers\")")
    for key in _TOP_LEVEL_KEYS:
        if key not in document:
            raise AnswerError(source, key, "is missing", shape)
    if document["questionnaire"] != QUESTIONNAIRE_NAME:
        raise AnswerError(source, "questionnaire", f"{_describe(document['questionnaire'])} is not this questionnaire",
                          f'"{QUESTIONNAIRE_NAME}"')
    if document["version"] not in SUPPORTED_VERSIONS:
        raise AnswerError(source, "version", f"version {_describe(document['version'])} is not supported",
                          "one of " + ", ".join(f'"{v}"' for v in SUPPORTED_VERSIONS))
    return parse_answers(document["answers"], source)


def read_answers(path: Path | str) -> Answers:
    """Read and validate an answers JSON file.

    Parameters
    ----------
    path : Path or str
        A UTF-8 JSON file in the format of :func:`answers_schema`.

    Returns
    -------
    Answers
        With ``source`` set to ``str(path)``.

    Raises
    ------
    InputFileError
        The file is missing, a folder, unreadable, not UTF-8 text, larger than 1 MiB or
        nested more than 32 levels deep.
    AnswerError
        The file is empty, not valid JSON (line and column named), has a duplicate key or an
        over-long number, or its content is not a valid answers document.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise InputFileError(path, "does not exist; check the path of the answers file")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not an answers file; give the JSON file's path")
    shape = f'a JSON object {{"questionnaire": "{QUESTIONNAIRE_NAME}", "version": "{QUESTIONNAIRE_VERSION}", "answers": {{...}}}}'
    try:
        data = read_json_bytes(path)
        if not data.decode("utf-8", "replace").strip().removeprefix("\ufeff"):
            raise AnswerError(source, "document", "the file is empty", shape)
        document = parse_json(data)
    except OSError as err:
        raise InputFileError(path, f"cannot be read ({err.strerror}); check its permissions") from err
    except DuplicateKeyError as dup:
        raise AnswerError(source, dup.where, f"appears twice (answers {_describe(dup.first)} and {_describe(dup.second)})",
                          "each key once") from None
    except JSONProblem as problem:
        if problem.where == "(file)":  # too large, not UTF-8, nested too deep
            raise InputFileError(path, f"{problem.problem}; give an answers file as `b12brain questionnaire` writes it") from None
        raise AnswerError(source, problem.where, problem.problem, shape + "; check quotes, commas and braces") from None
    return parse_answers_document(document, source)


def write_answers(answers: Answers, path: Path | str, *, overwrite: bool = False) -> Path:
    """Write ``answers`` as an answers file, atomically (missing folders are created).

    Raises
    ------
    OutputError
        ``path`` exists and ``overwrite`` is False, ``path`` is a folder, or its folder cannot
        be created or written.
    """
    return write_text_file(json.dumps(answers.as_document(), indent=2) + "\n", path, overwrite=overwrite)


def answers_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of an answers file, generated from the questions.

    Each item is an ``enum`` of its choices (yes/no items also accept JSON ``true``/``false``);
    unknown keys are rejected at both levels; ``questionnaire``, ``version`` and ``answers``
    are required; no item is.

    Examples
    --------
    >>> schema = answers_schema()
    >>> schema["properties"]["answers"]["properties"]["onset"]["enum"]
    ['days', 'weeks', 'months', 'years', 'not sure']
    >>> schema["properties"]["answers"]["additionalProperties"]
    False
    """
    items: dict[str, Any] = {}
    for question in QUESTIONS:
        enum: list[Any] = list(question.choices)
        if question.kind == "yes_no":
            enum += [True, False]
        items[question.id] = {"description": question.text, "enum": enum}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _SCHEMA_ID,
        "title": "b12brain symptom questionnaire answers",
        "type": "object",
        "properties": {
            "questionnaire": {"const": QUESTIONNAIRE_NAME},
            "version": {"enum": list(SUPPORTED_VERSIONS)},
            "answers": {"type": "object", "properties": items, "additionalProperties": False},
        },
        "required": list(_TOP_LEVEL_KEYS),
        "additionalProperties": False,
    }
