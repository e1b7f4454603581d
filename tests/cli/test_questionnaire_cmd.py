"""``b12brain questionnaire``: piped and terminal input, the answers file, refusals.

The handler is called through the ``b12brain`` parser itself (``build_parser``), so a broken
parser fails every test here; one test goes through ``main([...])`` for the exit codes and
messages.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from b12brain.cli import questionnaire_cmd
from b12brain.cli.main import build_parser, main
from b12brain.clinical import DISCLAIMER
from b12brain.errors import AnswerError, ConfigError, OutputError
from b12brain.symptoms import QUESTIONS, QUESTIONS_BY_ID, questions_in


class _Terminal(io.StringIO):
    """Input that claims to be a terminal (invalid answers are asked again)."""

    def isatty(self) -> bool:
        return True


def _run(argv: list[str], typed: str, monkeypatch: pytest.MonkeyPatch, *, tty: bool = False) -> int:
    args = build_parser().parse_args(["questionnaire", *argv])
    monkeypatch.setattr("sys.stdin", _Terminal(typed) if tty else io.StringIO(typed))
    return int(args.handler(args))


# One typed line per question (all 35), mixing the accepted forms, and what must be stored.
TYPED_AND_STORED: list[tuple[str, str]] = [
    ("y", "yes"), ("n", "no"), ("N", "no"), ("no", "no"), ("YES", "yes"), ("n", "no"), ("n", "no"),
    ("n", "no"), ("n", "no"),                                   # demyelination
    ("n", "no"), ("n", "no"), ("y", "yes"), ("n", "no"),        # case report: visual_problems yes
    ("y", "yes"), ("n", "no"),                                  # cognitive / mood
    ("n", "no"), ("  n  ", "no"),                               # other
    ("3", "months"), ("Slowly  Worsening", "slowly worsening"),  # course: number, then text
    ("n", "no"),                                                # nitrous oxide
    *[("y", "yes")] * 6, ("n", "no"), *[("n", "no")] * 5, ("y", "yes"), ("n", "no"), ("n", "no"),  # MNSI
]


def test_piped_answers_write_the_expected_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(TYPED_AND_STORED) == len(QUESTIONS)
    out = tmp_path / "answers.json"
    typed = "".join(line + "\n" for line, _ in TYPED_AND_STORED)
    assert _run(["--out", str(out)], typed, monkeypatch) == 0
    document = json.loads(out.read_text())
    assert document == {
        "questionnaire": "b12brain-symptoms",
        "version": "1.0",
        "answers": {q.id: stored for q, (_, stored) in zip(QUESTIONS, TYPED_AND_STORED)},
    }
    assert list(document["answers"]) == [q.id for q in QUESTIONS]
    shown = capsys.readouterr().out
    assert "== Nerve symptoms (demyelination) ==" in shown
    assert "[1/35] Do you have painful tingling or numbness in your hands or feet?" in shown
    assert "1) days  2) weeks  3) months  4) years  5) not sure" in shown
    assert "(Also called laughing gas" in shown
    # MNSI: yes on 1-6 -> 5 points (4 unscored), 7 "no" -> 1, 13 "yes" -> 0: 6 of 13.
    assert "MNSI questionnaire score 6 of 13: not abnormal by the original cut-off (>= 7), abnormal by the newer" in shown
    assert "Red flags:\n  - Neurological symptoms reported (painful tingling and numbness in hands and feet; shooting pains; visual problems (new loss of vision))" in shown
    assert "New loss of vision reported: a red flag (urgent; b12brain's red-flag list)" in shown
    assert shown.rstrip().endswith(f"Not a diagnosis: {DISCLAIMER}")
    assert f"wrote 35 answers to {out}" in shown


def test_groups_limit_the_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.json"
    assert _run(["--out", str(out), "--groups", "exposure,course"], "5\nnot sure\nyes\n", monkeypatch) == 0
    # Asked in questionnaire order, whatever the order of --groups.
    assert json.loads(out.read_text())["answers"] == {"onset": "not sure", "progression": "not sure", "nitrous_oxide": "yes"}
    shown = capsys.readouterr().out
    assert "[1/3] How long ago did your symptoms start?" in shown
    assert "MNSI questionnaire not answered; no score." in shown
    assert "Recreational nitrous oxide use reported" in shown


@pytest.mark.parametrize(
    ("typed", "field", "parts"),
    [
        ("y\nn\nmaybe\n", "poor_muscle_control", ["answer 'maybe' to question 3 of 35 is not accepted", "y, yes, n or no"]),
        ("y\n\n", "difficulty_walking", ["an empty answer to question 2 of 35", "y, yes, n or no"]),
        ("n\n" * 17 + "6\n", "onset", ["answer '6' to question 18 of 35", "a number 1-5 or one of 'days'"]),
        ("n\n" * 17 + "a few\n", "onset", ["answer 'a few'", "'not sure'"]),
    ],
)
def test_bad_piped_answer_raises_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str, field: str, parts: list[str]
) -> None:
    with pytest.raises(AnswerError) as info:
        _run(["--out", str(tmp_path / "a.json")], typed, monkeypatch)
    assert (info.value.source, info.value.field) == ("<stdin>", field)
    for part in parts:
        assert part in str(info.value), part
    assert list(tmp_path.iterdir()) == []


def test_truncated_input_raises_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AnswerError) as info:
        _run(["--out", str(tmp_path / "a.json")], "y\nn\nn\nn\n", monkeypatch)
    assert info.value.field == "shooting_pains" == questions_in()[4].id
    assert "input ended at question 5 of 35 before it was answered" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_empty_input_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AnswerError, match=r"<stdin>: mnsi_1: input ended at question 1 of 15"):
        _run(["--out", str(tmp_path / "a.json"), "--groups", "mnsi"], "", monkeypatch)
    assert list(tmp_path.iterdir()) == []


def test_terminal_asks_again_after_an_invalid_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.json"
    assert _run(["--out", str(out), "--groups", "course"], "soon\n\n2\n9\nRapidly worsening\n", monkeypatch, tty=True) == 0
    assert json.loads(out.read_text())["answers"] == {"onset": "weeks", "progression": "rapidly worsening"}
    shown = capsys.readouterr().out
    assert "answer 'soon' is not understood; please answer a number 1-5 or one of 'days'" in shown
    assert "an empty answer is not understood" in shown
    assert "answer '9' is not understood" in shown
    assert shown.count("answer [1-5]: ") == 5
    assert "Symptoms rapidly worsening: a red flag (urgent;" in shown


def test_existing_out_is_refused_before_asking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "a.json"
    out.write_text("previous")
    stdin = io.StringIO("y\n")
    monkeypatch.setattr("sys.stdin", stdin)
    args = build_parser().parse_args(["questionnaire", "--out", str(out)])
    with pytest.raises(OutputError, match=r"a\.json: already exists; .*--overwrite"):
        args.handler(args)
    assert stdin.tell() == 0  # nothing was read
    assert out.read_text() == "previous"


def test_overwrite_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "a.json"
    out.write_text("previous")
    assert _run(["--out", str(out), "--overwrite", "--groups", "exposure"], "n\n", monkeypatch) == 0
    assert json.loads(out.read_text())["answers"] == {"nitrous_oxide": "no"}


def test_out_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OutputError, match="is a folder"):
        _run(["--out", str(tmp_path)], "y\n", monkeypatch)


@pytest.mark.parametrize("groups", ["mnsi,typo", "", " , "])
def test_bad_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, groups: str) -> None:
    with pytest.raises(ConfigError, match=r"^--groups: .*demyelination, case_report"):
        _run(["--out", str(tmp_path / "a.json"), "--groups", groups], "y\n", monkeypatch)


def test_through_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.json"
    monkeypatch.setattr("sys.stdin", io.StringIO("y\nperhaps\n"))
    assert main(["questionnaire", "--out", str(out), "--groups", "exposure,course"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        (
            "b12brain questionnaire: error: <stdin>: onset: answer 'y' to question 1 of 3 is not accepted; "
            "nothing was written; expected a number 1-5 or one of 'days', 'weeks', 'months', 'years', 'not sure'"
        )
    ]
    assert not out.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n2\nn\n"))
    assert main(["questionnaire", "--out", str(out), "--groups", "exposure,course"]) == 0
    assert json.loads(out.read_text())["answers"] == {"onset": "days", "progression": "stable", "nitrous_oxide": "no"}
    assert main(["questionnaire", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("typed", ["²", "٣", "1" * 5000, "⑤"])
def test_digit_like_text_is_not_a_choice_number(typed: str) -> None:
    """str.isdigit() accepts "²" and "⑤" (int() refuses them) and 5,000 digits: not answers."""
    assert questionnaire_cmd.interpret_answer(QUESTIONS_BY_ID["onset"], typed) is None


def test_piped_superscript_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from b12brain.cli.main import main

    monkeypatch.setattr("sys.stdin", io.StringIO("²\n" * 40))
    assert main(["questionnaire", "--out", str(tmp_path / "a.json"), "--groups", "course"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
