"""Malformed lab exports: ``b12brain labs`` exits 2 with one line naming the file, the row and
the field, quoting at most about 80 characters of the bad value, and writes nothing.

Each file is a one-panel export in the shape labs write them (lab headers, semicolons and
decimal commas, Windows-1252 ...) with one bad cell, so the error is the whole answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from b12brain.cli.main import main


@dataclass(frozen=True)
class Malformed:
    id: str
    header: str
    row: str
    field: str  # the field the message names
    shows: str  # text the message must hold (the value, or the problem)
    delimiter: str = ";"
    encoding: str = "utf-8"


HEAD = "Patient ID;Vitamin B12 (pg/mL);MMA (µmol/L);tHcy (µmol/L);Age;Sex"


def _bad(id: str, cell: str, column: int, field: str, shows: str) -> Malformed:
    """A good semicolon export with cell ``column`` replaced by ``cell``."""
    cells = ["P1", "350", "0,28", "12,5", "70", "female"]
    cells[column] = cell
    return Malformed(id, HEAD, ";".join(cells), field, shows)


HUGE = "7" * 200_000
CASES = [
    _bad("thousands-or-decimal", "1.476", 1, "b12", "reads both as a whole number with a thousands separator and as a decimal"),
    _bad("two-decimal-marks", "1.476,5", 1, "b12", "'1.476,5' is text"),
    _bad("not-done", "n.d.", 1, "b12", "'n.d.'"),
    _bad("hemolysed", "hämolytisch", 1, "b12", "'hämolytisch'"),
    _bad("cell-unit-clashes-header", "150 pmol/L", 1, "b12", "but the header 'Vitamin B12 (pg/mL)' says 'pg/mL'"),
    _bad("unknown-cell-unit", "150 mg/dL", 1, "b12", "'mg/dL'"),
    _bad("bound-without-number", "<", 1, "b12", "'<'"),
    _bad("bound-sign-twice", "<<150", 1, "b12", "'<<150'"),
    _bad("implausible-after-decimal-comma", "0,4", 1, "b12", "0.4 pg/mL"),
    _bad("negative", "-5", 1, "b12", "-5 pg/mL is not a positive value"),
    _bad("bound-at-zero", "<0", 1, "b12", "0 pg/mL is not a positive value"),
    _bad("nan-text", "NaN", 1, "b12", "'NaN'"),
    _bad("inf-text", "inf", 1, "b12", "inf is not a finite number"),
    _bad("beyond-double", "1e400", 1, "b12", "inf is not a finite number"),
    _bad("five-thousand-digits", "9" * 5000, 1, "b12", "(5002 characters) is longer than the 40 characters a number may have"),
    _bad("huge-cell", HUGE, 1, "b12", "(200002 characters)"),
    _bad("two-numbers", "150 150", 1, "b12", "'150 150'"),
    _bad("mma-unit-mixup", "250", 2, "mma", "250 µmol/L is outside the plausible range"),
    _bad("hcy-thousands-or-decimal", "1.250", 3, "homocysteine", "reads both as a whole number"),
    _bad("age-censored", ">90", 4, "age", "'>90' is a censored bound"),
    _bad("age-with-unit", "70 J", 4, "age", "'70 J' is not a plain number"),
    _bad("age-too-young", "12", 4, "age", "12 is outside 16-120 years"),
    _bad("age-text", "siebzig", 4, "age", "'siebzig'"),
    _bad("sex-abbreviation", "W", 5, "sex", "'W' is not one of the choices"),
    Malformed("pregnant-ja", "b12;pregnant", "150 pmol/L;ja", "pregnant", "'ja' is not a yes/no value"),
    Malformed("male-pregnant", "b12;sex;pregnant", "150 pmol/L;male;yes", "pregnant", "sex is 'male'"),
    Malformed("unknown-condition", "b12;conditions", "150 pmol/L;hiv;gout", "(row)", "3 cells where the header has 2"),
    Malformed("unknown-condition-quoted", "b12,conditions", '150 pmol/L,"hiv;gout"', "conditions", "'gout'", ","),
    Malformed("diet-keto", "b12;diet", "150 pmol/L;keto", "diet", "'keto'"),
    Malformed("anti-if-weak", "b12\tanti_if_antibody", "150 pmol/L\tweakly positive", "anti_if_antibody", "'weakly positive'", "\t"),
    Malformed("years-with-unit", "b12;PPI years", "150 pmol/L;3 years", "ppi_years", "'3 years'"),
    Malformed("years-thousands", "b12,metformin_years", '150 pmol/L,"1,000"', "metformin_years", "reads both as a whole number", ","),
    Malformed("boolean-two", "b12;colchicine", "150 pmol/L;2", "colchicine", "'2' is not a yes/no value"),
    Malformed("egfr-unit-unknown", "b12;eGFR", "150 pmol/L;>90 ml/min", "egfr", "unknown unit 'ml/min'"),
    Malformed("hb-g-per-l-for-g-per-dl", "b12;Hb (g/L)", "150 pmol/L;13,5", "haemoglobin", "13.5 g/L is outside"),
    Malformed("extra-cells", HEAD, "P1;350;0,28;12,5;70;female;x;y", "(row)", "8 cells where the header has 6"),
    Malformed("missing-cells", HEAD, "P1;350;0,28", "(row)", "3 cells where the header has 6"),
    Malformed("cp1252-unit-clash", "Vitamin B12;Vitamin B12 unit", "150;µg/L", "b12", "'µg/L'", ";", "cp1252"),
    Malformed("no-unit", "Patient ID;Cobalamin", "P1;150", "b12", "has no unit"),
]


def test_there_are_at_least_30_malformed_exports() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_export_exits_2_naming_file_row_and_field(case: Malformed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(f"{case.header}\r\n{case.row}\r\n".encode(case.encoding))
    out = tmp_path / "out.txt"
    assert main(["labs", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out == "" and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"b12brain labs: error: {path}, row 1 (data rows counted from 1 below the header; spreadsheet row 2): "
                          f"{case.field}: "), err
    assert case.shows in err, err
    assert "; expected " in err
    assert len(err) < 600, len(err)  # a bad value is quoted in ~80 characters, never whole
    assert not out.exists()


@pytest.mark.parametrize(
    ("id", "content", "field", "shows"),
    [
        ("unknown-column", "Vitamin B21 (pmol/L)\n150\n", "Vitamin B21 (pmol/L)", "did you mean"),
        ("two-b12-columns", "Vitamin B12 (pmol/L);Cobalamin (pmol/L)\n150;160\n", "Cobalamin (pmol/L)", "given twice"),
        ("header-unit-unknown", "Active B12 (ng/mL)\n40\n", "Active B12 (ng/mL)", "unknown unit 'ng/mL' in the header"),
        ("unit-twice", "Vitamin B12 (pg/mL);b12_unit\n150;pg/mL\n", "b12_unit", "given in its header and in"),
        ("choice-with-unit", "Sex (years)\nfemale\n", "Sex (years)", "unit 'years' in the header"),
        ("unterminated-quote", 'b12,age\n"150 pmol/L,70\n', "(file)", "malformed CSV"),
        ("not-text", b"b12\n\x81\x8d\n", "(file)", "neither UTF-8 nor Windows-1252"),
        ("header-only", "Vitamin B12 (pg/mL);;\n;;\n", "(rows)", "no data row"),
        ("huge-header", "x" * 100_000 + "\n1\n", "x" * 60, "(100000 characters)"),
        ("blank-first-line", "\n\n\n>5", "(header)", "the first line is empty"),
        ("header-of-delimiters-only", ";;\n1;2;3\n", "", "unknown field ''"),
    ],
)
def test_malformed_table_exits_2_naming_file_and_field(
    id: str, content: str | bytes, field: str, shows: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    assert main(["labs", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"b12brain labs: error: {path}: {field}"), err
    assert shows in err, err
    assert len(err) < 1200, len(err)


def test_a_table_over_the_size_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from b12brain.labs import tablefile

    monkeypatch.setattr(tablefile, "MAX_TABLE_BYTES", 100)
    path = tmp_path / "cohort.csv"
    path.write_text("b12\n" + "150 pmol/L\n" * 20, encoding="utf-8")
    assert main(["labs", str(path)]) == 2
    assert f"{path}: (file): the file holds 224 bytes; expected at most 100 bytes" in capsys.readouterr().err
