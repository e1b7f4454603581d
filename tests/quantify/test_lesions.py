"""Tests of the lesion table: volumes, centroids, ordering, connectivity, distances, classes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from b12brain.quantify.lesions import (
    CLASS_RULE,
    LESION_CLASSES,
    Lesion,
    measure_lesions,
)

SHAPE = (12, 12, 12)


def _measure(
    mask: np.ndarray,
    affine: np.ndarray | None = None,
    *,
    ventricles: np.ndarray | None = None,
    cortex: np.ndarray | None = None,
    infratentorial: np.ndarray | None = None,
) -> tuple[list[Lesion], np.ndarray]:
    empty = np.zeros(mask.shape, bool)
    return measure_lesions(
        mask,
        np.eye(4) if affine is None else affine,
        ventricles=empty if ventricles is None else ventricles,
        cortex=empty if cortex is None else cortex,
        infratentorial=empty if infratentorial is None else infratentorial,
    )


def _points(*ijk: tuple[int, int, int], shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for point in ijk:
        mask[point] = True
    return mask


def _class_of(mask: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0), **anatomy: np.ndarray) -> str:
    lesions, _ = _measure(mask, np.diag([*spacing, 1.0]), **anatomy)
    assert len(lesions) == 1
    return lesions[0].lesion_class


def test_empty_mask() -> None:
    lesions, labels = _measure(np.zeros(SHAPE, bool))
    assert lesions == []
    assert labels.dtype == np.int32 and labels.shape == SHAPE and not labels.any()


def test_volume_ml_with_anisotropic_spacing() -> None:
    mask = np.zeros(SHAPE, bool)
    mask[1:3, 1:3, 1:3] = True  # 8 voxels
    mask[8, 8, 8] = True  # 1 voxel
    lesions, _ = _measure(mask, np.diag([1.0, 2.0, 3.0, 1.0]))  # 6 mm³ per voxel
    assert [x.voxels for x in lesions] == [8, 1]
    assert [x.volume_ml for x in lesions] == pytest.approx([0.048, 0.006])


def test_volume_ml_uses_determinant_of_oblique_affine() -> None:
    angle = math.radians(30)
    rotation = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.5, 2.0, 4.0])  # 4 mm³ per voxel
    lesions, _ = _measure(_points((3, 3, 3), (3, 3, 4)), affine)
    assert lesions[0].volume_ml == pytest.approx(0.008)


def test_centroid_in_world_mm_with_permuted_flipped_affine() -> None:
    # Voxel axis i runs along +z (1 mm), j along -x (2 mm), k along +y (3 mm).
    affine = np.array(
        [[0.0, -2.0, 0.0, 10.0], [0.0, 0.0, 3.0, -20.0], [1.0, 0.0, 0.0, 30.0], [0.0, 0.0, 0.0, 1.0]]
    )
    lesions, _ = _measure(_points((1, 2, 3), (2, 2, 3)), affine)
    (lesion,) = lesions
    # mean ijk = (1.5, 2, 3): x = -2*2 + 10, y = 3*3 - 20, z = 1.5 + 30
    assert (lesion.centroid_x_mm, lesion.centroid_y_mm, lesion.centroid_z_mm) == pytest.approx((6.0, -11.0, 31.5))


def test_ids_sorted_by_decreasing_volume_and_match_labels() -> None:
    mask = np.zeros(SHAPE, bool)
    mask[0, 0, 0] = True  # 1 voxel, first in scan order
    mask[4, 0:5, 0] = True  # 5 voxels
    mask[8, 0:3, 0] = True  # 3 voxels
    lesions, labels = _measure(mask)
    assert [x.id for x in lesions] == [1, 2, 3]
    assert [x.voxels for x in lesions] == [5, 3, 1]
    assert labels.dtype == np.int32
    assert np.array_equal(labels > 0, mask)
    for lesion in lesions:
        assert int((labels == lesion.id).sum()) == lesion.voxels
    assert labels[4, 2, 0] == 1 and labels[8, 1, 0] == 2 and labels[0, 0, 0] == 3


def test_26_connectivity_joins_diagonal_voxels() -> None:
    lesions, labels = _measure(_points((2, 2, 2), (3, 3, 3), (4, 4, 2)))  # corner, then edge contact
    assert len(lesions) == 1 and lesions[0].voxels == 3
    assert set(np.unique(labels)) == {0, 1}
    # One empty voxel between them: two lesions.
    lesions, _ = _measure(_points((2, 2, 2), (4, 4, 4)))
    assert len(lesions) == 2


def test_distance_and_reach_from_ventricles_in_mm() -> None:
    ventricles = np.zeros(SHAPE, bool)
    ventricles[:, 0, :] = True  # the plane j = 0
    mask = np.zeros(SHAPE, bool)
    mask[5, 2:5, 5] = True  # j = 2, 3, 4 -> 4, 6, 8 mm at 2 mm along j
    lesions, _ = _measure(mask, np.diag([1.0, 2.0, 3.0, 1.0]), ventricles=ventricles)
    assert lesions[0].distance_to_ventricles_mm == pytest.approx(4.0)
    assert lesions[0].reach_from_ventricles_mm == pytest.approx(8.0)
    # Adjacent to the ventricle: distance is one voxel size along that axis.
    mask = _points((5, 5, 1))
    ventricles = _points((5, 5, 0))
    lesions, _ = _measure(mask, np.diag([1.0, 2.0, 3.0, 1.0]), ventricles=ventricles)
    assert lesions[0].distance_to_ventricles_mm == pytest.approx(3.0)


def test_distance_is_nan_without_ventricles() -> None:
    lesions, _ = _measure(_points((5, 5, 5)))
    assert math.isnan(lesions[0].distance_to_ventricles_mm)
    assert math.isnan(lesions[0].reach_from_ventricles_mm)
    assert lesions[0].lesion_class == "deep"


def test_length_of_a_line_lesion() -> None:
    mask = np.zeros(SHAPE, bool)
    mask[1:11, 5, 5] = True  # 10 voxels along i
    lesions, _ = _measure(mask, np.diag([1.0, 2.0, 3.0, 1.0]))
    assert lesions[0].length_mm == pytest.approx(10.0)  # 9 mm between centres + one voxel
    # A diagonal line in-plane, isotropic 2 mm: 4 steps of 2*sqrt(2) mm plus the voxel's own
    # extent along the diagonal (2*sqrt(2) mm).
    lesions, _ = _measure(_points(*[(i, i, 5) for i in range(1, 6)]), np.diag([2.0, 2.0, 2.0, 1.0]))
    assert lesions[0].length_mm == pytest.approx(5 * 2 * math.sqrt(2), abs=0.01)
    # Three 6 mm slices: 12 mm between centres plus one slice thickness.
    lesions, _ = _measure(_points((5, 5, 2), (5, 5, 3), (5, 5, 4)), np.diag([0.9, 0.9, 6.0, 1.0]))
    assert lesions[0].length_mm == pytest.approx(18.0, abs=0.01)
    # A single voxel is one (smallest) voxel size long.
    lesions, _ = _measure(_points((5, 5, 5)), np.diag([1.5, 2.0, 3.0, 1.0]))
    assert lesions[0].length_mm == pytest.approx(1.5)


# --- class rule (CLINICAL.md §7 as implemented) ------------------------------------------


def test_periventricular_when_dilation_touches_ventricles() -> None:
    ventricles = _points((5, 5, 5))
    assert _class_of(_points((6, 6, 6)), ventricles=ventricles) == "periventricular"  # corner contact
    assert _class_of(_points((7, 5, 5)), ventricles=ventricles) == "deep"  # one voxel gap


def test_periventricular_through_the_next_thick_slice() -> None:
    spacing = (0.9, 0.9, 6.0)
    ventricles = _points((5, 5, 3))
    assert _class_of(_points((5, 5, 4)), spacing, ventricles=ventricles) == "periventricular"
    assert _class_of(_points((6, 6, 4)), spacing, ventricles=ventricles) == "periventricular"
    assert _class_of(_points((5, 5, 5)), spacing, ventricles=ventricles) == "deep"  # two slices away


def test_infratentorial_when_more_than_half_below_tentorium() -> None:
    lesion = _points((5, 5, 2), (5, 5, 3), (5, 5, 4), (5, 5, 5))
    infra = np.zeros(SHAPE, bool)
    infra[:, :, :5] = True  # 3 of 4 voxels
    assert _class_of(lesion, infratentorial=infra) == "infratentorial"
    infra[:, :, 4] = False  # exactly half: not "most"
    assert _class_of(lesion, infratentorial=infra) == "deep"


def test_periventricular_takes_precedence_over_infratentorial_and_cortex() -> None:
    lesion = _points((5, 5, 5))
    everywhere = np.ones(SHAPE, bool)
    ventricles = _points((5, 5, 6))
    cortex = everywhere & ~ventricles & ~lesion
    assert _class_of(lesion, ventricles=ventricles, cortex=cortex, infratentorial=everywhere) == "periventricular"
    assert _class_of(lesion, cortex=cortex, infratentorial=everywhere) == "infratentorial"
    assert _class_of(lesion, cortex=cortex) == "juxtacortical"


def test_juxtacortical_on_1mm_counts_the_diagonal() -> None:
    cortex = _points((5, 5, 5))
    assert _class_of(_points((6, 6, 6)), cortex=cortex) == "juxtacortical"  # sqrt(3) = 1.73 mm
    assert _class_of(_points((6, 5, 5)), cortex=cortex) == "juxtacortical"
    assert _class_of(_points((7, 5, 5)), cortex=cortex) == "deep"  # 2 mm


def test_juxtacortical_on_thick_slices_only_in_plane() -> None:
    spacing = (0.9, 0.9, 6.0)
    cortex = _points((5, 5, 5))
    assert _class_of(_points((6, 6, 5)), spacing, cortex=cortex) == "juxtacortical"  # 1.27 mm in-plane
    assert _class_of(_points((5, 5, 6)), spacing, cortex=cortex) == "deep"  # next slice, 6 mm
    assert _class_of(_points((6, 6, 6)), spacing, cortex=cortex) == "deep"
    assert _class_of(_points((7, 5, 5)), spacing, cortex=cortex) == "deep"  # 1.8 mm in-plane


def test_classes_and_rule_text() -> None:
    assert LESION_CLASSES == ("periventricular", "deep", "juxtacortical", "infratentorial")
    assert "1.75 mm" in CLASS_RULE and "3x3x3" in CLASS_RULE


def test_several_lesions_classified_independently() -> None:
    mask = np.zeros(SHAPE, bool)
    ventricles = np.zeros(SHAPE, bool)
    cortex = np.zeros(SHAPE, bool)
    ventricles[1, 1, 1] = True
    mask[2, 2, 2] = mask[2, 3, 2] = True  # periventricular, 2 voxels
    cortex[10, 10, 10] = True
    mask[9, 10, 10] = True  # juxtacortical, 1 voxel
    mask[6, 6, 6:9] = True  # deep, 3 voxels
    lesions, labels = _measure(mask, ventricles=ventricles, cortex=cortex)
    assert [(x.voxels, x.lesion_class) for x in lesions] == [(3, "deep"), (2, "periventricular"), (1, "juxtacortical")]
    assert labels[6, 6, 7] == 1 and labels[2, 2, 2] == 2 and labels[9, 10, 10] == 3
