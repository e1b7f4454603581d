"""Tests of whole-brain lesion figures and the estimated Fazekas grades."""

from __future__ import annotations

import math

import pytest

from b12brain.quantify.burden import FAZEKAS_RULE, estimate_fazekas, summarise_burden
from b12brain.quantify.lesions import LESION_CLASSES, Lesion


def _lesion(cls: str, volume_ml: float = 0.1, *, reach_mm: float = 3.0, length_mm: float = 4.0) -> Lesion:
    return Lesion(1, volume_ml, 100, 0.0, 0.0, 0.0, 1.0, reach_mm, length_mm, cls)


def test_totals_per_class() -> None:
    lesions = [
        _lesion("periventricular", 1.5),
        _lesion("periventricular", 0.25),
        _lesion("deep", 0.5),
        _lesion("infratentorial", 0.125),
    ]
    burden = summarise_burden(lesions, brain_ml=1000.0, intracranial_ml=1400.0, ventricle_ml=25.0)
    assert burden.lesion_count == 4
    assert burden.lesion_ml == pytest.approx(2.375)
    assert burden.count_by_class == {"periventricular": 2, "deep": 1, "juxtacortical": 0, "infratentorial": 1}
    assert burden.ml_by_class == pytest.approx({"periventricular": 1.75, "deep": 0.5, "juxtacortical": 0.0, "infratentorial": 0.125})
    assert list(burden.count_by_class) == list(LESION_CLASSES)
    assert burden.lesion_percent_of_brain == pytest.approx(0.2375)
    assert (burden.brain_ml, burden.intracranial_ml, burden.ventricle_ml) == (1000.0, 1400.0, 25.0)
    assert burden.fazekas.periventricular == 1 and burden.fazekas.deep == 1
    d = burden.as_dict()
    assert d["fazekas"]["rule"] == FAZEKAS_RULE and d["lesion_ml"] == pytest.approx(2.375)


def test_no_lesions() -> None:
    burden = summarise_burden([], brain_ml=1100.0, intracranial_ml=1500.0, ventricle_ml=20.0)
    assert burden.lesion_count == 0 and burden.lesion_ml == 0.0
    assert set(burden.count_by_class.values()) == {0}
    assert burden.lesion_percent_of_brain == 0.0
    assert (burden.fazekas.periventricular, burden.fazekas.deep) == (0, 0)


def test_percent_is_nan_without_brain() -> None:
    burden = summarise_burden([_lesion("deep")], brain_ml=0.0, intracranial_ml=0.0, ventricle_ml=0.0)
    assert math.isnan(burden.lesion_percent_of_brain)


@pytest.mark.parametrize(
    ("reach_mm", "grade"), [(0.5, 1), (5.0, 1), (5.01, 2), (10.0, 2), (10.01, 3), (40.0, 3)]
)
def test_periventricular_grade_boundaries(reach_mm: float, grade: int) -> None:
    fazekas = estimate_fazekas([_lesion("periventricular", reach_mm=reach_mm, length_mm=50.0)])
    assert fazekas.periventricular == grade
    assert fazekas.deep == 0  # a long periventricular lesion is not deep


@pytest.mark.parametrize(
    ("length_mm", "grade"), [(1.0, 1), (9.99, 1), (10.0, 2), (19.99, 2), (20.0, 3), (60.0, 3)]
)
@pytest.mark.parametrize("cls", ["deep", "juxtacortical"])
def test_deep_grade_boundaries(cls: str, length_mm: float, grade: int) -> None:
    fazekas = estimate_fazekas([_lesion(cls, length_mm=length_mm, reach_mm=50.0)])
    assert fazekas.deep == grade
    assert fazekas.periventricular == 0


def test_grade_follows_the_worst_lesion_and_ignores_infratentorial() -> None:
    lesions = [
        _lesion("periventricular", reach_mm=3.0),
        _lesion("periventricular", reach_mm=12.0),
        _lesion("deep", length_mm=4.0),
        _lesion("juxtacortical", length_mm=15.0),
        _lesion("infratentorial", length_mm=80.0, reach_mm=80.0),
    ]
    assert estimate_fazekas(lesions) == estimate_fazekas(lesions[:4])
    fazekas = estimate_fazekas(lesions)
    assert (fazekas.periventricular, fazekas.deep) == (3, 2)
    assert estimate_fazekas([_lesion("infratentorial", length_mm=80.0)]).deep == 0


def test_lesions_below_0_01_ml_are_ignored() -> None:
    tiny = [_lesion("periventricular", 0.0099, reach_mm=30.0), _lesion("deep", 0.0099, length_mm=30.0)]
    fazekas = estimate_fazekas(tiny)
    assert (fazekas.periventricular, fazekas.deep) == (0, 0)
    just = [_lesion("periventricular", 0.01, reach_mm=30.0), _lesion("deep", 0.01, length_mm=30.0)]
    fazekas = estimate_fazekas(just)
    assert (fazekas.periventricular, fazekas.deep) == (3, 3)
    # ... but they still count in the totals.
    burden = summarise_burden(tiny, brain_ml=1000.0, intracranial_ml=1400.0, ventricle_ml=20.0)
    assert burden.lesion_count == 2 and burden.lesion_ml == pytest.approx(0.0198)


def test_rule_text_states_the_thresholds() -> None:
    fazekas = estimate_fazekas([])
    assert fazekas.rule == FAZEKAS_RULE
    for part in ("not read by a radiologist", "<= 5 mm", "<= 10 mm", "> 10 mm", "< 10 mm", "10-20 mm", ">= 20 mm", "Fazekas et al. 1987"):
        assert part in FAZEKAS_RULE
    assert "rule" not in repr(fazekas)
