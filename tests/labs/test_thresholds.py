"""Threshold tables: every category boundary on both sides, through parse_panel + interpret_panel."""

from __future__ import annotations

import numpy as np
import pytest

from b12brain.errors import LabValueError
from b12brain.labs import CB12_CATEGORIES, MARKER_TABLES, interpret_panel, parse_panel
from b12brain.labs.thresholds import (
    B12_BSH_CUTOFF,
    B12_WHO,
    HB_FEMALE,
    HB_MALE,
    MMA_LABELS,
    classify_haemoglobin,
)

BOUNDARIES = [
    # total B12, NICE NG239, applied in ng/L as NICE writes them: < 180 confirmed, 180-350 (both
    # included) indeterminate, > 350 unlikely; 1 ng/L = 1 pg/mL = 0.738 pmol/L.
    ("b12", 179.99, "ng/L", "deficiency confirmed"),
    ("b12", 180, "ng/L", "indeterminate"),
    ("b12", 350, "ng/L", "indeterminate"),
    ("b12", 350.01, "ng/L", "deficiency unlikely"),
    ("b12", 179.99, "pg/mL", "deficiency confirmed"),
    ("b12", 180, "pg/mL", "indeterminate"),
    ("b12", 350, "pg/mL", "indeterminate"),
    ("b12", 350.01, "pg/mL", "deficiency unlikely"),
    # the same boundaries given in pmol/L: 180 ng/L = 132.84 pmol/L, 350 ng/L = 258.3 pmol/L
    ("b12", 132.83, "pmol/L", "deficiency confirmed"),
    ("b12", 132.84, "pmol/L", "indeterminate"),
    ("b12", 133, "pmol/L", "indeterminate"),
    ("b12", 258.3, "pmol/L", "indeterminate"),
    ("b12", 258.31, "pmol/L", "deficiency unlikely"),
    ("holotc", 24.99, "pmol/L", "deficiency confirmed"),
    ("holotc", 25, "pmol/L", "indeterminate"),
    ("holotc", 70, "pmol/L", "indeterminate"),
    ("holotc", 70.01, "pmol/L", "deficiency unlikely"),
    # MMA against the default upper reference limit 0.45 µmol/L (no laboratory limit given)
    ("mma", 0.45, "µmol/L", "within the upper reference limit"),
    ("mma", 0.4501, "µmol/L", "above the upper reference limit"),
    ("mma", 0.75, "µmol/L", "above the upper reference limit"),
    ("mma", 0.7501, "µmol/L", MMA_LABELS[2]),
    ("mma", 450, "nmol/L", "within the upper reference limit"),
    ("mma", 451, "nmol/L", "above the upper reference limit"),
    ("mma", 751, "nmol/L", MMA_LABELS[2]),
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
    assert result.markers["b12"].category == "indeterminate"  # NICE rule (199.2 ng/L)
    context = {f.code: f for f in result.context}
    assert "'below the 200 ng/L (148 pmol/L)" in context["b12_bsh_cutoff"].message and context["b12_bsh_cutoff"].source == "BSH_2014"
    assert "'deficient'" in context["b12_who_band"].message and context["b12_who_band"].source == "WHO_B12_BANDS"
    assert all(f.message.startswith("Context, not the rule") for f in result.context if f.code.startswith(("b12_bsh", "b12_who")))


@pytest.mark.parametrize(("value", "below"), [("200 ng/L", False), ("199.9 pg/mL", True), ("148 pmol/L", False),
                                               ("147.6 pmol/L", False), ("147.5 pmol/L", True)])
def test_bsh_cutoff_is_applied_in_ng_l(value: str, below: bool) -> None:
    """BSH 2014 writes 200 ng/L (148 pmol/L): 200 ng/L itself is not below it."""
    context = {f.code: f for f in interpret_panel(parse_panel({"b12": value})).context}
    assert ("'below the 200 ng/L" in context["b12_bsh_cutoff"].message) is below


@pytest.mark.parametrize(
    ("mma", "limit", "category"),
    [("0.30 umol/L", "0.28 umol/L", "above the upper reference limit"),
     ("0.28 umol/L", "0.28 umol/L", "within the upper reference limit"),
     ("0.50 umol/L", "550 nmol/L", "within the upper reference limit"),
     ("0.56 umol/L", "550 nmol/L", "above the upper reference limit")],
)
def test_mma_against_the_laboratory_limit(mma: str, limit: str, category: str) -> None:
    result = interpret_panel(parse_panel({"mma": mma, "mma_upper_limit": limit}))
    assert result.markers["mma"].category == category
    assert "laboratory's upper reference limit" in result.markers["mma"].finding.message
    assert "mma_upper_limit" not in result.markers  # a setting of the MMA rule, not a marker


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
    assert "Unverified" in result.markers["folate"].rule  # the unverified cut-off says so


@pytest.mark.parametrize("limit", ["0.05 umol/L", "45 umol/L"])
def test_implausible_laboratory_mma_limit_is_refused(limit: str) -> None:
    with pytest.raises(LabValueError) as err:
        parse_panel({"mma": "0.3 umol/L", "mma_upper_limit": limit}, "p.json")
    assert err.value.field == "mma_upper_limit" and "plausible range" in str(err.value)
