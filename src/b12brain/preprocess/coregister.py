"""Rigid registration of a T1 onto the FLAIR grid (SimpleITK, Mattes mutual information).

The pipeline does not call :func:`coregister_to`: neither segmenter reads a T1 yet, so the T1 is
only checked against the FLAIR (:func:`check_overlap` here, :mod:`b12brain.qc.t1`). It stays for
a segmenter that will read one.
"""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

from b12brain.errors import InputFileError, RegistrationError
from b12brain.preprocess.sitk_bridge import from_sitk, single_threaded, to_sitk
from b12brain.types import Affine, Volume

#: Least fraction of the smaller field of view that the two scans must share.
MIN_OVERLAP = 0.25


def check_overlap(moving: Volume, fixed: Volume) -> float:
    """Fraction of the smaller scan's world bounding box that lies inside the other's.

    Raises
    ------
    InputFileError
        (naming ``moving``) when the two fields of view share less than :data:`MIN_OVERLAP`.
    """
    lo_m, hi_m = _bounds(moving.affine, moving.shape)
    lo_f, hi_f = _bounds(fixed.affine, fixed.shape)
    inter = np.clip(np.minimum(hi_m, hi_f) - np.maximum(lo_m, lo_f), 0, None).prod()
    smaller = min((hi_m - lo_m).prod(), (hi_f - lo_f).prod())
    overlap = float(inter / smaller) if smaller > 0 else 0.0
    if overlap < MIN_OVERLAP:
        raise InputFileError(
            moving.source,
            f"does not overlap the FLAIR {fixed.source} in world space (shared field of view "
            f"{100 * overlap:.0f}%); give a T1 of the same session with a valid header",
        )
    return overlap


def coregister_to(moving: Volume, fixed: Volume) -> Volume:
    """Rigidly align ``moving`` (e.g. T1) to ``fixed`` (FLAIR) and resample it onto that grid.

    Raises
    ------
    InputFileError
        The scans do not overlap.
    RegistrationError
        The optimiser failed.
    """
    check_overlap(moving, fixed)
    fixed_img = to_sitk(fixed.data.astype(np.float32), fixed.affine)
    moving_img = to_sitk(moving.data.astype(np.float32), moving.affine)
    initial = sitk.CenteredTransformInitializer(
        fixed_img, moving_img, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.05, 20240611)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3, numberOfIterations=100)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2])
    reg.SetSmoothingSigmasPerLevel([2.0, 1.0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(initial, inPlace=False)
    try:
        with single_threaded():
            transform = reg.Execute(fixed_img, moving_img)
    except RuntimeError as err:
        raise RegistrationError(
            f"{moving.source}: could not be registered to {fixed.source}: {str(err).strip().splitlines()[-1]}"
        ) from err
    out = sitk.Resample(moving_img, fixed_img, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return Volume(from_sitk(out).astype(np.float32), fixed.affine, f"{moving.source} (registered to FLAIR)")


def _bounds(affine: Affine, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array(list(itertools.product(*[(-0.5, s - 0.5) for s in shape])))
    world = corners @ affine[:3, :3].T + affine[:3, 3]
    return world.min(axis=0), world.max(axis=0)
