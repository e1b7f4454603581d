"""Known-answer tests of the MICCAI WMH metrics on hand-made masks."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import cdist

from b12brain.evaluate import SegmentationScores, score_masks


def _grid(shape: tuple[int, int, int] = (12, 12, 14)) -> np.ndarray:
    return np.zeros(shape, dtype=bool)


def _cube(shape=(12, 12, 14), start=(2, 2, 2), size=4) -> np.ndarray:
    mask = _grid(shape)
    x, y, z = start
    mask[x : x + size, y : y + size, z : z + size] = True
    return mask


def _affine(spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    return np.diag([*spacing, 1.0])


def _rotation_affine(spacing) -> np.ndarray:
    """An oblique grid: rotated 30° about z and 20° about x, shifted, with the given spacing."""
    a, b = np.deg2rad(30), np.deg2rad(20)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rx @ rz @ np.diag(spacing)
    affine[:3, 3] = [-90.0, 12.5, 40.0]
    return affine


def test_dice_of_offset_cubes_by_hand():
    truth = _cube()
    pred = _cube(start=(3, 2, 2))  # shifted one voxel: overlap 3·4·4 = 48 of 64 + 64
    scores = score_masks(truth, pred, _affine())
    assert scores.dice == pytest.approx(2 * 48 / 128)  # 0.75
    assert scores.avd_percent == 0.0
    assert scores.n_truth_lesions == scores.n_pred_lesions == 1
    assert scores.lesion_recall == scores.lesion_f1 == 1.0


def test_identical_masks_are_perfect():
    truth = _cube() | _cube(start=(8, 8, 8), size=2)
    scores = score_masks(truth, truth.copy(), _affine((0.9, 0.9, 6.4)))
    assert scores.dice == 1.0
    assert scores.h95_mm == 0.0
    assert scores.avd_percent == 0.0
    assert scores.lesion_recall == scores.lesion_precision == scores.lesion_f1 == 1.0
    assert scores.n_truth_lesions == 2


def test_volumes_and_avd_use_the_voxel_volume():
    truth = _cube()  # 64 voxels
    pred = _cube(size=4)
    pred[2, :, :] = False  # 48 voxels left
    scores = score_masks(truth, pred, _affine((2.0, 2.0, 2.0)))
    assert scores.truth_ml == pytest.approx(64 * 8 / 1000)
    assert scores.pred_ml == pytest.approx(48 * 8 / 1000)
    assert scores.avd_percent == pytest.approx(25.0)
    # Over-segmentation counts the same way: |64 - 80| / 64.
    bigger = _cube(size=4)
    bigger[6, 2:6, 2:6] = True
    assert score_masks(truth, bigger, _affine()).avd_percent == pytest.approx(25.0)


def test_h95_of_cubes_shifted_in_plane_and_across_slices_by_hand():
    truth = _cube(shape=(14, 14, 14))
    across = _cube(shape=(14, 14, 14), start=(2, 2, 5))  # 3 slices further
    in_plane = _cube(shape=(14, 14, 14), start=(5, 2, 2))  # 3 voxels further along x
    # Across slices: each slice's 12-voxel ring is 3, 2, 1, 0 slices from the nearest ring of
    # the other mask → distances {3,2,1,0}×12; the 95th percentile of 48 values is 3 slices.
    # In plane: per slice, distances 3×4, 2×2, 1×2, 0×4; the 95th percentile is 3 voxels.
    iso = _affine()
    assert score_masks(truth, across, iso).h95_mm == pytest.approx(3.0)
    assert score_masks(truth, in_plane, iso).h95_mm == pytest.approx(3.0)
    # Thick slices (0.9 × 0.9 × 5 mm) stretch only the distance across slices.
    thick = _affine((0.9, 0.9, 5.0))
    assert score_masks(truth, across, thick).h95_mm == pytest.approx(15.0)
    assert score_masks(truth, in_plane, thick).h95_mm == pytest.approx(2.7)


def test_h95_uses_the_full_affine_on_oblique_grids():
    truth = _cube(shape=(14, 14, 14))
    across = _cube(shape=(14, 14, 14), start=(2, 2, 5))
    scores = score_masks(truth, across, _rotation_affine((0.9, 0.9, 5.0)))
    assert scores.h95_mm == pytest.approx(15.0)
    assert scores.truth_ml == pytest.approx(64 * 0.9 * 0.9 * 5.0 / 1000)


def _ball(shape, center, radius_mm, spacing):
    grids = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)), indexing="ij")
    dist2 = sum((g - c * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True))
    return dist2 <= radius_mm**2


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 0.5, 2.0)])
def test_h95_of_concentric_spheres_is_their_radius_difference(spacing):
    shape = tuple(int(round(40 / s)) for s in spacing)
    center = tuple(n // 2 for n in shape)
    truth = _ball(shape, center, 10.0, spacing)
    pred = _ball(shape, center, 14.0, spacing)
    h95 = score_masks(truth, pred, _affine(spacing)).h95_mm
    # Every point of one sphere is 4 mm from the other; voxelisation blurs it by ~a voxel.
    assert h95 == pytest.approx(4.0, abs=max(spacing))
    # Twice the radius gap, twice the distance.
    far = _ball(shape, center, 18.0, spacing)
    assert score_masks(truth, far, _affine(spacing)).h95_mm == pytest.approx(8.0, abs=max(spacing))


def _reference_h95(truth, pred, affine):
    """Brute force on the full grid, straight from METRICS.md."""
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[:, :, 1] = True

    def boundary(mask):
        ijk = np.argwhere(mask & ~ndimage.binary_erosion(mask, in_plane))
        return ijk @ affine[:3, :3].T + affine[:3, 3]

    d = cdist(boundary(truth), boundary(pred))
    return max(np.percentile(d.min(axis=1), 95), np.percentile(d.min(axis=0), 95))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_h95_matches_brute_force_on_random_blobs_touching_the_image_edge(seed):
    rng = np.random.default_rng(seed)
    shape = (20, 18, 9)
    truth = ndimage.binary_dilation(rng.random(shape) > 0.985, iterations=2)
    pred = ndimage.binary_dilation(rng.random(shape) > 0.985, iterations=2)
    truth[0, 0:3, 0:2] = True  # lesions on the image faces exercise the bounding-box crop
    pred[-1, -3:, -2:] = True
    affine = _rotation_affine((0.8, 1.1, 4.0))
    assert score_masks(truth, pred, affine).h95_mm == pytest.approx(_reference_h95(truth, pred, affine))


def test_lesion_recall_and_f1_with_a_split_lesion_and_a_false_positive():
    truth = _grid((20, 20, 10))
    truth[2:8, 2:6, 2:5] = True  # lesion A, found in two pieces
    truth[14:17, 14:17, 2:5] = True  # lesion B, missed
    pred = _grid((20, 20, 10))
    pred[2:4, 2:6, 2:5] = True  # piece 1 of A
    pred[6:8, 2:6, 2:5] = True  # piece 2 of A (x = 4, 5 left out: not connected to piece 1)
    pred[14:16, 2:4, 7:9] = True  # false positive
    scores = score_masks(truth, pred, _affine())
    assert (scores.n_truth_lesions, scores.n_pred_lesions) == (2, 3)
    assert scores.lesion_recall == pytest.approx(1 / 2)
    assert scores.lesion_precision == pytest.approx(2 / 3)
    assert scores.lesion_f1 == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))  # 4/7


def test_lesions_are_26_connected():
    truth = _grid()
    truth[3, 3, 3] = truth[4, 4, 4] = True  # corner neighbours: one lesion
    truth[8, 8, 8] = True
    pred = _grid()
    pred[4, 4, 4] = True  # touches the diagonal pair only
    scores = score_masks(truth, pred, _affine())
    assert scores.n_truth_lesions == 2
    assert scores.lesion_recall == 0.5
    assert scores.lesion_precision == 1.0


def test_both_masks_empty():
    scores = score_masks(_grid(), _grid(), _affine())
    assert scores.dice == 1.0 and scores.lesion_recall == 1.0 and scores.lesion_f1 == 1.0
    assert math.isnan(scores.h95_mm) and math.isnan(scores.avd_percent)
    assert scores.truth_ml == scores.pred_ml == 0.0
    assert scores.n_truth_lesions == scores.n_pred_lesions == 0


def test_empty_prediction_of_a_lesioned_brain():
    scores = score_masks(_cube(), _grid(), _affine())
    assert scores.dice == 0.0
    assert math.isnan(scores.h95_mm)
    assert scores.avd_percent == 100.0
    assert scores.lesion_recall == 0.0 and scores.lesion_f1 == 0.0
    assert math.isnan(scores.lesion_precision)


def test_prediction_on_a_lesion_free_truth():
    scores = score_masks(_grid(), _cube(), _affine())
    assert scores.dice == 0.0
    assert math.isnan(scores.h95_mm) and math.isnan(scores.avd_percent)
    assert math.isnan(scores.lesion_recall)
    assert scores.lesion_precision == 0.0 and scores.lesion_f1 == 0.0
    assert scores.pred_ml == pytest.approx(0.064)


def test_disjoint_masks_score_zero_overlap_but_finite_distance():
    truth = _cube()
    pred = _cube(start=(8, 2, 2), size=2)  # 2 voxels of gap along x
    scores = score_masks(truth, pred, _affine())
    assert scores.dice == 0.0 and scores.lesion_f1 == 0.0 and scores.lesion_recall == 0.0
    assert scores.lesion_precision == 0.0
    assert scores.h95_mm > 2.0


def test_as_dict_lists_every_field_in_order():
    scores = score_masks(_cube(), _cube(), _affine())
    d = scores.as_dict()
    assert list(d) == list(SegmentationScores.__dataclass_fields__)
    assert d["dice"] == 1.0 and d["n_truth_lesions"] == 1


def test_rejects_masks_of_different_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        score_masks(_grid((12, 12, 14)), _grid((12, 12, 13)), _affine())
    with pytest.raises(ValueError, match="affine"):
        score_masks(_grid(), _grid(), np.eye(3))


def test_whole_brain_grid_scores_fast():
    rng = np.random.default_rng(3)
    shape = (182, 218, 182)
    truth = ndimage.binary_dilation(rng.random(shape) > 0.9997, iterations=2)
    pred = truth ^ ndimage.binary_dilation(rng.random(shape) > 0.9998, iterations=1)
    start = time.perf_counter()
    scores = score_masks(truth, pred, _affine())
    elapsed = time.perf_counter() - start
    assert 0.5 < scores.dice < 1.0
    assert elapsed < 3.0, f"scoring a 182×218×182 pair took {elapsed:.2f} s"
