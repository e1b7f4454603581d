"""Punctate lesions, mimics and slice gaps of the phantom engine (training material for round 2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from b12brain.errors import ConfigError
from b12brain.evaluate import score_size_bins
from b12brain.geometry import CONNECTIVITY_26
from b12brain.phantom import PhantomConfig, make_phantom


@pytest.fixture(scope="module")
def one_mm():
    plain = make_phantom(PhantomConfig(seed=3, lesion_load="mild", slice_mm=1.0))
    rich = make_phantom(PhantomConfig(seed=3, lesion_load="mild", slice_mm=1.0, punctate_lesions=12, mimics=True))
    return plain, rich


@pytest.fixture(scope="module")
def six_mm():
    plain = make_phantom(PhantomConfig(seed=3, lesion_load="mild", slice_mm=6.0))
    punctate = make_phantom(PhantomConfig(seed=3, lesion_load="mild", slice_mm=6.0, punctate_lesions=20))
    return plain, punctate


def _new_components(plain: np.ndarray, rich: np.ndarray) -> tuple[np.ndarray, int]:
    labels, n = ndi.label(rich, structure=CONNECTIVITY_26)
    new = [i for i in range(1, n + 1) if not (plain & (labels == i)).any()]
    return np.isin(labels, new), len(new)


def test_extras_leave_everything_else_as_it_was(one_mm):
    plain, rich = one_mm
    truth, rich_truth = plain.lesion.data > 0, rich.lesion.data > 0
    assert not (truth & ~rich_truth).any()  # every lesion of the plain phantom is still there
    assert np.array_equal(plain.ventricles.data, rich.ventricles.data)
    assert np.array_equal(plain.brain.data, rich.brain.data)
    # The T1 changes only at the 12 punctate lesions drawn (the mimics are FLAIR signal), in
    # small places (some foci are too faint to see and stay out of the truth).
    changed = ~np.isclose(plain.t1.data, rich.t1.data)
    _, places = ndi.label(ndi.binary_dilation(changed, iterations=2))
    assert 1 <= places <= 12 and changed.sum() < 12 * 400  # foci of <= 22 mm³ with blurred edges
    assert rich.truth["punctate_lesions"] == 12 and rich.truth["mimics"] is True
    assert "punctate_lesions" not in plain.truth and "mimics" not in plain.flair.source


def test_punctate_lesions_are_small_and_deep(one_mm):
    plain, rich = one_mm
    new, n_new = _new_components(plain.lesion.data > 0, rich.lesion.data > 0)
    assert 6 <= n_new <= 12  # a few can be too faint to see once blurred: not in the truth
    bins = score_size_bins(new, new, rich.lesion.affine)
    assert bins["under_0.05_ml"].n_truth == n_new  # every one under 0.05 mL
    assert (rich.lesion_class.data[new] == 2).all()  # deep


def test_punctate_lesions_on_thick_slices_are_a_few_voxels_on_one_or_two_slices(six_mm):
    plain, punctate = six_mm
    new, n_new = _new_components(plain.lesion.data > 0, punctate.lesion.data > 0)
    assert n_new >= 5
    labels, n = ndi.label(new, structure=CONNECTIVITY_26)
    for i in range(1, n + 1):
        voxels = np.argwhere(labels == i)
        assert len(np.unique(voxels[:, 2])) <= 2
        assert len(voxels) <= 30


def test_mimics_brighten_the_ventricle_rim_and_darken_perivascular_spaces_but_are_not_lesion(one_mm):
    plain, rich = one_mm
    vent = plain.ventricles.data > 0
    rim = ndi.binary_dilation(vent) & ~vent & (plain.brain.data > 0) & ~ndi.binary_dilation(rich.lesion.data > 0, iterations=3)
    ratio = rich.flair.data / np.maximum(plain.flair.data, 1e-3)
    assert np.median(ratio[rim]) > 1.03
    # Perivascular spaces: voxels far from lesions and ventricles darkened toward CSF (they are
    # 1-2 mm wide: partial volume keeps most above CSF level).
    far = ~ndi.binary_dilation((rich.lesion.data > 0) | vent, iterations=4) & (plain.brain.data > 0)
    assert np.count_nonzero(far & (ratio < 0.8)) > 50
    # Mimics add nothing to the truth beyond the punctate lesions.
    new, _ = _new_components(plain.lesion.data > 0, rich.lesion.data > 0)
    assert np.array_equal(rich.lesion.data > 0, (plain.lesion.data > 0) | new)


def test_slice_gap_spaces_the_slices():
    ph = make_phantom(PhantomConfig(seed=3, lesion_load="mild", slice_mm=5.0, slice_gap_mm=1.5))
    assert ph.flair.spacing_mm[2] == pytest.approx(6.5)
    assert ph.truth["slice_gap_mm"] == 1.5 and ph.truth["slice_mm"] == 5.0
    assert ph.lesion.data.any() and ph.flair.shape[:2] == (256, 256)


@pytest.mark.parametrize(
    "config, field",
    [
        (PhantomConfig(slice_mm=5.0, slice_gap_mm=6.0), "slice_gap_mm"),
        (PhantomConfig(slice_mm=1.0, slice_gap_mm=0.5), "slice_gap_mm"),
        (PhantomConfig(slice_mm=5.0, slice_gap_mm=-1.0), "slice_gap_mm"),
        (PhantomConfig(punctate_lesions=-1), "punctate_lesions"),
        (PhantomConfig(punctate_lesions=True), "punctate_lesions"),  # type: ignore[arg-type]
    ],
)
def test_bad_extras_are_refused(config, field):
    with pytest.raises(ConfigError, match=field):
        make_phantom(config)
