"""Answers: parsing, the JSON file format, its generated schema, reading and writing."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12brain.errors import AnswerError, InputFileError, OutputError
from b12brain.symptoms import (
    QUESTION_IDS,
    QUESTIONS,
    Answers,
    answers_schema,
    parse_answers,
    read_answers,
    write_answers,
)

HEAD = '{"questionnaire": "b12brain-symptoms", "version": "1.0", '


def _document(answers: dict[str, object]) -> dict[str, object]:
    return {"questionnaire": "b12brain-symptoms", "version": "1.0", "answers": answers}


def _validator() -> jsonschema.Draft202012Validator:
    schema = answers_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# --- parsing -------------------------------------------------------------------------------

def test_parse_normalises_and_orders() -> None:
    answers = parse_answers({"mnsi_7": False, "onset": "months", "tingling_numbness": True, "fatigue": "no"}, "x.json")
    assert answers.pairs == (("tingling_numbness", "yes"), ("fatigue", "no"), ("onset", "months"), ("mnsi_7", "no"))
    assert answers["mnsi_7"] == "no" and answers.get("seizures") is None
    assert answers.is_yes("tingling_numbness") and not answers.is_yes("fatigue") and not answers.is_yes("seizures")
    assert answers.source == "x.json"
    assert len(answers.unanswered) == len(QUESTIONS) - 4


def test_equality_ignores_source_and_answers_are_hashable() -> None:
    a, b = parse_answers({"fatigue": "no"}, "a.json"), parse_answers({"fatigue": False}, "b.json")
    assert a == b and hash(a) == hash(b)
    assert a != parse_answers({"fatigue": "yes"})


def test_empty_answers_are_valid() -> None:
    answers = parse_answers({})
    assert len(answers) == 0 and answers.unanswered == QUESTION_IDS


# --- files -----------------------------------------------------------------------------------

def test_write_then_read_round_trip(tmp_path: Path) -> None:
    answers = parse_answers({"seizures": "yes", "progression": "rapidly worsening", "mnsi_13": "no"})
    path = write_answers(answers, tmp_path / "sub" / "answers.json")  # missing folder is created
    assert json.loads(path.read_text()) == _document(
        {"seizures": "yes", "progression": "rapidly worsening", "mnsi_13": "no"}
    )
    again = read_answers(path)
    assert again == answers and again.source == str(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["answers.json"]  # no temporary left


def test_write_refuses_existing_file_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text("keep me")
    with pytest.raises(OutputError, match=r"answers\.json: already exists; .*--overwrite"):
        write_answers(parse_answers({"fatigue": "no"}), path)
    assert path.read_text() == "keep me"
    write_answers(parse_answers({"fatigue": "no"}), path, overwrite=True)
    assert read_answers(path) == parse_answers({"fatigue": "no"})


def test_write_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"):
        write_answers(parse_answers({}), tmp_path, overwrite=True)


def test_read_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_answers(tmp_path / "none.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(HEAD.encode() + b'"answers": {"onset": "d\xe9j\xe0"}}')
    with pytest.raises(InputFileError, match="not UTF-8"):
        read_answers(bad)


def test_true_false_accepted_when_reading(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(HEAD + '"answers": {"fatigue": true, "mnsi_7": false}}')
    assert read_answers(path).pairs == (("fatigue", "yes"), ("mnsi_7", "no"))


# --- bad files: AnswerError names the file, the item and the value ---------------------------

BAD_FILES = {
    # name: (file text, field named, substrings of the message, the schema also rejects it)
    "unknown_id_close": (HEAD + '"answers": {"tingling": "yes"}}', "tingling",
                         ["unknown question id 'tingling'", "did you mean 'tingling_numbness'"], True),
    "unknown_id_far": (HEAD + '"answers": {"headache": "yes"}}', "headache",
                       ["unknown question id 'headache'", "tingling_numbness", "mnsi_15"], True),
    "value_not_a_choice": (HEAD + '"answers": {"fatigue": "maybe"}}', "fatigue",
                           ['"maybe" (a string)', "'yes', 'no'"], True),
    "value_wrong_case": (HEAD + '"answers": {"fatigue": "Yes"}}', "fatigue", ['"Yes"', "'yes', 'no'"], True),
    "value_number": (HEAD + '"answers": {"mnsi_3": 1}}', "mnsi_3", ["1 (a number)", "'yes', 'no'"], True),
    "value_null": (HEAD + '"answers": {"onset": null}}', "onset", ["null", "leave the item out", "'not sure'"], True),
    "value_list": (HEAD + '"answers": {"seizures": ["yes"]}}', "seizures", ['["yes"] (a list)'], True),
    "choice_bad_text": (HEAD + '"answers": {"onset": "soon"}}', "onset",
                        ['"soon"', "'days', 'weeks', 'months', 'years', 'not sure'"], True),
    "choice_boolean": (HEAD + '"answers": {"progression": true}}', "progression",
                       ["true (a boolean)", "'rapidly worsening'"], True),
    "choice_number": (HEAD + '"answers": {"onset": 2}}', "onset", ["2 (a number)", "'weeks'"], True),
    "duplicate_item": (HEAD + '"answers": {"fatigue": "no", "fatigue": "yes"}}', "fatigue",
                       ["appears twice", '"no"', '"yes"'], False),
    "duplicate_top_key": ('{"questionnaire": "b12brain-symptoms", "version": "1.0", "version": "1.0", "answers": {}}',
                          "version", ["appears twice"], False),
    "malformed_json": (HEAD + '"answers": {"fatigue": "no" "seizures": "no"}}', "line 1 column 86",
                       ["not valid JSON", "Expecting ','"], False),
    "top_level_list": ('[{"fatigue": "no"}]', "document", ["(a list), not an object", '"questionnaire"'], True),
    "answers_missing": ('{"questionnaire": "b12brain-symptoms", "version": "1.0"}', "answers", ["is missing"], True),
    "answers_not_object": (HEAD + '"answers": ["fatigue"]}', "answers", ['(a list), not an object'], True),
    "answers_at_top_level": ('{"questionnaire": "b12brain-symptoms", "version": "1.0", "answers": {}, "fatigue": "no"}',
                             "fatigue", ["unknown top-level key 'fatigue'", 'inside "answers"'], True),
    "wrong_questionnaire": ('{"questionnaire": "phq-9", "version": "1.0", "answers": {}}', "questionnaire",
                            ['"phq-9"', '"b12brain-symptoms"'], True),
    "unsupported_version": ('{"questionnaire": "b12brain-symptoms", "version": "2.0", "answers": {}}', "version",
                            ['"2.0"', "not supported", '"1.0"'], True),
    "version_number": ('{"questionnaire": "b12brain-symptoms", "version": 1.0, "answers": {}}', "version",
                       ["1.0 (a number)", "not supported"], True),
    "empty_file": ("", "document", ["the file is empty"], False),
    "blank_file": ("  \n\n", "document", ["the file is empty"], False),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_answers_file(tmp_path: Path, name: str) -> None:
    text, field, parts, schema_rejects = BAD_FILES[name]
    path = tmp_path / f"{name}.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AnswerError) as info:
        read_answers(path)
    err = info.value
    assert (err.source, err.field) == (str(path), field)
    assert str(err).startswith(f"{path}: {field}: ")
    assert "; expected " in str(err)
    for part in parts:
        assert part in str(err), part
    if schema_rejects:  # the generated schema and the parser agree
        assert not _validator().is_valid(json.loads(text))


def test_parse_answers_rejects_a_non_mapping() -> None:
    with pytest.raises(AnswerError, match=r"^s: answers: is \[\] \(a list\), not an object"):
        parse_answers([], "s")  # type: ignore[arg-type]


# --- the generated schema ------------------------------------------------------------------

def test_schema_validates_good_documents(tmp_path: Path) -> None:
    validator = _validator()
    full: dict[str, object] = {q.id: q.choices[-1] for q in QUESTIONS}
    cases: list[dict[str, object]] = [{}, {"fatigue": True, "mnsi_7": False}, full]
    for answers in cases:
        document = _document(answers)
        validator.validate(document)
        path = tmp_path / "a.json"
        path.write_text(json.dumps(document))
        assert len(read_answers(path)) == len(answers)


def test_schema_is_generated_from_the_questions() -> None:
    schema = answers_schema()
    items = schema["properties"]["answers"]["properties"]
    assert list(items) == list(QUESTION_IDS)
    assert items["fatigue"]["enum"] == ["yes", "no", True, False]
    assert items["progression"]["enum"][3] == "rapidly worsening"
    assert schema["required"] == ["questionnaire", "version", "answers"]
    assert schema["additionalProperties"] is False
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


_VALUES = st.sampled_from(["yes", "no", True, False, "days", "not sure", "stable", "maybe", 1, None, ""])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*QUESTION_IDS, "other", "mnsi_16"]), _VALUES, max_size=6))
def test_schema_and_parser_agree(answers: dict[str, object]) -> None:
    document = _document(answers)
    try:
        parsed: Answers | None = parse_answers(answers)
    except AnswerError:
        parsed = None
    assert _validator().is_valid(document) is (parsed is not None)
    if parsed is not None:
        assert set(parsed) == set(answers)


@pytest.mark.parametrize(
    "answers",
    [{"onset": "x" * 200_000}, {"x" * 200_000: "yes"}, {"onset": ["x" * 1000] * 200}],
    ids=["long-answer", "long-id", "long-list"],
)
def test_long_values_are_quoted_short(tmp_path: Path, answers: dict) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"questionnaire": "b12brain-symptoms", "version": "1.0", "answers": answers}), encoding="utf-8")
    with pytest.raises(AnswerError) as err:
        read_answers(path)
    assert len(str(err.value)) < 1500, len(str(err.value))


def test_bom_and_bounds(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    document = {"questionnaire": "b12brain-symptoms", "version": "1.0", "answers": {"onset": "months"}}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document).encode("utf-8"))
    assert dict(read_answers(path)) == {"onset": "months"}
    path.write_text('{"answers": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(InputFileError, match="nested 100001 deep"):
        read_answers(path)
