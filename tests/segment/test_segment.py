"""Tests of the segmenter registry, the probability-to-mask step and the classical segmenter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from b12brain.anatomy.localise import Anatomy, TissueLevels
from b12brain.errors import ConfigError
from b12brain.segment import SEGMENTERS, get_segmenter, lesion_mask_from_probability
from b12brain.segment.classical import ClassicalSegmenter
from b12brain.types import Volume

# --- registry -----------------------------------------------------------------------------


def test_get_segmenter_by_name() -> None:
    segmenter = get_segmenter("classical")
    assert isinstance(segmenter, ClassicalSegmenter)
    assert segmenter.name == "classical" and 0.0 < segmenter.threshold < 1.0
    assert "classical" in SEGMENTERS


def test_get_segmenter_unknown_name_lists_choices() -> None:
    with pytest.raises(ConfigError) as err:
        get_segmenter("deepnet")
    message = str(err.value)
    assert "'deepnet'" in message
    for name in SEGMENTERS:
        assert name in message


# --- lesion_mask_from_probability --------------------------------------------------------


def test_threshold_is_inclusive() -> None:
    p = np.zeros((8, 8, 8), np.float32)
    p[1, 1, 1] = 0.5
    p[5, 5, 5] = 0.49
    mask = lesion_mask_from_probability(p, 0.5, 0.001, min_lesion_ml=0.0)
    assert mask.dtype == np.bool_ and mask.shape == p.shape
    assert mask[1, 1, 1] and not mask[5, 5, 5] and int(mask.sum()) == 1


def test_min_size_in_ml_with_anisotropic_voxels() -> None:
    voxel_ml = 1.0 * 2.0 * 3.0 / 1000  # 1 x 2 x 3 mm voxels
    p = np.zeros((12, 12, 12), np.float32)
    p[1, 1, 1:7] = 0.9  # 6 voxels = 0.036 mL
    p[6, 6, 1:5] = 0.9  # 4 voxels = 0.024 mL
    p[10, 1, 1] = p[11, 2, 2] = p[10, 3, 3] = p[11, 4, 4] = p[10, 5, 5] = 0.9  # 5 voxels joined diagonally: 0.030 mL
    mask = lesion_mask_from_probability(p, 0.5, voxel_ml, min_lesion_ml=0.029)
    assert mask[1, 1, 1:7].all()
    assert not mask[6, 6, :].any()
    assert mask[11, 4, 4] and int(mask.sum()) == 11
    # The same probabilities at 1 mm isotropic: every lesion is below 0.029 mL.
    assert not lesion_mask_from_probability(p, 0.5, 0.001, min_lesion_ml=0.029).any()
    # Below the threshold nothing is kept, however large.
    assert not lesion_mask_from_probability(p, 0.95, voxel_ml, min_lesion_ml=0.0).any()


# --- classical segmenter on a hand-built anatomy -----------------------------------------

WM, WM_SD, GM, CSF = 100.0, 3.0, 120.0, 30.0
SHAPE = (64, 64, 36)
#: Lesion boxes (slices) on the 1 mm grid below.
WM_BLOB = np.s_[12:16, 12:16, 16:20]
CORTEX_BLOB = np.s_[7:10, 30:33, 16:19]  # 6-8 mm deep: inside the brain's inner part, but cortex
VENTRICLE_BLOB = np.s_[30:33, 30:33, 16:19]
OUTSIDE_BLOB = np.s_[0:2, 30:33, 16:19]
CORE = np.s_[44:48, 14:18, 16:20]
RIM = np.s_[43:49, 13:19, 15:21]
FAINT_SPOT = np.s_[14:17, 44:47, 16:19]
BRIGHT, CORE_LEVEL, FAINT = 200.0, 150.0, 135.0
#: Cuts pinned here (not the tuned defaults) so that the scene's levels sit clearly apart:
#: seed at 140, floor at 130, the cored lesion's edge at 127.5.
SEGMENTER = ClassicalSegmenter(contrast=0.40, noise_z=3.0, grow_contrast=0.30, grow_noise_z=2.0, edge_fraction=0.55)


@pytest.fixture(scope="module")
def scene() -> tuple[Volume, Anatomy]:
    """A box brain: 9 mm of cortex around white matter, a CSF box in the middle, then lesions."""
    brain = np.zeros(SHAPE, bool)
    brain[2:62, 2:62, 2:34] = True
    depth = ndi.distance_transform_edt(brain)
    ventricles = np.zeros(SHAPE, bool)
    ventricles[26:38, 26:38, 14:22] = True
    cortex = brain & (depth <= 9)
    wm = (brain & ~cortex & ~ventricles).astype(np.float32)
    gm = cortex.astype(np.float32)
    rng = np.random.default_rng(0)
    image = np.where(wm > 0, WM, 0.0) + np.where(cortex, GM, 0.0) + np.where(ventricles, CSF, 0.0)
    image = (image + rng.normal(0, WM_SD, SHAPE) * brain).astype(np.float32)
    for blob in (WM_BLOB, CORTEX_BLOB, VENTRICLE_BLOB, OUTSIDE_BLOB):
        image[blob] = BRIGHT
    image[RIM] = FAINT
    image[CORE] = CORE_LEVEL
    image[FAINT_SPOT] = FAINT
    anatomy = Anatomy(
        brain=brain,
        parenchyma=brain & ~ventricles,
        wm=wm,
        gm=gm,
        ventricles=ventricles,
        cortex=cortex,
        infratentorial=np.zeros(SHAPE, bool),
        levels=TissueLevels(wm=WM, wm_sd=WM_SD, gm=GM, csf=CSF),
        alignment=None,  # type: ignore[arg-type]  # not used by the segmenter
    )
    return Volume(image, np.diag([1.0, 1.0, 1.0, 1.0]), "synthetic"), anatomy


@pytest.fixture(scope="module")
def probability(scene: tuple[Volume, Anatomy]) -> np.ndarray:
    flair, anatomy = scene
    return SEGMENTER.predict(flair, anatomy, None)


def test_output_is_a_probability_map(scene: tuple[Volume, Anatomy], probability: np.ndarray) -> None:
    assert probability.dtype == np.float32
    assert probability.shape == scene[0].shape
    assert probability.min() >= 0.0 and probability.max() <= 1.0


def test_bright_blob_in_white_matter_is_found(probability: np.ndarray) -> None:
    assert probability[WM_BLOB].min() > 0.9


@pytest.mark.parametrize("blob", [CORTEX_BLOB, VENTRICLE_BLOB, OUTSIDE_BLOB], ids=["cortex", "ventricle", "outside"])
def test_equally_bright_blob_outside_white_matter_is_not(probability: np.ndarray, blob: tuple[slice, ...]) -> None:
    assert probability[blob].max() < 0.1


def test_faint_rim_of_a_clear_lesion_is_included(probability: np.ndarray) -> None:
    rim = np.zeros(SHAPE, bool)
    rim[RIM] = True
    rim[CORE] = False
    assert probability[CORE].min() > 0.8
    assert probability[rim].min() > 0.6  # 135: below the seed cut (140), above the lesion's own edge


def test_isolated_faint_spot_is_not(probability: np.ndarray) -> None:
    assert probability[FAINT_SPOT].max() < 0.4


def test_normal_white_matter_is_not_lesion(scene: tuple[Volume, Anatomy], probability: np.ndarray) -> None:
    flair, anatomy = scene
    lesion = np.zeros(SHAPE, bool)
    for blob in (WM_BLOB, RIM, FAINT_SPOT):
        lesion[blob] = True
    near = ndi.binary_dilation(lesion, iterations=2)
    assert probability[(anatomy.wm > 0) & ~near].max() < 0.01
    mask = lesion_mask_from_probability(probability, 0.5, flair.voxel_volume_ml, min_lesion_ml=0.0)
    labels, n = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    assert n == 2  # the white-matter blob and the cored lesion with its rim
    assert int(mask.sum()) == 4 * 4 * 4 + 6 * 6 * 6


def test_no_candidate_voxels_gives_zero_probability(scene: tuple[Volume, Anatomy]) -> None:
    flair, anatomy = scene
    flat = flair.with_data(np.where(anatomy.wm > 0, WM, 0.0).astype(np.float32))
    p = SEGMENTER.predict(flat, anatomy, None)
    assert p.dtype == np.float32 and p.shape == SHAPE and p.max() < 0.01
