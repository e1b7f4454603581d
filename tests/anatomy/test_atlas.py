"""Tests of the MNI152 atlas: grid, tissue maps, ventricles and infratentorial region."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from b12brain.anatomy import Atlas, load_atlas


@pytest.fixture(scope="module")
def atlas() -> Atlas:
    return load_atlas()


def _mm(atlas: Atlas, mask: np.ndarray) -> np.ndarray:
    """World coordinates (N, 3) in mm of the voxels in ``mask``."""
    ijk = np.argwhere(mask)
    return ijk @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]


def test_grid_and_types(atlas: Atlas) -> None:
    assert atlas.shape == (197, 233, 189)
    np.testing.assert_array_equal(np.diag(atlas.affine), [1, 1, 1, 1])
    np.testing.assert_array_equal(atlas.affine[:3, 3], [-98, -134, -72])
    for name in ("t1", "gm", "wm", "csf"):
        arr = getattr(atlas, name)
        assert arr.dtype == np.float32 and arr.shape == atlas.shape
        assert arr.min() >= 0.0 and arr.max() <= 1.0
    for name in ("brain", "ventricles", "infratentorial"):
        assert getattr(atlas, name).dtype == np.bool_


def test_cached_and_read_only(atlas: Atlas) -> None:
    assert load_atlas() is atlas
    with pytest.raises(ValueError):
        atlas.wm[0, 0, 0] = 1.0


def test_tissue_volumes_plausible(atlas: Atlas) -> None:
    brain_ml = atlas.brain.sum() / 1000
    gm_ml, wm_ml, csf_ml = (float(getattr(atlas, n).sum()) / 1000 for n in ("gm", "wm", "csf"))
    assert 1700 < brain_ml < 2000
    assert 900 < gm_ml < 1100
    assert 600 < wm_ml < 750
    assert 150 < csf_ml < 300
    # Probabilities add up to at most 1 inside the brain and csf fills the rest.
    total = atlas.gm + atlas.wm + atlas.csf
    assert np.all(total[atlas.brain] >= 0.999)
    assert np.all(atlas.csf[~atlas.brain] == 0)


def test_ventricles(atlas: Atlas) -> None:
    vent = atlas.ventricles
    ml = vent.sum() / 1000
    assert 10 < ml < 30
    assert not np.any(vent & ~atlas.brain)
    assert atlas.csf[vent].mean() > 0.7
    xyz = _mm(atlas, vent)
    assert np.all(np.abs(xyz[:, 0]) < 40)  # near the midline
    assert abs(xyz[:, 0].mean()) < 1.0  # symmetric template
    assert -40 < xyz[:, 1].mean() < 10 and -5 < xyz[:, 2].mean() < 30
    # Both lateral ventricles present, of similar size.
    left, right = (xyz[:, 0] < -3).sum(), (xyz[:, 0] > 3).sum()
    assert 0.8 < left / right < 1.25
    # Lateral ventricle bodies at z = 20 mm and the third ventricle on the midline.
    k20 = int(round(20 - atlas.affine[2, 3]))
    assert vent[:, :, k20].sum() > 300
    i0 = int(round(-atlas.affine[0, 3]))
    j_third, k_third = int(round(-15 - atlas.affine[1, 3])), int(round(0 - atlas.affine[2, 3]))
    assert vent[i0, j_third, k_third]


def test_infratentorial(atlas: Atlas) -> None:
    infra = atlas.infratentorial
    ml = infra.sum() / 1000
    assert 150 < ml < 260
    assert not np.any(infra & ~atlas.brain)
    assert not np.any(infra & atlas.ventricles)
    xyz = _mm(atlas, infra)
    assert xyz[:, 2].max() < 0  # below z = 0
    assert xyz[:, 1].max() < 0  # posterior fossa
    assert xyz[:, 2].mean() < -25
    # A point in the cerebellar hemisphere is in, the occipital pole and temporal lobe are not.
    def at(x: float, y: float, z: float) -> bool:
        i, j, k = np.round(np.array([x, y, z]) - atlas.affine[:3, 3]).astype(int)
        return bool(infra[i, j, k])

    assert at(30, -65, -40) and at(-30, -65, -40)  # cerebellar hemispheres
    assert at(0, -28, -30)  # pons
    assert not at(20, -95, 0)  # occipital lobe
    assert not at(45, -20, -25)  # inferior temporal lobe
    assert not at(0, -20, 10)  # thalamus / third ventricle level
