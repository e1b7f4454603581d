"""Voxel size, voxel volume and the 26-neighbourhood: one definition used by every stage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

from b12brain.geometry import CONNECTIVITY_26, voxel_spacing_mm, voxel_volume_ml
from b12brain.types import Volume


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.9, 0.9, 6.0), (0.4688, 0.4688, 5.5)])
@pytest.mark.parametrize("angles", [(0, 0, 0), (90, 0, 0), (12, -30, 7)])
def test_spacing_and_volume_of_rotated_and_flipped_grids(spacing: tuple[float, float, float], angles: tuple[int, int, int]) -> None:
    affine = np.eye(4)
    affine[:3, :3] = Rotation.from_euler("xyz", angles, degrees=True).as_matrix() @ np.diag(spacing) @ np.diag([-1, 1, 1])
    affine[:3, 3] = [90.0, -126.0, -72.0]
    np.testing.assert_allclose(voxel_spacing_mm(affine), spacing, rtol=1e-12)
    assert voxel_volume_ml(affine) == pytest.approx(np.prod(spacing) / 1000.0, rel=1e-12)
    volume = Volume(np.zeros((4, 4, 4), np.float32), affine)
    assert volume.spacing_mm == pytest.approx(spacing, rel=1e-12)
    assert volume.voxel_volume_ml == pytest.approx(voxel_volume_ml(affine), rel=1e-12)


def test_sheared_grid_volume_is_the_parallelepiped_not_the_column_lengths() -> None:
    affine = np.eye(4)
    affine[0, 1] = 1.0  # the second axis leans by 45°: its voxels are sqrt(2) mm long, 1 mm³ each
    np.testing.assert_allclose(voxel_spacing_mm(affine), [1.0, np.sqrt(2.0), 1.0])
    assert voxel_volume_ml(affine) == pytest.approx(0.001)


def test_connectivity_26_joins_voxels_that_share_only_a_corner() -> None:
    mask = np.zeros((4, 4, 4), bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True
    assert ndi.label(mask, structure=CONNECTIVITY_26)[1] == 1
    assert ndi.label(mask)[1] == 2  # scipy's default (faces only) would split them
    assert CONNECTIVITY_26.shape == (3, 3, 3) and CONNECTIVITY_26.all()
    with pytest.raises(ValueError):
        CONNECTIVITY_26[1, 1, 1] = False  # shared by every stage, so read-only
