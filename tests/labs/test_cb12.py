"""cB12: the sanity values of the clinical reference (Fedosov 2015), four markers + age or nothing, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12brain.errors import LabValueError
from b12brain.labs import compute_cb12, interpret_panel, parse_panel

FULL = {"b12": "350 pmol/L", "holotc": "70 pmol/L", "mma": "0.2 umol/L", "homocysteine": "10 umol/L", "age": 50}


@pytest.mark.parametrize(
    ("holotc", "b12", "mma", "hcy", "age", "expected"),
    [(70, 350, 0.2, 10, 50, 0.37), (20, 120, 0.8, 25, 50, -1.64)],
)
def test_sanity_values(holotc: float, b12: float, mma: float, hcy: float, age: float, expected: float) -> None:
    assert round(float(compute_cb12(b12, holotc, mma, hcy, age)), 2) == expected
    result = interpret_panel(parse_panel({
        "b12": f"{b12} pmol/L", "holotc": f"{holotc} pmol/L", "mma": f"{mma} umol/L", "homocysteine": f"{hcy} umol/L", "age": age,
    }))
    assert result.cb12 is not None and round(result.cb12, 2) == expected
    assert result.as_dict()["cb12"] == expected


def test_sanity_value_in_other_units() -> None:
    # B12 350 pmol/L = 474.25 pg/mL; MMA 0.2 umol/L = 200 nmol/L
    result = interpret_panel(parse_panel({**FULL, "b12": "474.25474254742547 pg/mL", "mma": "200 nmol/L"}))
    assert result.cb12 is not None and round(result.cb12, 2) == 0.37 and result.cb12_category == "adequate"


def test_categories_of_the_sanity_values() -> None:
    assert interpret_panel(parse_panel(FULL)).cb12_category == "adequate"
    low = {"b12": "120 pmol/L", "holotc": "20 pmol/L", "mma": "0.8 umol/L", "homocysteine": "25 umol/L", "age": 50}
    assert interpret_panel(parse_panel(low)).cb12_category == "possible deficiency"


@pytest.mark.parametrize("left_out", ["b12", "holotc", "mma", "homocysteine", "age"])
def test_no_cb12_without_all_four_markers_and_age(left_out: str) -> None:
    # B12 250 pmol/L (339 ng/L) or holoTC 70 pmol/L: an indeterminate first-line result, where cB12 is suggested.
    fields = {k: v for k, v in (FULL | {"b12": "250 pmol/L"}).items() if k != left_out}
    result = interpret_panel(parse_panel(fields))
    assert result.cb12 is None and result.cb12_category is None
    name = {"b12": "B12", "holotc": "holoTC", "mma": "MMA", "homocysteine": "homocysteine", "age": "age"}[left_out]
    assert result.cb12_note.startswith("cB12 needs B12, holoTC, MMA, homocysteine and age; missing: " + name + ".")
    assert result.as_dict()["cb12"] is None and result.as_dict()["cb12_category"] is None
    assert any(f.code == "test_cb12_markers" and name in f.message for f in result.next_tests)
    with pytest.raises(LabValueError) as err:
        interpret_panel(parse_panel(fields), require_cb12=True)
    assert err.value.field == left_out and f"missing {left_out} when cB12 is asked" in str(err.value)


def test_missing_note_lists_everything_missing() -> None:
    result = interpret_panel(parse_panel({"b12": "200 pmol/L"}))
    assert "missing: holoTC, MMA, homocysteine, age." in result.cb12_note


def test_nan_in_any_input_gives_nan() -> None:
    out = compute_cb12([350, np.nan], [70, 70], [0.2, 0.2], [10, 10], [50, 50])
    assert not np.isnan(out[0]) and np.isnan(out[1])


_RANGES = {"b12": (20.0, 5000.0), "holotc": (1.0, 500.0), "mma": (0.02, 100.0), "homocysteine": (1.0, 500.0)}


@st.composite
def _increasing_pair(draw: st.DrawFn, lo: float, hi: float) -> tuple[float, float]:
    low = draw(st.floats(lo, hi / 1.001))
    return low, draw(st.floats(low * 1.0001, hi))


@st.composite
def _panel_and_pair(draw: st.DrawFn) -> tuple[dict[str, float], str, float, float]:
    values = {m: draw(st.floats(lo, hi)) for m, (lo, hi) in _RANGES.items()}
    values["age"] = draw(st.floats(16, 120))
    marker = draw(st.sampled_from(sorted(_RANGES)))
    low, high = draw(_increasing_pair(*_RANGES[marker]))
    return values, marker, low, high


@settings(max_examples=300, deadline=None)
@given(_panel_and_pair())
def test_cb12_monotonic_in_each_marker(case: tuple[dict[str, float], str, float, float]) -> None:
    """Other inputs fixed: cB12 rises strictly with B12 and holoTC, falls with MMA and Hcy."""
    values, marker, low, high = case

    def cb(value: float) -> float:
        v = {**values, marker: value}
        return float(compute_cb12(v["b12"], v["holotc"], v["mma"], v["homocysteine"], v["age"]))

    if marker in ("b12", "holotc"):
        assert cb(high) > cb(low)
    else:
        assert cb(high) < cb(low)
