"""Threshold tables: every category boundary on both sides, through parse_panel + interpret_panel."""

from __future__ import annotations

import numpy as np
import pytest

from b12brain.labs import CB12_CATEGORIES, MARKER_TABLES, interpret_panel, parse_panel
from b12brain.labs.thresholds import (
    B12_BSH_CUTOFF,
    B12_WHO,
    HB_FEMALE,
    HB_MALE,
    classify_haemoglobin,
)

BOUNDARIES = [
    # total B12, NICE NG239: < 133 confirmed, 133-258 (both included) indeterminate, > 258 unlikely
    ("b12", 132.99, "pmol/L", "deficiency confirmed"),
    ("b12", 133, "pmol/L", "indeterminate"),
    ("b12", 258, "pmol/L", "indeterminate"),
    ("b12", 258.01, "pmol/L", "deficiency unlikely"),
    # the same boundaries in pg/mL and ng/L: 133 pmol/L = 180.22 pg/mL, 258 pmol/L = 349.59 pg/mL
    ("b12", 180.2, "pg/mL", "deficiency confirmed"),
    ("b12", 180.3, "pg/mL", "indeterminate"),
    ("b12", 349.5, "pg/mL", "indeterminate"),
    ("b12", 349.6, "pg/mL", "deficiency unlikely"),
    ("b12", 180.2, "ng/L", "deficiency confirmed"),
    ("b12", 180.3, "ng/L", "indeterminate"),
    ("b12", 180, "pg/mL", "deficiency confirmed"),  # NICE's "< 180 ng/L" is 132.84 pmol/L: the pmol/L rule applies
    ("b12", 350, "pg/mL", "deficiency unlikely"),  # 258.3 pmol/L
    ("holotc", 24.99, "pmol/L", "deficiency confirmed"),
    ("holotc", 25, "pmol/L", "indeterminate"),
    ("holotc", 70, "pmol/L", "indeterminate"),
    ("holotc", 70.01, "pmol/L", "deficiency unlikely"),
    ("mma", 0.28, "µmol/L", "normal"),
    ("mma", 0.2801, "µmol/L", "borderline (laboratory-dependent upper limit)"),
    ("mma", 0.45, "µmol/L", "borderline (laboratory-dependent upper limit)"),
    ("mma", 0.4501, "µmol/L", "raised"),
    ("mma", 0.75, "µmol/L", "raised"),
    ("mma", 0.7501, "µmol/L", "highly suggestive of B12 deficiency"),
    ("mma", 280, "nmol/L", "normal"),
    ("mma", 281, "nmol/L", "borderline (laboratory-dependent upper limit)"),
    ("mma", 450, "nmol/L", "borderline (laboratory-dependent upper limit)"),
    ("mma", 451, "nmol/L", "raised"),
    ("mma", 750, "nmol/L", "raised"),
    ("mma", 751, "nmol/L", "highly suggestive of B12 deficiency"),
    ("homocysteine", 15, "µmol/L", "normal"),
    ("homocysteine", 15.01, "µmol/L", "raised"),
    ("homocysteine", 20, "µmol/L", "raised"),
    ("homocysteine", 20.01, "µmol/L", "raised; suggests B12 deficiency if folate is normal"),
    ("folate", 6.99, "nmol/L", "low"),
    ("folate", 7, "nmol/L", "normal"),
    ("folate", 3.08, "ng/mL", "low"),  # 6.979 nmol/L
    ("folate", 3.09, "ng/mL", "normal"),  # 7.002 nmol/L
    ("egfr", 59.99, "mL/min/1.73m2", "reduced kidney function"),
    ("egfr", 60, "mL/min/1.73m2", "not reduced below 60"),
    ("mcv", 100, "fL", "not macrocytic"),
    ("mcv", 100.01, "fL", "macrocytosis"),
]


@pytest.mark.parametrize(("marker", "value", "unit", "category"), BOUNDARIES)
def test_marker_category_on_each_side_of_each_boundary(marker: str, value: float, unit: str, category: str) -> None:
    result = interpret_panel(parse_panel({marker: {"value": value, "unit": unit}}))
    assert result.markers[marker].category == category
    assert result.markers[marker].value_seen == value and result.markers[marker].unit_seen == unit


@pytest.mark.parametrize(
    ("sex", "value", "unit", "category"),
    [
        ("male", 129.9, "g/L", "anaemia"),
        ("male", 130, "g/L", "no anaemia"),
        ("male", 12.99, "g/dL", "anaemia"),
        ("female", 119.9, "g/L", "anaemia"),
        ("female", 120, "g/L", "no anaemia"),
        ("female", 12.0, "g/dL", "no anaemia"),
        (None, 119.9, "g/L", "anaemia"),
        (None, 125, "g/L", "not classified (sex unknown)"),
        (None, 130, "g/L", "no anaemia"),
    ],
)
def test_haemoglobin_by_sex(sex: str | None, value: float, unit: str, category: str) -> None:
    fields: dict[str, object] = {"haemoglobin": {"value": value, "unit": unit}}
    if sex:
        fields["sex"] = sex
    result = interpret_panel(parse_panel(fields))
    assert result.markers["haemoglobin"].category == category
    assert result.markers["haemoglobin"].finding.level == "U"


@pytest.mark.parametrize(
    ("cb12", "category"),
    [
        (np.nextafter(-2.5, -np.inf), "probable deficiency"),
        (-2.5, "possible deficiency"),
        (np.nextafter(-1.5, -np.inf), "possible deficiency"),
        (-1.5, "low B12"),
        (np.nextafter(-0.5, -np.inf), "low B12"),
        (-0.5, "adequate"),
        (1.5, "adequate"),
        (np.nextafter(1.5, np.inf), "elevated"),
        (-4.0, "probable deficiency"),
        (3.0, "elevated"),
    ],
)
def test_cb12_category_boundaries(cb12: float, category: str) -> None:
    assert CB12_CATEGORIES.labels[CB12_CATEGORIES.classify([cb12])[0]] == category


@pytest.mark.parametrize("table", [*MARKER_TABLES.values(), CB12_CATEGORIES, HB_MALE, HB_FEMALE, B12_WHO, B12_BSH_CUTOFF], ids=lambda t: t.name)
def test_bands_partition_the_line(table) -> None:  # type: ignore[no-untyped-def]
    edges = sorted({b for band in table.bands for b in (band.lower, band.upper) if b is not None})
    values = np.array([v for e in edges for v in (np.nextafter(e, -np.inf), e, np.nextafter(e, np.inf))] + [-1e9, 1e9])
    hits = np.sum([band.contains(values) for band in table.bands], axis=0)
    assert hits.tolist() == [1] * len(values)  # every value in exactly one band
    assert (table.classify(values) >= 0).all() and table.classify([np.nan]).tolist() == [-1]


def test_haemoglobin_missing_is_not_classified() -> None:
    codes = classify_haemoglobin(np.array([np.nan, 100.0]), np.array([1, 1], dtype=np.int8))
    assert codes.tolist() == [-1, 0]


def test_b12_context_lines_are_not_the_rule() -> None:
    result = interpret_panel(parse_panel({"b12": "147 pmol/L"}))
    assert result.markers["b12"].category == "indeterminate"  # NICE rule
    context = {f.code: f for f in result.context}
    assert "below the 148 pmol/L" in context["b12_bsh_cutoff"].message and context["b12_bsh_cutoff"].source == "BSH_2014"
    assert "'deficient'" in context["b12_who_band"].message and context["b12_who_band"].source == "WHO_B12_BANDS"
    assert all(f.message.startswith("Context, not the rule") for f in result.context if f.code != "b12_status_rule")


def test_marker_sources_and_levels_follow_clinical_md() -> None:
    result = interpret_panel(parse_panel({
        "b12": "300 pmol/L", "holotc": "50 pmol/L", "mma": "0.3 umol/L", "homocysteine": "12 umol/L",
        "folate": "10 nmol/L", "egfr": "90 mL/min/1.73m2", "mcv": "90 fL",
    }))
    got = {m: (r.finding.source, r.finding.level) for m, r in result.markers.items()}
    assert got == {
        "b12": ("NICE_NG239", "S"), "holotc": ("NICE_NG239", "S"), "mma": ("MMA_REFERENCE", "V"),
        "homocysteine": ("HCY_REFERENCE", "V"), "folate": ("BSH_2014", "U"), "egfr": ("CONFOUNDERS", "V"),
        "mcv": ("NICE_CKS", "U"),
    }
    assert "not in CLINICAL.md" in result.markers["folate"].rule  # the unverified cut-off says so
