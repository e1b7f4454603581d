"""Cohorts: bad rows rejected one by one, good rows interpreted exactly as interpret_panel does,
and results that do not depend on the unit each value was given in."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b12brain.labs import (
    LabResult,
    interpret_cohort,
    interpret_panel,
    parse_panel,
    read_cohort,
    read_panel,
)
from b12brain.labs.fields import BOOLEAN_FIELDS, CHOICE_FIELDS, CONDITIONS
from b12brain.labs.interpret import INTERPRETED, VALUE_COLUMNS
from b12brain.labs.units import MARKER_SPECS, MARKERS

# --- a cohort with bad rows ------------------------------------------------------------------
COHORT_CSV = (
    "id,b12,b12_unit,holotc,mma,homocysteine,age,sex,pregnant,conditions\n"
    "good-1,150,pg/mL,40 pmol/L,0.3 umol/L,12 umol/L,70,female,no,hiv;coeliac disease\n"  # row 1
    "bad-2,150,,40 pmol/L,0.3 umol/L,12 umol/L,70,female,no,\n"  # row 2: no unit for b12
    "good-3,300,pmol/L,80 pmol/L,200 nmol/L,9 umol/L,40,female,No,\n"  # row 3
    "bad-4,300,pmol/L,,,,40,male,yes,\n"  # row 4: pregnant male
    "\n"  # row 5: blank line, skipped but counted
    "bad-6,300,pmol/L\n"  # row 6: too few cells
    "bad-7,300,pmol/L,80 pmol/L,0.2 umol/L,9 umol/L,fourty,female,maybe,\n"  # row 7: two bad cells
    "good-8,,,,,,,,,\n"  # row 8: nothing measured
)


@pytest.fixture
def cohort_csv(tmp_path: Path) -> Path:
    path = tmp_path / "cohort.csv"
    path.write_text(COHORT_CSV, encoding="utf-8")
    return path


def test_bad_rows_are_named_and_good_rows_interpreted(cohort_csv: Path) -> None:
    result = interpret_cohort(cohort_csv)
    named = [(int(e.source.split(", row ")[1].split(" ")[0]), e.field) for e in result.errors]
    assert named == [(2, "b12"), (4, "pregnant"), (6, "(row)"), (7, "age"), (7, "pregnant")]
    for error in result.errors:
        assert str(error).startswith(f"{cohort_csv}, row ")
        assert "(data rows counted from 1 below the header; spreadsheet row" in str(error)
    assert "'fourty'" in str(result.errors[3]) and "'maybe'" in str(result.errors[4])
    table = result.table
    assert table["row"].tolist() == [1, 3, 8]
    assert table["id"].tolist() == ["good-1", "good-3", "good-8"]
    assert table["b12_pmol_l"].iloc[0] == pytest.approx(110.7) and table["mma_umol_l"].iloc[1] == 0.2
    assert table["b12_category"].tolist()[:2] == ["deficiency confirmed", "deficiency unlikely"]
    assert pd.isna(table["b12_category"].iloc[2])
    assert table["b12_status"].tolist() == ["deficiency confirmed", "deficiency unlikely", "not assessable"]
    assert table["cb12_category"].tolist()[:2] == ["low B12", "adequate"] and np.isnan(table["cb12"].iloc[2])
    assert table["flag_hiv_low_b12"].tolist() == [True, False, False]
    assert table["flag_risk_coeliac_disease"].tolist() == [True, False, False]
    assert table["next_test_b12_first"].tolist() == [False, False, True]
    assert table["urgency"].tolist() == ["soon", "routine", "routine"]


def test_output_columns(cohort_csv: Path) -> None:
    columns = set(interpret_cohort(cohort_csv).table.columns)
    expected = {"row", "id", "b12_pmol_l", "holotc_pmol_l", "mma_umol_l", "homocysteine_umol_l", "folate_nmol_l",
                "egfr_ml_min_1_73m2", "mcv_fl", "haemoglobin_g_l", "age_years", "cb12", "cb12_category", "b12_status",
                "suspected_deficiency", "urgency", "flag_markers_disagree", "flag_kidney_function_reduced", "next_test_mma"}
    expected |= {f"{m}_category" for m in INTERPRETED} | {"mma_upper_limit_umol_l", "first_line_category", "cb12_disagrees",
                                                          "advice_no_folic_acid_alone", "advice_treat_neurological"}
    assert "mma_upper_limit_category" not in columns
    assert expected <= columns


def test_read_cohort_keeps_errors_and_row_numbers(cohort_csv: Path) -> None:
    cohort = read_cohort(cohort_csv)
    assert cohort.n_rows == 7 and len(cohort.columns) == 3 and cohort.columns.rows.tolist() == [1, 3, 8]


def test_dataframe_rows_are_named_by_position_and_index() -> None:
    frame = pd.DataFrame(
        {"b12": [150.0, np.nan, 0.4, 300.0], "b12_unit": ["pg/mL", None, "pmol/L", "furlongs"], "age": [70, 80, 60, np.inf]},
        index=["a", "b", "c", "d"],
    )
    result = interpret_cohort(frame)
    assert [str(e).split(":")[0] for e in result.errors] == [
        "DataFrame, row 3 (rows counted from 1; DataFrame index 'c')",
        "DataFrame, row 4 (rows counted from 1; DataFrame index 'd')",
        "DataFrame, row 4 (rows counted from 1; DataFrame index 'd')",
    ]
    assert [e.field for e in result.errors] == ["b12", "b12", "age"]
    assert result.table["row"].tolist() == [1, 2]  # NaN is "not measured" in a DataFrame
    assert result.table["b12_status"].tolist() == ["deficiency confirmed", "not assessable"]


def test_csv_cells_with_units_bom_quotes_and_yes_no(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = '\ufeffid,b12,mma,pregnant,sex,conditions\r\n"P 1","180 pg/mL","280 nmol/L",YES,Female,"Coeliac disease; sjögren\'s"\r\n'
    path.write_text(text, encoding="utf-8")
    panel = parse_panel({"id": "P 1", "b12": "180 pg/mL", "mma": "280 nmol/L", "pregnant": True, "sex": "female",
                         "conditions": ["coeliac disease", "sjogren"]}, str(path))
    from_csv = read_panel(path)
    assert from_csv == panel
    assert from_csv.b12 == 132.84 and from_csv.mma == 0.28 and from_csv.conditions == ("coeliac disease", "sjogren")


# --- random panels ---------------------------------------------------------------------------
_SPELLINGS = {"µmol/L": ("µmol/L", "umol/l", "μmol/L"), "mL/min/1.73m²": ("mL/min/1.73m²", "mL/min/1.73 m2"), "pg/mL": ("pg/mL", "PG/ML")}


@st.composite
def canonical_values(draw: st.DrawFn, marker: str) -> float:
    """A canonical value with 3 decimals, log-uniform over the plausible range."""
    lo, hi = MARKER_SPECS[marker].plausible
    x = math.exp(draw(st.floats(math.log(lo), math.log(hi))))
    return round(min(max(x, lo), hi), 3)


@st.composite
def panels(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same panel twice: markers in canonical units, and re-expressed in random units."""
    canonical: dict[str, Any] = {}
    expressed: dict[str, Any] = {}
    for marker in MARKERS:
        if draw(st.booleans()) or draw(st.booleans()):
            spec = MARKER_SPECS[marker]
            value = draw(canonical_values(marker))
            unit = draw(st.sampled_from(list(spec.units)))
            spelling = draw(st.sampled_from(_SPELLINGS.get(unit, (unit,))))
            canonical[marker] = {"value": value, "unit": spec.unit}
            expressed[marker] = {"value": value / spec.units[unit], "unit": spelling}
    other: dict[str, Any] = {}
    if draw(st.booleans()):
        other["age"] = draw(st.integers(16, 120))
    sex = draw(st.sampled_from([None, "female", "male"]))
    if sex:
        other["sex"] = sex
    for field in BOOLEAN_FIELDS:
        value = draw(st.sampled_from([None, False, True, None, None]))
        if value is not None and not (field == "pregnant" and value and sex == "male"):
            other[field] = value
    for field, choices in CHOICE_FIELDS.items():
        if field != "sex" and draw(st.booleans()):
            other[field] = draw(st.sampled_from(choices))
    for field in ("metformin_years", "ppi_years", "h2_blocker_years"):
        if draw(st.booleans()):
            other[field] = draw(st.sampled_from([0, 0.5, 1.9, 2, 10]))
    other["conditions"] = draw(st.lists(st.sampled_from(CONDITIONS), max_size=3, unique=True))
    return {**canonical, **other}, {**expressed, **other}


def signature(result: LabResult) -> dict[str, Any]:
    """Everything the interpretation decides (not the as-seen values)."""
    return {
        "values": {m: r.value for m, r in result.markers.items()},
        "categories": {m: r.category for m, r in result.markers.items()},
        "cb12": result.cb12,
        "cb12_category": result.cb12_category,
        "status": result.b12_status,
        "suspected": result.suspected_deficiency,
        "flags": [f.code for f in result.flags],
        "next_tests": [f.code for f in result.next_tests],
        "advice": [f.code for f in result.advice],
        "urgency": result.urgency,
        "reasons": [f.code for f in result.urgency_reasons],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels())
def test_result_does_not_depend_on_units(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    canonical, expressed = pair
    assert signature(interpret_panel(parse_panel(expressed))) == signature(interpret_panel(parse_panel(canonical)))


def _frame(panels: list[dict[str, Any]]) -> pd.DataFrame:
    """Panels as a cohort table: value and unit columns, ';'-joined conditions, None/NaN = missing."""
    rows = []
    for p in panels:
        row: dict[str, Any] = {}
        for key, value in p.items():
            if key in MARKERS:
                row[key], row[f"{key}_unit"] = value["value"], value["unit"]
            elif key == "conditions":
                row[key] = ";".join(value)
            else:
                row[key] = value
        rows.append(row)
    frame = pd.DataFrame(rows)
    for marker in MARKERS:  # every marker column present, so unit columns always have theirs
        if marker not in frame:
            frame[marker] = np.nan
    return frame


def _table_row_signature(row: pd.Series) -> dict[str, Any]:
    measured = [m for m in INTERPRETED if not pd.isna(row[f"{m}_category"])]
    flags = [c.removeprefix("flag_") for c in row.index if c.startswith("flag_") and row[c]]
    tests = [c.removeprefix("next_") for c in row.index if c.startswith("next_") and row[c]]
    advice = [c.removeprefix("advice_") for c in row.index if c.startswith("advice_") and row[c]]
    return {
        "values": {m: float(row[VALUE_COLUMNS[m]]) for m in measured},
        "categories": {m: row[f"{m}_category"] for m in measured},
        "cb12": None if np.isnan(row["cb12"]) else float(row["cb12"]),
        "cb12_category": None if pd.isna(row["cb12_category"]) else row["cb12_category"],
        "status": row["b12_status"],
        "suspected": bool(row["suspected_deficiency"]),
        "flags": flags,
        "next_tests": tests,
        "advice": advice,
        "urgency": row["urgency"],
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(panels(), min_size=1, max_size=8))
def test_cohort_equals_interpret_panel_row_by_row(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    expressed = [e for _, e in pairs]
    result = interpret_cohort(_frame(expressed))
    assert result.errors == ()
    assert len(result.table) == len(expressed)
    for (_, row), panel in zip(result.table.iterrows(), expressed):
        single = signature(interpret_panel(parse_panel(panel)))
        del single["reasons"]  # the table has the urgency, not its reasons
        assert _table_row_signature(row) == single


def test_csv_and_dataframe_give_the_same_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    panels_ = []
    for i in range(300):
        p: dict[str, Any] = {"id": f"s{i}"}
        for marker in MARKERS:
            if rng.random() < 0.7:
                spec = MARKER_SPECS[marker]
                lo, hi = spec.plausible
                unit = list(spec.units)[rng.integers(len(spec.units))]
                p[marker] = {"value": round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) / spec.units[unit], 4), "unit": unit}
        p["age"] = int(rng.integers(16, 100))
        p["neurological_symptoms"] = bool(rng.random() < 0.3)
        p["conditions"] = [c for c in CONDITIONS if rng.random() < 0.1]
        panels_.append(p)
    frame = _frame(panels_)
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    from_frame = interpret_cohort(frame)
    from_csv = interpret_cohort(path)
    assert from_frame.errors == () and from_csv.errors == ()
    pd.testing.assert_frame_equal(from_frame.table.drop(columns="id"), from_csv.table.drop(columns="id"))
    assert from_csv.table["id"].tolist() == [f"s{i}" for i in range(300)]
