"""Tests of caps and pencil-thin lining: set apart from lesions, still graded as Fazekas PV 1."""

from __future__ import annotations

import numpy as np
import pytest

from b12brain.quantify import measure_lesions, set_apart_caps_and_lining, summarise_burden
from b12brain.quantify.lesions import Lesion
from b12brain.quantify.lining import CAPS_LINING_REACH_MM, is_cap_or_lining

SHAPE = (70, 60, 30)
AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def _pv(reach_mm: float, length_mm: float, cls: str = "periventricular") -> Lesion:
    return Lesion(1, 0.1, 100, 0.0, 0.0, 0.0, 1.0, reach_mm, length_mm, cls)


@pytest.mark.parametrize(
    ("reach_mm", "length_mm", "expected"),
    [
        (2.0, 30.0, True),  # pencil-thin lining
        (5.0, 10.0, True),  # a 5 mm cap, twice as long as thick
        (5.01, 40.0, False),  # reaches beyond Fazekas grade 1: a lesion
        (4.0, 7.9, False),  # an ovoid focus touching the ventricle: a lesion
        (3.0, 6.0, True),
    ],
)
def test_rule_boundaries(reach_mm: float, length_mm: float, expected: bool) -> None:
    assert CAPS_LINING_REACH_MM == 5.0
    assert is_cap_or_lining(_pv(reach_mm, length_mm)) is expected


@pytest.mark.parametrize("cls", ["deep", "juxtacortical", "infratentorial"])
def test_only_periventricular_components_can_be_caps(cls: str) -> None:
    assert not is_cap_or_lining(_pv(2.0, 30.0, cls))


def _focus() -> np.ndarray:
    x, y, z = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    return (x - 52) ** 2 + (y - 30) ** 2 + (z - 15) ** 2 <= 4


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A box ventricle with a 2 mm lining on its left wall, a 5 mm round focus on its right
    wall, a 3 mm lining along its front wall with a lesion reaching 12 mm out from its middle,
    and a deep lesion."""
    ventricles = np.zeros(SHAPE, bool)
    ventricles[20:50, 20:40, 10:20] = True
    mask = np.zeros(SHAPE, bool)
    mask[18:20, 22:38, 12:18] = True  # left lining
    mask |= _focus()  # on the right wall
    mask[20:50, 17:20, 12:18] = True  # front lining ...
    mask[33:37, 8:17, 13:17] = True  # ... and a lesion reaching out from its middle
    mask[5:9, 5:9, 5:9] = True  # deep lesion
    return mask, ventricles


def test_lining_is_set_apart_and_lesions_keep_their_base() -> None:
    mask, ventricles = _scene()
    empty = np.zeros(SHAPE, bool)
    before = mask.copy()
    lesion_mask, caps_mask, caps = set_apart_caps_and_lining(
        mask, AFFINE, ventricles=ventricles, cortex=empty, infratentorial=empty
    )
    assert np.array_equal(mask, before)  # input untouched
    assert not (lesion_mask & caps_mask).any() and np.array_equal(lesion_mask | caps_mask, mask)
    # Caps/lining: the left lining, and the front lining but for the base of the lesion on it
    # (it still runs, one piece, along the wall beside that base).
    assert caps_mask[18:20, 22:38, 12:18].all()
    assert caps_mask[20:28, 17:20, 12:18].all() and caps_mask[42:50, 17:20, 12:18].all()
    assert [x.id for x in caps] == [1, 2] and sum(x.voxels for x in caps) == caps_mask.sum()
    assert [x.length_mm for x in caps] == [30.0, 16.0]
    assert all(x.lesion_class == "periventricular" and x.reach_from_ventricles_mm <= 5.0 for x in caps)
    # Lesions: the focus, the reaching lesion with its base on the lining, the deep lesion.
    assert lesion_mask[33:37, 8:20, 13:17].all()
    assert lesion_mask[_focus()].all()
    assert lesion_mask[5:9, 5:9, 5:9].all()
    lesions, _ = measure_lesions(lesion_mask, AFFINE, ventricles=ventricles, cortex=empty, infratentorial=empty)
    assert len(lesions) == 3


def test_without_ventricles_or_near_them_nothing_is_set_apart() -> None:
    mask, ventricles = _scene()
    empty = np.zeros(SHAPE, bool)
    lesion_mask, caps_mask, caps = set_apart_caps_and_lining(
        mask, AFFINE, ventricles=empty, cortex=empty, infratentorial=empty
    )
    assert np.array_equal(lesion_mask, mask) and not caps_mask.any() and caps == []
    far = np.zeros(SHAPE, bool)
    far[5:9, 5:9, 5:9] = True
    lesion_mask, caps_mask, _ = set_apart_caps_and_lining(
        far, AFFINE, ventricles=ventricles, cortex=empty, infratentorial=empty
    )
    assert np.array_equal(lesion_mask, far) and not caps_mask.any()


def test_burden_counts_caps_apart_but_grades_them() -> None:
    lining = _pv(2.0, 30.0)
    burden = summarise_burden([], brain_ml=1000.0, intracranial_ml=1400.0, ventricle_ml=20.0, caps_lining=[lining])
    assert burden.lesion_count == 0 and burden.lesion_ml == 0.0
    assert burden.caps_lining_count == 1 and burden.caps_lining_ml == pytest.approx(0.1)
    assert burden.fazekas.periventricular == 1 and burden.fazekas.deep == 0
    # A lesion reaching 8 mm sets the grade; the lining does not lower it.
    halo = _pv(8.0, 12.0)
    assert summarise_burden([halo], brain_ml=1000.0, intracranial_ml=1400.0, ventricle_ml=20.0,
                            caps_lining=[lining]).fazekas.periventricular == 2


def test_a_bump_on_a_lining_below_the_minimum_lesion_size_goes_with_the_lining() -> None:
    ventricles = np.zeros(SHAPE, bool)
    ventricles[20:50, 20:40, 10:20] = True
    mask = np.zeros(SHAPE, bool)
    mask[20:50, 18:20, 12:18] = True  # lining of the front wall, 2 mm thick
    mask[35, 14:18, 15] = True  # a one-voxel spike from it, reaching 6 mm
    empty = np.zeros(SHAPE, bool)
    places = {"ventricles": ventricles, "cortex": empty, "infratentorial": empty}

    lesions, caps_mask, caps = set_apart_caps_and_lining(mask, AFFINE, **places)
    bump_ml = lesions.sum() / 1000
    assert 0 < bump_ml < 0.05 and lesions[35, 14:18, 15].all()  # the spike and its base stay lesion

    lesions, caps_mask, caps = set_apart_caps_and_lining(mask, AFFINE, **places, min_lesion_ml=0.05)
    assert not lesions.any() and np.array_equal(caps_mask, mask)
    assert len(caps) == 1 and caps[0].voxels == mask.sum()
    # A lesion of the minimum size or more stays.
    lesions, _, _ = set_apart_caps_and_lining(mask, AFFINE, **places, min_lesion_ml=bump_ml - 1e-9)
    assert lesions.sum() / 1000 == pytest.approx(bump_ml)
