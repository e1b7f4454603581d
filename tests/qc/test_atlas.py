"""The atlas fit's plausibility checks (b12brain.qc.atlas): scale, mutual information, brain
inside the head. Refused when clearly wrong, warned when borderline."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from b12brain.anatomy.atlas import load_atlas
from b12brain.anatomy.register import AtlasAlignment, align_atlas, moving_atlas
from b12brain.errors import B12BrainError, RegistrationError
from b12brain.qc import check_atlas_fit
from b12brain.qc.atlas import MUTUAL_INFORMATION_REFUSE
from b12brain.types import Volume


def _alignment(subject_scales: tuple[float, float, float] = (0.9, 0.95, 1.0), metric: float = -0.4,
               brain_in_head: float = 0.99) -> AtlasAlignment:
    transform = sitk.AffineTransform(3)
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # scales survive a rotation
    transform.SetMatrix((rotation @ np.diag(1.0 / np.asarray(subject_scales))).ravel().tolist())
    return AtlasAlignment(transform, metric, brain_in_head)


def test_scales_are_the_subject_size_relative_to_the_atlas() -> None:
    assert _alignment((1.1, 0.8, 0.95)).scales == pytest.approx((0.8, 0.95, 1.1))


def test_a_plausible_fit_passes_and_reports_its_figures() -> None:
    figures, warnings = check_atlas_fit(_alignment(), "flair.nii.gz")
    assert warnings == ()
    assert figures == {"atlas_scale_min": 0.9, "atlas_scale_max": 1.0, "atlas_mutual_information": 0.4,
                       "atlas_brain_in_head": 0.99}


@pytest.mark.parametrize(
    ("alignment", "said"),
    [
        (_alignment(subject_scales=(0.9, 1.0, 2.0)), "2.00 x the atlas's size"),
        (_alignment(subject_scales=(0.4, 0.45, 0.5)), "0.40-0.50 x the atlas's size"),
        (_alignment(metric=-0.01), "0.01 nats of mutual information"),
        (_alignment(brain_in_head=0.3), "30% of the fitted brain lies inside the head"),
    ],
    ids=["scale-2", "scale-0.4", "no-information", "brain-outside-head"],
)
def test_a_clearly_wrong_fit_is_refused(alignment: AtlasAlignment, said: str) -> None:
    with pytest.raises(RegistrationError) as info:
        check_atlas_fit(alignment, "flair.nii.gz")
    assert isinstance(info.value, B12BrainError)
    assert str(info.value).startswith("flair.nii.gz: the brain atlas could not be placed plausibly: ")
    assert said in str(info.value)


@pytest.mark.parametrize(
    ("alignment", "code"),
    [
        (_alignment(subject_scales=(0.65, 0.7, 0.75)), "atlas.scale"),
        (_alignment(subject_scales=(1.0, 1.1, 1.3)), "atlas.scale"),
        (_alignment(metric=-0.08), "atlas.weak_fit"),
        (_alignment(brain_in_head=0.75), "atlas.brain_outside_head"),
    ],
    ids=["small", "large", "weak", "partly-outside"],
)
def test_a_borderline_fit_warns(alignment: AtlasAlignment, code: str) -> None:
    _, warnings = check_atlas_fit(alignment, "flair.nii.gz")
    assert [w.code for w in warnings] == [code]
    assert warnings[0].source == "flair.nii.gz"


@pytest.mark.slow
def test_the_atlas_fitted_to_noise_shares_no_information() -> None:
    # What the refusal limit stands for: the fit to an image with no brain in it.
    atlas = load_atlas()
    rng = np.random.default_rng(0)
    affine = np.diag([0.9, 0.9, 6.0, 1.0])
    affine[:3, 3] = [-115.0, -115.0, -60.0]
    noise = Volume(rng.normal(300.0, 80.0, (256, 256, 22)).astype(np.float32), affine, "noise")
    flair_like = (0.08 * atlas.csf + 0.55 * atlas.wm + 0.75 * atlas.gm) * atlas.brain
    alignment = align_atlas(noise, np.ones(noise.shape, bool), moving_atlas(flair_like, atlas.brain, atlas.affine))
    assert -alignment.metric < MUTUAL_INFORMATION_REFUSE
    with pytest.raises(RegistrationError, match="mutual information"):
        check_atlas_fit(alignment, "noise")
