"""Bad lab input: every case raises LabValueError naming the source (file, and row for CSV),
the field and the value seen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12brain.errors import LabValueError
from b12brain.labs import (
    interpret_cohort,
    interpret_panel,
    parse_panel,
    read_cohort,
    read_panel,
)
from b12brain.labs.fields import KNOWN_FIELDS


@dataclass(frozen=True)
class Bad:
    """One bad input. ``how``: "json" / "csv" (a file read with read_panel), "cohort" (a CSV
    read with read_cohort), "mapping" (parse_panel), "frame" (read_cohort of a DataFrame)."""

    id: str
    how: str
    content: Any
    field: str
    shows: str  # text the message must contain besides the field (the value, or the problem)
    row: int | None = None  # CSV: the row the message must name


def _json(id: str, text: str, field: str, shows: str) -> Bad:
    return Bad(id, "json", text, field, shows)


def _csv(id: str, text: str, field: str, shows: str, row: int | None = 1) -> Bad:
    return Bad(id, "csv", text, field, shows, row)


CASES = [
    # --- markers: units, numbers, ranges (JSON files) ---
    _json("bare-number", '{"b12": 150}', "b12", "150"),
    _json("string-without-unit", '{"b12": "150"}', "b12", "'150'"),
    _json("object-without-unit", '{"b12": {"value": 150}}', "b12", "150"),
    _json("unknown-unit", '{"b12": "150 nmol/L"}', "b12", "nmol/L"),
    _json("unit-for-other-marker", '{"holotc": {"value": 40, "unit": "pg/mL"}}', "holotc", "pg/mL"),
    _json("b12-implausible", '{"b12": "0.4 pmol/L"}', "b12", "0.4"),
    _json("b12-implausible-after-conversion", '{"b12": "10 pg/mL"}', "b12", "7.38 pmol/L"),
    _json("mma-unit-mixup", '{"mma": "250 umol/L"}', "mma", "250"),
    _json("hcy-too-high", '{"homocysteine": "900 umol/L"}', "homocysteine", "900"),
    _json("holotc-negative", '{"holotc": "-3 pmol/L"}', "holotc", "-3"),
    _json("mma-zero", '{"mma": {"value": 0, "unit": "umol/L"}}', "mma", "0 umol/L"),
    _json("nan", '{"b12": {"value": NaN, "unit": "pmol/L"}}', "b12.value", "NaN is not a JSON number"),
    _json("infinity", '{"homocysteine": {"value": Infinity, "unit": "umol/L"}}', "homocysteine.value", "Infinity"),
    _json("huge-number", '{"b12": {"value": ' + "9" * 5000 + ', "unit": "pmol/L"}}', "b12.value", "5000 digits"),
    _json("beyond-double", '{"b12": {"value": 1e400, "unit": "pmol/L"}}', "b12.value", "beyond the range"),
    _json("deep-nesting", "[" * 100_000 + "]" * 100_000, "(file)", "nested 100000 deep"),
    _json("text-not-number", '{"b12": "low pmol/L"}', "b12", "'low pmol/L'"),
    _json("thousands-or-decimal", '{"b12": "1,476 pg/mL"}', "b12", "'1,476 pg/mL' reads both as a whole number"),
    _json("two-decimal-marks", '{"b12": "1.476,5 pg/mL"}', "b12", "'1.476,5 pg/mL' is text"),
    _json("censored-age", '{"age": ">90"}', "age", "'>90'"),
    _json("boolean-as-marker", '{"folate": true}', "folate", "True"),
    _json("folate-implausible", '{"folate": "0.01 nmol/L"}', "folate", "0.01"),
    _json("egfr-implausible", '{"egfr": "500 mL/min/1.73m2"}', "egfr", "500"),
    _json("mcv-implausible", '{"mcv": "10 fL"}', "mcv", "10"),
    _json("hb-g-per-l-for-g-per-dl", '{"haemoglobin": "13 g/L"}', "haemoglobin", "13"),
    _json("two-units", '{"b12": {"value": 150, "unit": "pg/mL"}, "b12_unit": "pmol/L"}', "b12", "unit given twice"),
    _json("cell-and-column-units-differ", '{"b12": "150 pg/mL", "b12_unit": "pmol/L"}', "b12", "'pmol/L'"),
    _json("extra-key-in-marker", '{"b12": {"value": 150, "unit": "pg/mL", "lab": "x"}}', "b12", "'lab'"),
    # --- other fields ---
    _json("age-as-text", '{"age": "fifty"}', "age", "'fifty'"),
    _json("age-number-as-text", '{"age": "50"}', "age", "'50'"),
    _json("age-too-young", '{"age": 12}', "age", "12"),
    _json("age-boolean", '{"age": true}', "age", "True"),
    _json("years-negative", '{"metformin_years": -2}', "metformin_years", "-2"),
    _json("bool-as-text", '{"pregnant": "maybe"}', "pregnant", "'maybe'"),
    _json("bool-as-number", '{"nitrous_oxide": 1}', "nitrous_oxide", "1"),
    _json("pregnant-male", '{"pregnant": true, "sex": "male"}', "pregnant", "male"),
    _json("sex-choice", '{"sex": "x"}', "sex", "'x'"),
    _json("diet-choice", '{"diet": "carnivore"}', "diet", "'carnivore'"),
    _json("anti-if-choice", '{"anti_if_antibody": "weak"}', "anti_if_antibody", "'weak'"),
    _json("surgery-choice", '{"gastric_surgery": "appendix"}', "gastric_surgery", "'appendix'"),
    _json("unknown-condition", '{"conditions": ["flu"]}', "conditions", "'flu'"),
    _json("conditions-not-a-list", '{"conditions": 5}', "conditions", "5"),
    _json("id-boolean", '{"id": true}', "id", "True"),
    _json("id-beyond-exact-integers", '{"id": 1e20}', "id", "1e+20"),
    # --- structure of the JSON file ---
    _json("unknown-field", '{"b21": "150 pmol/L"}', "b21", "did you mean 'b12'"),
    _json("duplicate-key", '{"b12": "150 pmol/L", "b12": "160 pmol/L"}', "b12", "given twice"),
    _json("malformed", '{"b12": ', "line 1 column 9", "not valid JSON"),
    _json("top-level-array", '[{"b12": "150 pmol/L"}]', "(top level)", "array"),
    _json("empty-file", "", "(file)", "empty"),
    _json("orphan-unit", '{"b12_unit": "pmol/L"}', "b12_unit", "without a 'b12' column"),
    # --- CSV read as one panel ---
    _csv("csv-bare-number", "b12,age\n150,70\n", "b12", "150 has no unit"),
    _csv("csv-unknown-unit", "b12,b12_unit\n150,mg/dL\n", "b12", "mg/dL"),
    _csv("csv-bad-boolean", "b12,pregnant\n150 pmol/L,perhaps\n", "pregnant", "'perhaps'"),
    _csv("csv-nan-text", "b12\nNaN pmol/L\n", "b12", "'NaN pmol/L'"),
    _csv("csv-inf-text", "homocysteine,homocysteine_unit\ninf,umol/L\n", "homocysteine", "inf is not a finite number"),
    _csv("csv-age-with-unit", "age\n50 years\n", "age", "'50 years'"),
    _csv("csv-unknown-condition", "conditions\nhiv;gout\n", "conditions", "'gout'"),
    _csv("csv-two-rows", "b12\n150 pmol/L\n160 pmol/L\n", "(rows)", "2 data rows", row=None),
    _csv("csv-header-only", "b12,age\n", "(rows)", "no data row", row=None),
    _csv("csv-empty", "", "(file)", "empty", row=None),
    _csv("csv-duplicate-column", "b12,b12\n150 pmol/L,160 pmol/L\n", "b12", "given twice", row=None),
    _csv("csv-ragged-row", "b12,age\n150 pmol/L,70,extra\n", "(row)", "3 cells where the header has 2"),
    _csv("csv-unterminated-quote", 'b12,age\n"150 pmol/L,70\n', "(file)", "malformed CSV", row=None),
    _csv("csv-unknown-column", "vitamin_b21\n150 pmol/L\n", "vitamin_b21", "unknown field", row=None),
    _csv("csv-censored-age", "age;b12\n>90;150 pmol/L\n", "age", "'>90' is a censored bound"),
    _csv("csv-thousands-in-decimal-comma-file", "b12;age\n1.476 pg/mL;70\n", "b12", "reads both as a whole number"),
    _csv("csv-header-unit-unknown", "Vitamin B12 (mg/dL)\n150\n", "Vitamin B12 (mg/dL)", "unknown unit 'mg/dL'", row=None),
    _csv("csv-header-unit-and-unit-column", "B12 (pg/mL),b12_unit\n150,pg/mL\n", "b12_unit", "given in its header", row=None),
    _csv("csv-two-b12-columns", "Vitamin B12,Cobalamin\n150 pmol/L,160 pmol/L\n", "Cobalamin", "given twice", row=None),
    _csv("csv-header-unit-clash", "B12 (pg/mL)\n150 pmol/L\n", "b12", "but the header 'B12 (pg/mL)' says 'pg/mL'"),
    _csv("csv-short-row", "b12;age;sex\n150 pmol/L;70\n", "(row)", "2 cells where the header has 3"),
    # --- cohort files and tables (file-level problems raise) ---
    Bad("cohort-unknown-column", "cohort", "id,b12,colour\n1,150 pmol/L,red\n", "colour", "unknown field"),
    Bad("cohort-duplicate-column", "cohort", "age,age\n50,60\n", "age", "given twice"),
    Bad("cohort-empty", "cohort", "", "(file)", "empty"),
    Bad("frame-unknown-column", "frame", pd.DataFrame({"b12": [150.0], "b12_unit": ["pmol/L"], "Unnamed: 0": [0]}), "Unnamed: 0", "unknown field"),
    Bad("frame-non-text-column", "frame", pd.DataFrame({0: [1.0]}), "0", "column names must be text"),
    Bad("frame-no-rows", "frame", pd.DataFrame({"b12": pd.Series([], dtype=float)}), "(rows)", "no rows"),
    # --- parse_panel on a mapping ---
    Bad("mapping-bare-number", "mapping", {"b12": 150}, "b12", "150"),
    Bad("mapping-not-a-mapping", "mapping", ["b12"], "(top level)", "array"),
]


def _call(case: Bad, tmp_path: Path) -> tuple[Callable[[], object], str]:
    """The call that must fail, and the source its message must name."""
    if case.how == "mapping":
        return (lambda: parse_panel(case.content, "mapping-source")), "mapping-source"
    if case.how == "frame":
        return (lambda: read_cohort(case.content, source="my-table")), "my-table"
    suffix = ".json" if case.how == "json" else ".csv"
    path = tmp_path / f"{case.id}{suffix}"
    path.write_text(case.content, encoding="utf-8")
    if case.how == "cohort":
        return (lambda: read_cohort(path)), str(path)
    return (lambda: read_panel(path)), str(path)


def test_there_are_enough_distinct_cases() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_lab_value_error(case: Bad, tmp_path: Path) -> None:
    call, source = _call(case, tmp_path)
    with pytest.raises(LabValueError) as err:
        call()
    message = str(err.value)
    assert err.value.field == case.field
    assert message.startswith(source), message
    assert f": {case.field}: " in message, message
    assert case.shows in message, message
    assert err.value.expected, "the message says what is expected"
    if case.row is not None:
        assert f", row {case.row} (data rows counted from 1 below the header; spreadsheet row {case.row + 1})" in message


def test_unknown_unit_message_lists_accepted_units(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"b12": "150 nmol/L"}', encoding="utf-8")
    with pytest.raises(LabValueError, match=r"expected one of pmol/L, pg/mL, ng/L"):
        read_panel(path)


def test_implausible_message_gives_range_and_units() -> None:
    with pytest.raises(LabValueError) as err:
        parse_panel({"b12": "0.4 pmol/L"}, "p")
    assert "20-5000 pmol/L (plausible measuring range" in str(err.value) and "accepted units: pmol/L, pg/mL, ng/L" in str(err.value)
    with pytest.raises(LabValueError) as err:
        parse_panel({"folate": "0.1 nmol/L"}, "p")
    assert "engineering plausibility check, not a clinical rule" in str(err.value)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(LabValueError, match=r"unsupported file type '\.txt'") as err:
        (tmp_path / "p.txt").write_text("{}", encoding="utf-8")
        read_panel(tmp_path / "p.txt")
    assert err.value.field == "(file)"
    with pytest.raises(LabValueError, match="file not found") as err:
        read_panel(tmp_path / "nothing.json")
    assert str(tmp_path / "nothing.json") in str(err.value)


def test_not_text(tmp_path: Path) -> None:
    """Bytes undefined in UTF-8 and in Windows-1252 (0x81) are not read as text."""
    path = tmp_path / "p.csv"
    path.write_bytes(b"b12\n\x81\xfe150 pmol/L\n")
    with pytest.raises(LabValueError, match="neither UTF-8 nor Windows-1252"):
        read_panel(path)


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["150 pg/mL", "0.3 umol/L", "yes", "vegan", "hiv;coeliac disease", "40 pmol/L", "12 g/dL"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["value", "unit", "x"]), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(KNOWN_FIELDS), _ANY_JSON, max_size=8))
def test_any_json_panel_parses_or_raises_lab_value_error(fields: dict[str, Any]) -> None:
    try:
        panel = parse_panel(fields, "fuzz")
    except LabValueError as err:
        assert str(err).startswith(f"fuzz: {err.field}: ")
        return
    interpret_panel(panel).format_text()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(KNOWN_FIELDS), st.text(max_size=10) | st.sampled_from(["150", "pg/mL", "1", "yes"]),
                                max_size=6), min_size=1, max_size=5))
def test_any_text_table_is_interpreted_or_rejected_cell_by_cell(rows: list[dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, dtype=object)
    try:
        result = interpret_cohort(frame)
    except LabValueError as err:  # only table-level problems raise: an orphan unit column
        assert err.field.endswith("_unit") or err.field == "(rows)"
        return
    bad_rows = {int(e.source.split(", row ")[1].split(" ")[0]) for e in result.errors}
    assert sorted(bad_rows | set(result.table["row"])) == list(range(1, len(rows) + 1))
    assert not bad_rows & set(result.table["row"])
