"""Units: conversion factors of CLINICAL.md §2, accepted spellings, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from b12brain.labs.units import (
    MARKER_SPECS,
    MARKERS,
    find_unit,
    from_canonical,
    round_significant,
    to_canonical,
)

ALL_UNITS = [(m, u) for m in MARKERS for u in MARKER_SPECS[m].units]


@pytest.mark.parametrize(("marker", "unit"), ALL_UNITS)
def test_round_trip_canonical_to_unit_and_back(marker: str, unit: str) -> None:
    lo, hi = MARKER_SPECS[marker].plausible
    rng = np.random.default_rng(0)
    values = np.concatenate([np.geomspace(lo, hi, 41), rng.uniform(lo, hi, 200)])
    back = to_canonical(marker, from_canonical(marker, values, unit), unit)
    np.testing.assert_allclose(back, values, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("marker", "value", "unit", "canonical"),
    [
        ("b12", 1.0, "pg/mL", 0.738),
        ("b12", 1.0, "ng/L", 0.738),
        ("b12", 180.0, "ng/L", 132.84),
        ("b12", 350.0, "pg/mL", 258.3),
        ("mma", 1000.0, "nmol/L", 1.0),
        ("mma", 280.0, "nmol/L", 0.28),
        ("folate", 1.0, "ng/mL", 2.266),
        ("folate", 3.0, "µg/L", 6.798),
        ("haemoglobin", 13.5, "g/dL", 135.0),
        ("haemoglobin", 8.0, "mmol/L", 128.88),
        ("holotc", 25.0, "pmol/L", 25.0),
        ("mma", 9.0, "nmol/L", 0.009),  # 9 * 0.001 is 0.009000000000000001 in floating point
        ("b12", 220.0, "pg/mL", 162.36),  # 220 * 0.738 is 162.35999999999999
    ],
)
def test_conversion_factors(marker: str, value: float, unit: str, canonical: float) -> None:
    # exact equality: canonical values are rounded to 12 significant digits, so float noise
    # does not make the same measurement differ between units
    assert float(to_canonical(marker, value, unit)) == canonical


@pytest.mark.parametrize(
    ("marker", "spelling", "unit"),
    [
        ("mma", "umol/L", "µmol/L"),
        ("mma", "µmol/l", "µmol/L"),
        ("mma", "μmol/L", "µmol/L"),  # Greek mu
        ("mma", "UMOL/L", "µmol/L"),
        ("homocysteine", "umol/l", "µmol/L"),
        ("b12", "pg/ml", "pg/mL"),
        ("b12", "ng/l", "ng/L"),
        ("b12", " pmol / L ", "pmol/L"),
        ("folate", "ug/L", "µg/L"),
        ("folate", "ng/ml", "ng/mL"),
        ("egfr", "mL/min/1.73m²", "mL/min/1.73m²"),
        ("egfr", "mL/min/1.73 m2", "mL/min/1.73m²"),
        ("egfr", "ml/min/1.73m^2", "mL/min/1.73m²"),
        ("haemoglobin", "G/DL", "g/dL"),
        ("mcv", "fl", "fL"),
    ],
)
def test_unit_spellings(marker: str, spelling: str, unit: str) -> None:
    assert find_unit(marker, spelling) == unit


@pytest.mark.parametrize(("marker", "spelling"), [("b12", "nmol/L"), ("mma", "mg/L"), ("holotc", "pg/mL"), ("b12", ""), ("egfr", "mL/min")])
def test_unknown_units(marker: str, spelling: str) -> None:
    assert find_unit(marker, spelling) is None


def test_round_significant_keeps_nan_zero_and_precision() -> None:
    x = np.array([np.nan, 0.0, np.inf, 0.1 + 0.2, 123.456789012345678, 1e-5 * 3])
    out = round_significant(x)
    assert np.isnan(out[0]) and out[1] == 0.0 and np.isinf(out[2])
    assert out[3] == 0.3 and out[5] == 3e-5
    assert abs(out[4] - x[4]) / x[4] < 1e-11
