"""``b12brain questionnaire``: ask the symptom questionnaire in the terminal, write the answers file.

Questions go to stdout, answers come from stdin, one line each: ``y``/``n`` (or ``yes``/``no``)
for yes/no questions, the number or the text of a choice for the others (case-insensitive).
On a terminal an answer that is not understood is explained and the question asked again.
With piped input (``printf 'y\\nn\\n...' | b12brain questionnaire --out a.json``) there is no
one to ask again: an answer that is not understood, or input that ends early, raises
:class:`~b12brain.errors.AnswerError` naming the question, and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from b12brain.cli.lifetime import with_exit_stack
from b12brain.clinical import DISCLAIMER
from b12brain.errors import AnswerError, ConfigError
from b12brain.symptoms.questionnaire import GROUP_IDS, GROUPS, YES_NO, Question

_STDIN = "<stdin>"


def add_parser(subparsers: Any) -> None:
    """Register the ``questionnaire`` subcommand."""
    parser = subparsers.add_parser(
        "questionnaire",
        help="ask the symptom questionnaire (with the MNSI) in the terminal and write the answers file",
        description="Ask the b12brain symptom questionnaire in the terminal: the demyelination symptoms "
        "of B12 deficiency, onset and course, nitrous oxide use and the Michigan Neuropathy Screening "
        "Instrument (MNSI) questionnaire. Answer y/n, or a choice's number or text. The answers are "
        "written to a JSON file at the end (complete or not at all), then the MNSI score and any red "
        "flags are shown. Works with piped input, one answer per line. Not a diagnosis.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="answers file to write (JSON; must not exist)")
    parser.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    parser.add_argument(
        "--groups",
        default=None,
        metavar="G,...",
        help="ask only these question groups, comma-separated: " + ", ".join(GROUP_IDS) + " (default all)",
    )
    parser.set_defaults(handler=handle)


@with_exit_stack
def handle(args: argparse.Namespace) -> int:
    """Ask the questions, write the answers file, print a short summary."""
    from b12brain.io.outdir import reserve_output_file
    from b12brain.symptoms import (
        assess_symptoms,
        parse_answers,
        questions_in,
        write_answers,
    )

    groups = parse_groups(args.groups)
    out = args.exit_stack.enter_context(reserve_output_file(args.out, overwrite=args.overwrite))  # before asking
    stdin, stdout = sys.stdin, sys.stdout
    interactive = bool(stdin is not None and stdin.isatty())
    given = ask_questions(questions_in(groups), stdin, stdout, interactive=interactive)
    answers = parse_answers(given, source=str(out))
    write_answers(answers, out, overwrite=args.overwrite)
    result = assess_symptoms(answers)
    print(f"\nwrote {len(answers)} answers to {out}", file=stdout)
    print(result.mnsi_note, file=stdout)
    if result.red_flags:
        print("Red flags:", file=stdout)
        for flag in result.red_flags:
            print(f"  - {flag}", file=stdout)
    else:
        print("Red flags: none reported", file=stdout)
    print(f"Not a diagnosis: {DISCLAIMER}", file=stdout)
    stdout.flush()
    return 0


def parse_groups(text: str | None) -> tuple[str, ...] | None:
    """``--groups`` as a tuple of group ids (None for all), or raise :class:`ConfigError`.

    >>> parse_groups("mnsi, course")
    ('mnsi', 'course')
    """
    if text is None:
        return None
    groups = tuple(part.strip() for part in text.split(",") if part.strip())
    if not groups:
        raise ConfigError(f"--groups: no group given; expected a comma-separated list of {', '.join(GROUP_IDS)}")
    for group in groups:
        if group not in GROUP_IDS:
            raise ConfigError(f"--groups: unknown group {group!r}; expected a comma-separated list of {', '.join(GROUP_IDS)}")
    return groups


def accepted_answers(question: Question) -> str:
    """The answers a question accepts at the terminal, in words."""
    if question.kind == "yes_no":
        return "y, yes, n or no"
    texts = ", ".join(repr(choice) for choice in question.choices)
    return f"a number 1-{len(question.choices)} or one of {texts}"


def interpret_answer(question: Question, typed: str) -> str | None:
    """The stored answer for a typed line, or None when it is not understood.

    >>> from b12brain.symptoms import QUESTIONS_BY_ID
    >>> interpret_answer(QUESTIONS_BY_ID["fatigue"], " Y ")
    'yes'
    >>> interpret_answer(QUESTIONS_BY_ID["progression"], "4"), interpret_answer(QUESTIONS_BY_ID["progression"], "Not  Sure")
    ('rapidly worsening', 'not sure')
    """
    text = " ".join(typed.lower().split())
    if question.kind == "yes_no":
        return {"y": YES_NO[0], "yes": YES_NO[0], "n": YES_NO[1], "no": YES_NO[1]}.get(text)
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= len(question.choices):
        return question.choices[int(text) - 1]
    return text if text in question.choices else None


def _prompt(question: Question) -> str:
    if question.kind == "yes_no":
        return "  answer [y/n]: "
    return f"  answer [1-{len(question.choices)}]: "


def ask_questions(
    questions: tuple[Question, ...], stdin: IO[str], stdout: IO[str], *, interactive: bool
) -> dict[str, str]:
    """Ask each question on ``stdout``, read one line per answer from ``stdin``.

    Returns
    -------
    dict of str to str
        Question id to stored answer, for every question asked.

    Raises
    ------
    AnswerError
        Input ended before the last question; or, when not ``interactive``, an answer was not
        understood (on a terminal the question is asked again instead).
    """
    titles = {group.id: group for group in GROUPS}
    given: dict[str, str] = {}
    group = None
    total = len(questions)
    for number, question in enumerate(questions, start=1):
        if question.group != group:
            group = question.group
            heading = titles[group]
            stdout.write(f"\n== {heading.title} ==\n")
            if heading.intro:
                stdout.write(f"{heading.intro}\n")
        stdout.write(f"\n[{number}/{total}] {question.text}\n")
        if question.help:
            stdout.write(f"  ({question.help})\n")
        if question.kind == "choice":
            stdout.write("  " + "  ".join(f"{i}) {choice}" for i, choice in enumerate(question.choices, start=1)) + "\n")
        while True:
            stdout.write(_prompt(question))
            stdout.flush()
            line = stdin.readline()
            if not line:  # end of input
                if interactive:
                    stdout.write("\n")
                raise AnswerError(
                    _STDIN,
                    question.id,
                    f"input ended at question {number} of {total} before it was answered; nothing was written",
                    f"one answer per line for each of the {total} questions",
                )
            if not interactive:  # a terminal echoes what is typed; a pipe does not
                stdout.write(line.strip() + "\n")
            answer = interpret_answer(question, line)
            if answer is not None:
                given[question.id] = answer
                break
            typed = line.strip()
            problem = "an empty answer" if not typed else f"answer {typed!r}"
            if not interactive:
                raise AnswerError(
                    _STDIN,
                    question.id,
                    f"{problem} to question {number} of {total} is not accepted; nothing was written",
                    accepted_answers(question),
                )
            stdout.write(f"  {problem} is not understood; please answer {accepted_answers(question)}\n")
    return given
