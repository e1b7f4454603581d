"""Lesion edges at the FLAIR half-maximum (b12brain.segment.edges)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from b12brain.segment.edges import brain_tissue_ceiling, refine_lesion_edges

RADIUS_MM = 5.0
EDGE_SIGMA_MM = 0.7  # the phantom's partial-volume edge


def _scan(spacing_mm: tuple[float, float, float], shape: tuple[int, int, int] = (40, 40, 40)) -> tuple:
    """A blurred bright ball (3x the white-matter level) in noisy tissue, and the ball's truth."""
    centre = (np.array(shape) - 1) / 2 * np.array(spacing_mm)
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing_mm, strict=True)], indexing="ij")
    distance = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)))
    ball = distance <= RADIUS_MM
    fine = ndi.gaussian_filter(ball.astype(np.float32), [EDGE_SIGMA_MM / s for s in spacing_mm])
    rng = np.random.default_rng(0)
    flair = (1.0 + 2.0 * fine + rng.normal(0.0, 0.05, shape)).astype(np.float32)
    return flair, ball, np.ones(shape, bool)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.mark.parametrize("start", ["narrow", "wide"])
def test_edge_moves_to_the_true_boundary_on_isotropic_scans(start: str) -> None:
    flair, ball, tissue = _scan((1.0, 1.0, 1.0))
    detection = ndi.binary_erosion(ball) if start == "narrow" else ndi.binary_dilation(ball)
    refined = refine_lesion_edges(detection, flair, tissue, (1.0, 1.0, 1.0))
    assert _dice(detection, ball) < 0.85
    assert _dice(refined, ball) > 0.95
    assert abs(int(refined.sum()) - int(ball.sum())) < 0.08 * ball.sum()


def test_thick_slice_edges_move_in_plane_only() -> None:
    spacing = (1.0, 1.0, 6.0)
    flair, ball, tissue = _scan(spacing, shape=(40, 40, 7))
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[:, :, 1] = ndi.generate_binary_structure(2, 1)
    narrow = ndi.binary_erosion(ball, in_plane)
    grown = refine_lesion_edges(narrow, flair, tissue, spacing)
    assert _dice(grown, ball) > _dice(narrow, ball) + 0.1
    assert not (grown & ~ndi.binary_dilation(narrow, in_plane)).any()  # one voxel, in-plane
    assert np.array_equal(grown.any(axis=(0, 1)), narrow.any(axis=(0, 1)))  # no new slice
    wide = ndi.binary_dilation(ball, in_plane, iterations=2)
    refined = refine_lesion_edges(wide, flair, tissue, spacing)
    assert _dice(refined, ball) > _dice(wide, ball) + 0.1
    assert not (refined & ~wide).any()


def test_no_lesion_appears_that_was_not_detected() -> None:
    flair, ball, tissue = _scan((1.0, 1.0, 1.0))
    flair[2:6, 2:6, 2:6] = 3.0  # a bright spot nobody detected
    refined = refine_lesion_edges(ball, flair, tissue, (1.0, 1.0, 1.0))
    assert not refined[:8, :8, :8].any()
    assert ndi.label(refined, np.ones((3, 3, 3), bool))[1] == 1


def test_detection_stays_where_it_cannot_be_measured_or_is_not_brighter() -> None:
    flair, ball, tissue = _scan((1.0, 1.0, 1.0))
    wide = ndi.binary_dilation(ball)
    # No tissue around it to measure: kept as detected.
    assert np.array_equal(refine_lesion_edges(wide, flair, wide.copy(), (1.0, 1.0, 1.0)), wide)
    # Not brighter than its surroundings: kept as detected.
    assert np.array_equal(refine_lesion_edges(wide, np.ones_like(flair), tissue, (1.0, 1.0, 1.0)), wide)


def test_inputs_are_not_modified_and_empty_masks_pass() -> None:
    flair, ball, tissue = _scan((1.0, 1.0, 1.0))
    copies = (flair.copy(), ball.copy(), tissue.copy())
    refine_lesion_edges(ball, flair, tissue, (1.0, 1.0, 1.0))
    assert all(np.array_equal(a, b) for a, b in zip((flair, ball, tissue), copies, strict=True))
    empty = np.zeros_like(ball)
    assert not refine_lesion_edges(empty, flair, tissue, (1.0, 1.0, 1.0)).any()


def test_detection_in_surroundings_brighter_than_brain_tissue_is_dropped() -> None:
    # A bright spot in bright non-brain tissue (orbital fat, scalp) that the brain mask took in.
    flair, ball, tissue = _scan((1.0, 1.0, 1.0))
    fat = np.zeros_like(ball)
    fat[20:, :, :] = True
    flair[fat] += 2.5
    spot = ball & fat
    ceiling = brain_tissue_ceiling(wm=1.0, wm_sd=0.05, gm=1.2)
    assert ceiling == pytest.approx(1.35)
    assert not refine_lesion_edges(spot, flair, tissue, (1.0, 1.0, 1.0), ceiling=ceiling).any()
    # The same spot in white matter, and the default ceiling, keep it.
    assert refine_lesion_edges(ball, flair - 2.5 * fat, tissue, (1.0, 1.0, 1.0), ceiling=ceiling).sum() > 0.9 * ball.sum()
    assert refine_lesion_edges(spot, flair, tissue, (1.0, 1.0, 1.0)).any()


@pytest.mark.parametrize(
    ("shapes", "spacing", "message"),
    [
        (((8, 8, 4), (8, 8, 5), (8, 8, 4)), (1.0, 1.0, 1.0), "one shape"),
        (((8, 8), (8, 8), (8, 8)), (1.0, 1.0, 1.0), "3D arrays"),
        (((8, 8, 4), (8, 8, 4), (8, 8, 4)), (1.0, 0.0, 1.0), "positive voxel sizes"),
        (((8, 8, 4), (8, 8, 4), (8, 8, 4)), (1.0, 1.0), "positive voxel sizes"),
    ],
)
def test_mismatched_or_invalid_inputs_are_refused(
    shapes: tuple[tuple[int, ...], ...], spacing: tuple[float, ...], message: str
) -> None:
    mask, flair, parenchyma = (np.ones(s, bool) for s in shapes)
    with pytest.raises(ValueError, match=message):
        refine_lesion_edges(mask, flair.astype(np.float32), parenchyma, spacing)
