"""Lesion-wise detection by lesion size (< 0.05, 0.05-0.5, > 0.5 mL)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12brain.evaluate import SIZE_BIN_NAMES, pool_size_bins, score_masks, score_size_bins

SMALL, MEDIUM, LARGE = SIZE_BIN_NAMES


def _affine(spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    return np.diag([*spacing, 1.0])


def _box(mask: np.ndarray, corner: tuple[int, int, int], size: tuple[int, int, int]) -> None:
    mask[tuple(slice(c, c + n) for c, n in zip(corner, size, strict=True))] = True


def test_counts_recall_and_precision_per_bin():
    truth = np.zeros((60, 60, 40), bool)
    pred = np.zeros_like(truth)
    _box(truth, (2, 2, 2), (2, 2, 2))  # 0.008 mL, found
    _box(pred, (2, 2, 2), (1, 1, 1))
    _box(truth, (2, 10, 2), (3, 3, 1))  # 0.009 mL, missed
    _box(truth, (2, 20, 2), (2, 2, 1))  # 0.004 mL, missed
    _box(truth, (20, 2, 2), (5, 5, 5))  # 0.125 mL, found by a 0.027 mL prediction
    _box(pred, (21, 3, 3), (3, 3, 3))
    _box(truth, (30, 30, 10), (10, 10, 10))  # 1.0 mL, found
    _box(pred, (30, 30, 10), (9, 10, 10))
    _box(pred, (50, 50, 30), (4, 4, 4))  # 0.064 mL, false
    _box(pred, (50, 2, 30), (1, 1, 2))  # 0.002 mL, false
    s = score_size_bins(truth, pred, _affine())
    assert (s[SMALL].n_truth, s[SMALL].n_truth_found) == (3, 1)
    assert s[SMALL].recall == pytest.approx(1 / 3)
    assert (s[MEDIUM].n_truth, s[MEDIUM].n_truth_found, s[LARGE].n_truth, s[LARGE].n_truth_found) == (1, 1, 1, 1)
    # Predicted lesions go to the bin of their own volume.
    assert (s[SMALL].n_pred, s[SMALL].n_pred_real) == (3, 2)  # 1 voxel, 27 voxels (real), 2 voxels (false)
    assert (s[MEDIUM].n_pred, s[MEDIUM].n_pred_real) == (1, 0)
    assert (s[LARGE].n_pred, s[LARGE].n_pred_real) == (1, 1)
    assert s[MEDIUM].precision == 0.0 and s[LARGE].precision == 1.0


@pytest.mark.parametrize(("voxels", "expected"), [(49, SMALL), (50, MEDIUM), (500, MEDIUM), (501, LARGE)])
def test_bin_edges_at_one_mm(voxels, expected):
    truth = np.zeros((30, 30, 30), bool)
    truth.reshape(-1)[:voxels] = True  # whole rows along the last axis, then part of one: one lesion
    s = score_size_bins(truth, np.zeros_like(truth), _affine())
    assert [b.n_truth for b in s.bins] == [int(b.name == expected) for b in s.bins]


def test_bins_are_by_volume_on_the_grid_not_by_voxel_count():
    # 0.9 x 0.9 x 6 mm voxels hold 4.86 uL: 10 voxels are 0.0486 mL, 11 are 0.0535 mL.
    truth = np.zeros((20, 20, 6), bool)
    _box(truth, (1, 1, 1), (10, 1, 1))
    _box(truth, (1, 5, 1), (11, 1, 1))
    s = score_size_bins(truth, np.zeros_like(truth), _affine((0.9, 0.9, 6.0)))
    assert (s[SMALL].n_truth, s[MEDIUM].n_truth) == (1, 1)


def test_lesions_are_26_connected():
    truth = np.zeros((10, 10, 10), bool)
    truth[2, 2, 2] = truth[3, 3, 3] = True  # corner to corner: one lesion
    s = score_size_bins(truth, truth, _affine())
    assert s[SMALL].n_truth == 1 and s[SMALL].n_pred == 1


def test_empty_bins_give_nan_and_none():
    empty = np.zeros((8, 8, 8), bool)
    s = score_size_bins(empty, empty, _affine())
    assert all(math.isnan(b.recall) and math.isnan(b.precision) for b in s.bins)
    assert s.as_dict()[SMALL] == {"n_truth": 0, "n_truth_found": 0, "recall": None, "n_pred": 0, "n_pred_real": 0, "precision": None}


def test_pooling_sums_lesions_not_subject_rates():
    one = np.zeros((20, 20, 20), bool)
    _box(one, (1, 1, 1), (2, 2, 2))
    found = score_size_bins(one, one, _affine())  # 1 of 1
    three = one.copy()
    _box(three, (10, 10, 10), (2, 2, 2))
    _box(three, (1, 10, 10), (2, 2, 2))
    missed = score_size_bins(three, np.zeros_like(three), _affine())  # 0 of 3
    pooled = pool_size_bins([found, missed])
    assert pooled[SMALL].recall == pytest.approx(1 / 4)  # not the mean of 1 and 0
    assert pooled[SMALL].precision == 1.0


def test_rejects_masks_of_two_shapes():
    with pytest.raises(ValueError, match="one shape"):
        score_size_bins(np.zeros((4, 4, 4)), np.zeros((4, 4, 5)), _affine())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=st.floats(0.01, 0.2))
def test_bins_add_up_to_the_lesion_counts_of_score_masks(seed, density):
    rng = np.random.default_rng(seed)
    truth = rng.random((24, 24, 8)) < density
    pred = rng.random((24, 24, 8)) < density
    affine = _affine((0.9, 0.9, 3.0))
    bins, scores = score_size_bins(truth, pred, affine), score_masks(truth, pred, affine)
    assert sum(b.n_truth for b in bins.bins) == scores.n_truth_lesions
    assert sum(b.n_pred for b in bins.bins) == scores.n_pred_lesions
    if scores.n_truth_lesions:
        assert sum(b.n_truth_found for b in bins.bins) / scores.n_truth_lesions == pytest.approx(scores.lesion_recall)
    if scores.n_pred_lesions:
        assert sum(b.n_pred_real for b in bins.bins) / scores.n_pred_lesions == pytest.approx(scores.lesion_precision)
