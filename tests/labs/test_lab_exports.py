"""Lab tables as laboratories and spreadsheets export them are read with the right values.

The corpus is generated: the same three panels written with every delimiter (comma,
semicolon, tab, pipe), encoding (UTF-8, UTF-8 with BOM, Windows-1252, UTF-16) and header
style (field names with unit columns, units in the cells, lab spellings with the unit in
brackets), with the artefacts of the exporting tools (decimal commas, CRLF, trailing empty
columns and cells, blank lines, quoted cells) and censored values. Every value read must be
the value written, in canonical units, with its censor.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from b12brain.cli.main import main
from b12brain.labs import interpret_cohort, interpret_panel, read_cohort, read_panel
from b12brain.labs.censored import CENSOR_SIGNS, CENSORED_LABEL
from b12brain.labs.units import to_canonical

# Each panel: marker -> (value, unit, censor sign); None = not measured.
PANELS: list[dict[str, object]] = [
    {"id": "P-001", "b12": (220.0, "pg/mL", ""), "holotc": (35.5, "pmol/L", ""), "mma": (0.31, "µmol/L", ""),
     "homocysteine": (14.2, "µmol/L", ""), "egfr": (90.0, "mL/min/1.73m²", ">"), "age": 71.0, "sex": "female"},
    {"id": "007", "b12": (150.0, "pg/mL", "<"), "holotc": (20.0, "pmol/L", ""), "mma": (0.82, "µmol/L", ""),
     "homocysteine": (25.0, "µmol/L", ""), "egfr": (45.0, "mL/min/1.73m²", ""), "age": 48.0, "sex": "male"},
    {"id": "P 3", "b12": (1476.0, "pg/mL", ">"), "holotc": (150.0, "pmol/L", ">"), "mma": None,
     "homocysteine": (9.5, "µmol/L", ""), "egfr": None, "age": 33.0, "sex": "female"},
]
MARKERS = ("b12", "holotc", "mma", "homocysteine", "egfr")
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16")
# Header style -> per marker (header, unit the values are written in, how the unit is given).
LAB_HEADERS_A = {"id": "Patient ID", "b12": ("Vitamin B12 (ng/L)", "ng/L"), "holotc": ("Active B12 (pmol/L)", "pmol/L"),
                 "mma": ("MMA (µmol/L)", "µmol/L"), "homocysteine": ("tHcy (µmol/L)", "µmol/L"),
                 "egfr": ("eGFR (mL/min/1.73m²)", "mL/min/1.73m²"), "age": "Age", "sex": "Gender"}
LAB_HEADERS_B = {"id": "Sample ID", "b12": ("Cobalamin [pmol/l]", "pmol/L"), "holotc": ("HoloTC [pmol/l]", "pmol/L"),
                 "mma": ("Methylmalonic acid [nmol/L]", "nmol/L"), "homocysteine": ("Homocysteine [umol/L]", "µmol/L"),
                 "egfr": ("eGFR [ml/min/1,73 m²]", "mL/min/1.73m²"), "age": "Age (years)", "sex": "Sex"}
STYLES = ("unit-columns", "units-in-cells", "lab-headers")


def _number(value: float, decimal_comma: bool) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if decimal_comma else text


def _in_unit(marker: str, value: float, unit: str, target: str) -> float:
    """``value`` in ``unit`` re-expressed in ``target`` (exact for the corpus' round figures)."""
    canonical = float(to_canonical(marker, value, unit))
    return round(canonical / float(to_canonical(marker, 1.0, target)), 6)


def export(style: str, delimiter: str, *, lab_headers: dict[str, object] = LAB_HEADERS_A) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the three panels as an export of ``style`` writes them."""
    comma = delimiter != ","
    header: list[str] = ["id"]
    rows: list[list[str]] = [[str(p["id"])] for p in PANELS]
    for marker in MARKERS:
        if style == "lab-headers":
            name, target = lab_headers[marker]  # type: ignore[misc]
            header.append(name)
            for row, p in zip(rows, PANELS):
                given = p[marker]
                if given is None:
                    row.append("")
                else:
                    value, unit, sign = given  # type: ignore[misc]
                    row.append(sign + _number(_in_unit(marker, value, unit, target), comma))
        elif style == "units-in-cells":
            header.append(marker)
            for row, p in zip(rows, PANELS):
                given = p[marker]
                row.append("" if given is None else f"{given[2]}{_number(given[0], comma)} {given[1]}")  # type: ignore[index]
        else:
            header += [marker, f"{marker}_unit"]
            for row, p in zip(rows, PANELS):
                given = p[marker]
                row += ["", ""] if given is None else [f"{given[2]}{_number(given[0], comma)}", str(given[1])]  # type: ignore[index]
    if style == "lab-headers":
        header[0] = str(lab_headers["id"])
    header += [str(lab_headers["age"]), str(lab_headers["sex"])] if style == "lab-headers" else ["age", "sex"]
    for row, p in zip(rows, PANELS):
        row += [_number(float(p["age"]), comma), str(p["sex"]).capitalize()]  # type: ignore[arg-type]
    return header, rows


def write_export(path: Path, style: str, delimiter: str, encoding: str, **kw: object) -> Path:
    """One export file with the artefacts its tool would add."""
    header, rows = export(style, delimiter, **kw)  # type: ignore[arg-type]
    newline = "\r\n" if encoding == "cp1252" else "\n"
    lines = [header, *rows]
    if delimiter == ";":  # Excel: the used range is wider than the table -> trailing empty columns
        lines = [line + ["", ""] for line in lines]
    if delimiter == "|":  # quoted text cells
        lines = [[f'"{c}"' if c and not c[0].isdigit() else c for c in line] for line in lines]
    text = newline.join(delimiter.join(line) for line in lines) + newline
    if delimiter == "\t":  # blank lines between and after the rows
        text = text.replace(newline + str(PANELS[1]["id"]), newline + newline + str(PANELS[1]["id"])) + newline
    path.write_bytes(text.encode(encoding))
    return path


CORPUS = list(itertools.product(STYLES, DELIMITERS, ENCODINGS))


def test_the_corpus_has_at_least_40_exports() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize(("style", "delimiter", "encoding"), CORPUS, ids=["-".join(c) for c in CORPUS])
def test_export_is_read_with_the_right_values(tmp_path: Path, style: str, delimiter: str, encoding: str) -> None:
    path = write_export(tmp_path / "export.csv", style, DELIMITERS[delimiter], encoding)
    cohort = read_cohort(path)
    assert cohort.errors == ()
    cols = cohort.columns
    assert cols.ids.tolist() == [p["id"] for p in PANELS]
    blank_line = 1 if delimiter == "tab" else 0
    assert cols.rows.tolist() == [1, 2 + blank_line, 3 + blank_line]
    for i, panel in enumerate(PANELS):
        for marker in MARKERS:
            given = panel[marker]
            if given is None:
                assert np.isnan(cols.markers[marker][i]), (marker, i)
                continue
            value, unit, sign = given  # type: ignore[misc]
            assert cols.markers[marker][i] == pytest.approx(float(to_canonical(marker, value, unit)), rel=1e-9), (marker, i)
            assert CENSOR_SIGNS[cols.censors[marker][i]] == sign, (marker, i)
        assert cols.numbers["age"][i] == panel["age"]
    assert cohort.format is not None
    assert cohort.format.delimiter == DELIMITERS[delimiter]
    assert cohort.format.decimal_comma == (delimiter != "comma")


def test_second_lab_header_spelling(tmp_path: Path) -> None:
    path = write_export(tmp_path / "export.csv", "lab-headers", ";", "cp1252", lab_headers=LAB_HEADERS_B)
    cohort = read_cohort(path)
    assert cohort.errors == ()
    assert cohort.columns.markers["mma"][:2].tolist() == [0.31, 0.82]
    assert cohort.columns.markers["b12"][0] == pytest.approx(220 * 0.738)
    assert dict((h, f) for h, f, _ in cohort.column_map.columns)["Methylmalonic acid [nmol/L]"] == "mma"
    note = cohort.describe_reading()
    assert note is not None
    assert "Windows-1252, semicolon-separated, decimal comma" in note
    assert "'Cobalamin [pmol/l]' -> b12 (unit pmol/L)" in note and "'Sex' -> sex" in note


def test_censored_values_are_categorised_and_keep_cb12_out(tmp_path: Path) -> None:
    path = write_export(tmp_path / "export.csv", "lab-headers", ",", "utf-8")
    table = interpret_cohort(path).table
    # <150 ng/L = <110.7 pmol/L: every value below it is under the NICE confirmed cut-off.
    assert table["b12_category"].tolist() == ["indeterminate", "deficiency confirmed", "deficiency unlikely"]
    assert table["b12_censored"].astype(object).tolist()[1:] == ["<", ">"]
    # eGFR >90 is above 60; holoTC >150 is above 70.
    assert table["egfr_category"].tolist()[0] == "not reduced below 60"
    assert table["holotc_category"].tolist()[2] == "deficiency unlikely"
    # cB12: computed for the first panel only (the others have a bound or a missing marker).
    assert not np.isnan(table["cb12"].iloc[0]) and np.isnan(table["cb12"].iloc[1:]).all()


def test_a_bound_that_straddles_a_band(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Cobalamin (pmol/L);Active B12 (pmol/L);MMA (µmol/L);tHcy (µmol/L);Age\n<150;<30;0,3;12;60\n", encoding="utf-8")
    result = interpret_panel(read_panel(path))
    b12 = result.markers["b12"]
    assert b12.category == CENSORED_LABEL and b12.censor == "<"
    assert "'deficiency confirmed' or 'indeterminate'" in b12.rule
    assert result.markers["holotc"].category == CENSORED_LABEL
    assert result.cb12 is None
    assert "given as a bound by the laboratory" in result.cb12_note
    assert result.as_dict()["markers"]["b12"]["censored"] == "<"


def test_cli_reads_an_export_and_says_how(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_export(tmp_path / "export.csv", "lab-headers", "\t", "utf-16")
    assert main(["labs", str(path), "--out", str(tmp_path / "out.csv")]) == 0
    err = capsys.readouterr().err
    assert "read as UTF-16, tab-separated, decimal comma" in err
    assert "'Vitamin B12 (ng/L)' -> b12 (unit ng/L)" in err
    assert "interpreted 3 panels; 0 problems reported" in err


def test_one_row_export_is_one_panel(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("Patient ID;Vitamin B12 (pg/mL);MMA (µmol/L);;\r\n0042;350;0,28;;\r\n;;;;\r\n".encode("cp1252"))
    panel = read_panel(path)
    assert (panel.id, panel.seen["b12"], panel.mma) == ("0042", (350.0, "pg/mL"), 0.28)
