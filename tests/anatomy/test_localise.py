"""Tests of subject anatomy (brain, ventricles, cortex, infratentorial, tissue levels) on a
6 mm phantom, prepared as the pipeline prepares a scan (head mask, N4)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from b12brain.anatomy.localise import Anatomy, anatomy_from_alignment, localise_anatomy
from b12brain.anatomy.register import AtlasAlignment
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.preprocess.bias import correct_bias
from b12brain.preprocess.masks import head_mask
from b12brain.preprocess.orient import to_canonical


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom(PhantomConfig(seed=5, lesion_load="mild", slice_mm=6.0))


@pytest.fixture(scope="module")
def anatomy(phantom: Phantom) -> Anatomy:
    canonical, _ = to_canonical(phantom.flair)
    assert np.array_equal(canonical.affine, phantom.flair.affine)  # truth masks share the grid
    head = head_mask(canonical.data)
    corrected, _ = correct_bias(canonical, head)
    return localise_anatomy(corrected, head)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def _world_z(phantom: Phantom, mask: np.ndarray) -> np.ndarray:
    affine = phantom.flair.affine
    return (np.argwhere(mask) @ affine[:3, :3].T + affine[:3, 3])[:, 2]


def test_shapes_and_types(phantom: Phantom, anatomy: Anatomy) -> None:
    shape = phantom.flair.shape
    for name in ("brain", "parenchyma", "ventricles", "cortex", "infratentorial"):
        arr = getattr(anatomy, name)
        assert arr.shape == shape and arr.dtype == np.bool_, name
    for name in ("wm", "gm"):
        arr = getattr(anatomy, name)
        assert arr.shape == shape and arr.dtype == np.float32, name
        assert arr.min() >= 0.0 and arr.max() <= 1.0 + 1e-6, name
        assert not arr[~anatomy.brain].any(), name


def test_ventricles_match_truth(phantom: Phantom, anatomy: Anatomy) -> None:
    truth = phantom.ventricles.data.astype(bool)
    assert _dice(anatomy.ventricles, truth) >= 0.7
    assert anatomy.ventricles.sum() == pytest.approx(truth.sum(), rel=0.3)


def test_brain_matches_truth(phantom: Phantom, anatomy: Anatomy) -> None:
    truth = phantom.brain.data.astype(bool)
    assert _dice(anatomy.brain, truth) >= 0.85


def test_enlarged_ventricles_are_followed_whole(phantom: Phantom) -> None:
    # Ventricles grown by 8 mm (6x the atlas's volume, as in hydrocephalus or marked atrophy)
    # overlap the atlas's by under a fifth of their size; they were once dropped whole.
    canonical, _ = to_canonical(phantom.flair)
    ventricles = phantom.ventricles.data > 0
    enlarged = ndi.distance_transform_edt(~ventricles, sampling=canonical.spacing_mm) <= 8.0
    csf = np.random.default_rng(0).choice(canonical.data[ventricles], canonical.shape)  # CSF's own texture
    flair = canonical.with_data(np.where(enlarged, csf, canonical.data))
    exact_fit = AtlasAlignment(sitk.AffineTransform(3), -0.5, 1.0)  # phantoms lie in MNI space
    found = anatomy_from_alignment(flair, head_mask(flair.data), exact_fit).ventricles
    voxel_ml = canonical.voxel_volume_ml
    assert float(enlarged.sum()) * voxel_ml > 100.0
    assert _dice(found, enlarged) > 0.9, (found.sum() * voxel_ml, enlarged.sum() * voxel_ml)


def test_masks_nest(anatomy: Anatomy) -> None:
    assert not (anatomy.parenchyma & ~anatomy.brain).any()
    assert not (anatomy.ventricles & ~anatomy.brain).any()
    assert not (anatomy.ventricles & anatomy.parenchyma).any()  # ventricles are dark CSF
    assert not (anatomy.cortex & anatomy.ventricles).any()
    assert not (anatomy.infratentorial & ~anatomy.brain).any()
    assert anatomy.cortex.any() and anatomy.infratentorial.any()


def test_flair_tissue_levels_ordered(anatomy: Anatomy) -> None:
    levels = anatomy.levels
    assert levels.csf < levels.wm < levels.gm
    assert 0.0 < levels.wm_sd < 0.2 * levels.wm
    assert levels.csf < 0.5 * levels.wm  # FLAIR: CSF suppressed


def test_infratentorial_lies_below_the_ventricles(phantom: Phantom, anatomy: Anatomy) -> None:
    infra_z = _world_z(phantom, anatomy.infratentorial)
    vent_z = _world_z(phantom, anatomy.ventricles)
    assert np.median(infra_z) < vent_z.min()
    assert np.percentile(infra_z, 95) < np.median(vent_z)
    assert not (anatomy.infratentorial & anatomy.ventricles).any()


def test_truth_lesions_lie_outside_cortex_and_ventricles(phantom: Phantom, anatomy: Anatomy) -> None:
    lesion = phantom.lesion.data.astype(bool)
    assert lesion.any()
    assert (lesion & anatomy.cortex).sum() < 0.05 * lesion.sum()
    assert (lesion & anatomy.ventricles).sum() < 0.05 * lesion.sum()
    assert (lesion & anatomy.brain).sum() > 0.95 * lesion.sum()


def test_alignment_reports_its_fit(anatomy: Anatomy) -> None:
    # The phantom is the MNI152 brain itself: scale ~1 on every axis, the brain inside the head
    # and a mutual information well above that of unrelated images (~0).
    alignment = anatomy.alignment
    assert alignment.scales == tuple(sorted(alignment.scales))
    assert all(0.93 < s < 1.07 for s in alignment.scales), alignment.scales
    assert alignment.brain_in_head > 0.98
    assert alignment.metric < -0.3


def test_the_atlas_is_prepared_once_whichever_threads_ask() -> None:
    # `b12brain run` prepares it on a background thread while the pipeline may ask for it too.
    import threading

    from b12brain.anatomy.localise import prepare_atlas

    got = []
    threads = [threading.Thread(target=lambda: got.append(prepare_atlas())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 3 and all(prepared is got[0] for prepared in got)
    assert prepare_atlas() is got[0]


def test_a_mask_warps_to_the_values_of_its_float_map() -> None:
    # Masks go to SimpleITK as uint8; what comes out must be what the float32 map gives.
    import SimpleITK as sitk

    from b12brain.anatomy.register import AtlasAlignment

    rng = np.random.default_rng(3)
    mask = np.zeros((40, 44, 36), bool)
    mask[8:30, 10:35, 6:28] = rng.random((22, 25, 22)) > 0.3
    transform = sitk.AffineTransform(3)
    transform.SetMatrix([1.07, 0.03, -0.02, -0.04, 0.95, 0.05, 0.01, -0.03, 1.12])
    transform.SetTranslation([1.3, -2.7, 0.9])
    alignment = AtlasAlignment(transform, metric=-0.5, brain_in_head=1.0)
    atlas_affine = np.diag([1.0, 1.0, 1.0, 1.0])
    subject_affine = np.diag([0.9, 0.9, 3.0, 1.0])
    subject_affine[:3, 3] = [1.5, 2.0, 4.0]
    from_mask = alignment.warp(mask, atlas_affine, (44, 48, 11), subject_affine)
    from_float = alignment.warp(mask.astype(np.float32), atlas_affine, (44, 48, 11), subject_affine)
    assert from_mask.dtype == np.float32
    assert 0.0 < from_mask.mean() < 1.0 and ((from_mask > 0) & (from_mask < 1)).any()  # interpolated
    assert np.array_equal(from_mask, from_float)
