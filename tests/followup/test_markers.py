"""Dated lab panels for the follow-up timeline."""

from __future__ import annotations

from datetime import date

import pytest

from b12brain.errors import InputFileError, LabValueError
from b12brain.followup import read_marker_series


def test_rows_are_read_in_canonical_units_and_sorted_by_date(tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("date,b12,b12_unit,homocysteine,homocysteine_unit\n"
                    "2025-06-20,542,pg/mL,11,umol/L\n2025-01-05,110,pmol/L,,\n")
    draws = read_marker_series(path)
    assert [d.date for d in draws] == [date(2025, 1, 5), date(2025, 6, 20)]
    assert draws[0].values == {"b12": 110.0}
    assert draws[1].values["b12"] == pytest.approx(542 * 0.738, rel=0.01)  # pg/mL -> pmol/L
    assert draws[1].values["homocysteine"] == 11.0


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        ("b12,b12_unit\n110,pmol/L\n", InputFileError, "no 'date' column"),
        ("date,b12,b12_unit\n5 Jan 2025,110,pmol/L\n", InputFileError, "row 1, date"),
        ("date,b12,b12_unit\n2025-01-05,110,furlongs\n", LabValueError, "b12"),
    ],
)
def test_a_bad_table_is_refused_naming_the_field(tmp_path, content, error, match):
    path = tmp_path / "labs.csv"
    path.write_text(content)
    with pytest.raises(error, match=match):
        read_marker_series(path)
