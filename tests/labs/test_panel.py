"""One form of a panel: the field table, the Panel view of a one-row table, require_cb12 in a cohort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from b12brain.errors import LabValueError
from b12brain.labs import Panel, interpret_cohort, interpret_panel, parse_panel, read_cohort, read_panel
from b12brain.labs.fields import FIELD, FIELDS, KNOWN_FIELDS, MARKERS, UNIT_SUFFIX
from b12brain.labs.headers import map_headers

PANEL = {"id": "007", "b12": "<200 pg/mL", "mma": {"value": 280, "unit": "nmol/L"}, "age": 70, "sex": "Male",
         "pregnant": False, "conditions": ["coeliac"], "diet": "vegan"}


def test_every_declared_field_is_known_and_read_under_its_header_spellings() -> None:
    assert KNOWN_FIELDS == ("id", *MARKERS, *(m + UNIT_SUFFIX for m in MARKERS),
                            *(f.name for f in FIELDS if f.kind not in ("id", "marker")))
    for f in FIELDS:
        headers = [f.name, *(h.title() for h in f.headers)]
        assert map_headers(headers[:1], "x").fields == [f.name]
        for header in headers[1:]:
            assert map_headers([header], "x").fields == [f.name], header


def test_panel_is_a_view_of_its_one_row_columns() -> None:
    assert not set(FIELD) & set(dir(Panel)), "a field name would hide a Panel attribute"
    panel = parse_panel(PANEL, "p.json")
    assert len(panel.columns) == 1
    assert (panel.id, panel.b12, panel.mma, panel.age, panel.sex, panel.pregnant, panel.diet) == (
        "007", 147.6, 0.28, 70.0, "male", False, "vegan")
    assert panel.conditions == ("coeliac disease",) and panel.holotc is None and panel.colchicine is None
    assert panel.seen == {"b12": (200.0, "pg/mL"), "mma": (280.0, "nmol/L")} and panel.censored == {"b12": "<"}
    assert panel.as_seen("holotc") is None and panel.marker("b12") == 147.6
    assert repr(panel).startswith("Panel(source='p.json', id='007', b12=147.6, mma=0.28, age=70.0")
    with pytest.raises(AttributeError, match="no attribute 'b13'"):
        panel.b13  # noqa: B018


def test_a_panel_read_from_json_and_from_a_one_row_csv_are_equal(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('id,b12,mma,age,sex,pregnant,conditions,diet\n007,<200 pg/mL,280 nmol/L,70,male,no,coeliac,vegan\n',
                    encoding="utf-8")
    assert read_panel(path) == parse_panel(PANEL, str(path))
    assert read_panel(path) != parse_panel({**PANEL, "b12": "200 pg/mL"}, str(path))  # the censor sign counts
    assert read_panel(path) != parse_panel({**PANEL, "mma": "0.28 umol/L"}, str(path))  # so does the unit given
    assert interpret_panel(read_panel(path)).as_dict()["markers"] == interpret_panel(parse_panel(PANEL)).as_dict()["markers"]


def test_a_cohort_row_is_the_panel_of_that_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "b12": ["150 pmol/L", "400 pg/mL"], "age": [40, 80]})
    cohort = read_cohort(frame)
    assert [cohort.panel(i).b12 for i in range(2)] == [150.0, 295.2]
    with pytest.raises(LabValueError, match="2 data rows where one panel is expected"):
        cohort.only_panel()
    assert read_cohort(frame.iloc[:1]).only_panel() == cohort.panel(0)


def test_require_cb12_leaves_out_and_reports_the_rows_without_it() -> None:
    full = {"b12": "350 pmol/L", "holotc": "70 pmol/L", "mma": "0.2 umol/L", "homocysteine": "10 umol/L", "age": 50}
    frame = pd.DataFrame([full, {**full, "age": np.nan}, {**full, "holotc": "<20 pmol/L"}, {**full, "b12": "x"}])
    kept = interpret_cohort(frame, require_cb12=True)
    assert kept.table["row"].tolist() == [1] and kept.table["cb12"].notna().all()
    assert [(e.source.split(", row ")[1][:1], e.field) for e in kept.errors] == [("4", "b12"), ("2", "cb12"), ("3", "cb12")]
    assert interpret_cohort(frame).table["row"].tolist() == [1, 2, 3]
