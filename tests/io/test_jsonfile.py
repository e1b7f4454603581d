"""Bounded JSON reading: the crashes seen on untrusted JSON end in exit 2 in every reader.

Each of 100,000 nested brackets, a 5,000-digit number, NaN, 1e400, an unpaired surrogate
escape and a 2 MB file is given to the three JSON readers (lab panel, answers, summary.json)
through ``main([...])``: exit 2, one line naming the file (and the field where there is one),
never the whole bad value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b12brain.cli.main import main
from b12brain.io.jsonfile import MAX_JSON_BYTES, DuplicateKeyError, JSONProblem, parse_json

_ANSWERS = {"questionnaire": "b12brain-symptoms", "version": "1.0", "answers": {"fatigue": "no"}}
_SUMMARY = {"schema_version": "1.2", "lesions": {
    "lesion_count": 1, "lesion_ml": 1.0, "ml_by_class": {"periventricular": 1.0, "deep": 0.0, "juxtacortical": 0.0, "infratentorial": 0.0},
    "count_by_class": {"periventricular": 1, "deep": 0, "juxtacortical": 0, "infratentorial": 0}},
    "fazekas_estimate": {"periventricular": 1, "deep": 0}}
# reader -> (argv for a path, a valid document, the dotted path of a number in it)
READERS = {
    "labs": (lambda p: ["labs", str(p)], {"b12": {"value": 150, "unit": "pmol/L"}}, "b12.value"),
    "answers": (lambda p: ["assess", "--symptoms", str(p)], {**_ANSWERS, "version": 1.0}, "version"),
    "summary": (lambda p: ["assess", "--summary", str(p)], _SUMMARY, "lesions.lesion_ml"),
}


def _with_number(document: dict, dotted: str, literal: str) -> str:
    """The document's JSON text with the number at ``dotted`` written as ``literal``."""
    marker = "__NUMBER__"
    doc = json.loads(json.dumps(document))
    *parents, last = dotted.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[last] = marker
    return json.dumps(doc).replace(f'"{marker}"', literal)


CASES = {
    "nested-100000": lambda doc, dotted: "[" * 100_000 + "]" * 100_000,
    "nested-in-a-value": lambda doc, dotted: _with_number(doc, dotted, "[" * 50_000 + "1" + "]" * 50_000),
    "5000-digits": lambda doc, dotted: _with_number(doc, dotted, "9" * 5000),
    "nan": lambda doc, dotted: _with_number(doc, dotted, "NaN"),
    "beyond-double": lambda doc, dotted: _with_number(doc, dotted, "1e400"),
    "surrogate": lambda doc, dotted: _with_number(doc, dotted, '"\\ud800"'),
    "too-large": lambda doc, dotted: json.dumps({**doc, "pad": "x" * (MAX_JSON_BYTES + 1)}),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reader", READERS)
def test_untrusted_json_exits_2(reader: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv, document, dotted = READERS[reader]
    path = tmp_path / "in.json"
    path.write_text(CASES[case](document, dotted), encoding="utf-8")
    assert main(argv(path)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert str(path) in err
    assert len(err) < 700, len(err)
    if case in ("5000-digits", "nan", "beyond-double") and reader != "answers":
        assert f": {dotted}: " in err, err


def test_parse_json_names_the_dotted_path_of_a_bad_number() -> None:
    with pytest.raises(JSONProblem) as err:
        parse_json('{"a": {"b": [1, 2, NaN]}}')
    assert (err.value.where, err.value.problem) == ("a.b[2]", "NaN is not a JSON number")


def test_duplicate_keys_and_bom() -> None:
    with pytest.raises(DuplicateKeyError):
        parse_json('{"a": 1, "a": 2}')
    assert parse_json(b'\xef\xbb\xbf{"a": "\xc2\xb5"}') == {"a": "µ"}


def test_answers_file_with_a_bom_is_read(tmp_path: Path) -> None:
    from b12brain.symptoms import read_answers

    path = tmp_path / "a.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_ANSWERS).encode("utf-8"))
    assert dict(read_answers(path)) == {"fatigue": "no"}
