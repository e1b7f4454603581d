"""Rigid alignment of an earlier visit's FLAIR to the reference (latest) FLAIR, with its quality.

SimpleITK: Euler 3D transform started at the images' centres (and, when that ends below the
quality rule, again from the scanner's coordinates, keeping the better), Mattes mutual
information (32 bins; 10, 5 and 1 % of voxels sampled at a fixed seed), regular-step gradient
descent (step 0.3), three resolutions (shrink 4, 2, 1; smoothing 2, 1, 0 mm; grids over 4 million
voxels, i.e. 1 mm research scans, stop at shrink 2 sampling 10 and 2 %), the metric taken over
the whole field of view, one thread (reproducible bit for bit). The head's outline against the
background is what holds a thick-slice scan in place: with the metric restricted to the inside of
the head (an earlier version), 4 of 24 simulated re-scans of the shared real scans (all of them
6-8 mm clinical FLAIRs) and 2 of 17 phantom pairs at 6 mm ended centimetres off
(``benchmarks/followup_registration.py``).

Quality (this tool's own rule [U]): the normalised correlation of the two FLAIRs inside the
reference's head after alignment. Below :data:`MIN_CORRELATION` the pair is "registration too
poor to compare": it is reported, and its lesion matches are not categorised. The share of the
reference head that the earlier scan covers is :data:`MIN_COVERAGE` at least, else the
images do not overlap and the comparison is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk

from b12brain.errors import InputFileError, RegistrationError
from b12brain.preprocess.sitk_bridge import from_sitk, single_threaded, to_sitk
from b12brain.types import Volume
from b12brain.followup.visits import Visit

#: Least normalised correlation inside the reference head for volumes to be compared [U].
MIN_CORRELATION = 0.6
#: Reference grids larger than this are aligned at half resolution at the finest level.
_FULL_LEVEL_MAX_VOXELS = 4_000_000
#: Least share of the reference head that the earlier scan must cover after alignment.
MIN_COVERAGE = 0.5
QUALITY_RULE = (
    f"b12brain's own rule [U]: registration is too poor to compare when the normalised correlation "
    f"of the two FLAIRs inside the reference head is below {MIN_CORRELATION}; the earlier scan must "
    f"cover at least {MIN_COVERAGE:.0%} of the reference head (else the images do not overlap)"
)


@dataclass(frozen=True, eq=False)
class Alignment:
    """An earlier visit aligned to the reference grid.

    ``transform`` maps reference physical points (SimpleITK LPS mm) to the earlier scan's;
    ``aligned`` is the earlier FLAIR resampled onto the reference grid (linear);
    ``correlation`` and ``coverage`` are the quality figures of :data:`QUALITY_RULE`;
    ``rotation_deg`` and ``shift_mm`` describe the head's motion between the scans.
    """

    transform: sitk.Transform
    aligned: npt.NDArray[np.float32]
    correlation: float
    coverage: float
    rotation_deg: tuple[float, float, float]
    shift_mm: tuple[float, float, float]

    @property
    def good_enough(self) -> bool:
        return self.correlation >= MIN_CORRELATION


def load_checked_flair(visit: Visit) -> Volume:
    """Load a visit's FLAIR after checking its SHA-256 against the run's ``summary.json``.

    A FLAIR the run chose in a study, CD or archive (``inputs[flair].series_uid``) is found
    there again by its series UID.

    Raises
    ------
    InputFileError
        The FLAIR is missing (pass ``--image RUN=PATH``), its checksum differs from the one the
        run recorded, or the run recorded none.
    """
    path, run_dir = visit.flair_path, visit.run_dir
    if not path.exists():
        raise InputFileError(path, f"(the FLAIR of {run_dir}) does not exist; pass --image {run_dir}=PATH "
                             "if it moved")
    if visit.flair_sha256 is None:
        raise InputFileError(run_dir / "summary.json", "inputs[flair].sha256 is missing; rerun `b12brain run`")
    if visit.flair_series_uid is None:
        return _checked(path, path, visit.flair_sha256, run_dir)
    from b12brain.study import resolve_scans

    with resolve_scans(flair=path, flair_series=visit.flair_series_uid) as resolved:
        return _checked(resolved.flair, path, visit.flair_sha256, run_dir)


def _checked(read: Path, named: Path, sha256: str, run_dir: Path) -> Volume:
    from b12brain.io import load_volume
    from b12brain.io.manifest import file_sha256

    if file_sha256(read) != sha256:
        raise InputFileError(named, f"SHA-256 differs from the one {run_dir / 'summary.json'} recorded: this is "
                             "not the scan that run analysed; give that scan with --image RUN=PATH")
    return load_volume(read)


def align_to_reference(moving: Volume, reference: Volume) -> Alignment:
    """Rigidly align ``moving`` to ``reference`` and measure the result.

    Raises
    ------
    InputFileError
        (naming ``moving``) The scans do not overlap.
    RegistrationError
        The optimiser failed.
    """
    fixed = to_sitk(reference.data.astype(np.float32), reference.affine)
    moving_img = to_sitk(moving.data.astype(np.float32), moving.affine)
    head_mask = from_sitk(sitk.OtsuThreshold(fixed, 0, 1)).astype(bool)
    centred = sitk.CenteredTransformInitializer(fixed, moving_img, sitk.Euler3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.GEOMETRY)
    best: tuple[float, sitk.Transform, npt.NDArray[np.float32]] | None = None
    # From the images' centres first; when that ends poor, again from the scanner's coordinates.
    for start in (centred, sitk.Euler3DTransform()):
        transform = _register(fixed, moving_img, start, moving, reference)
        aligned = np.asarray(resample_to_reference(moving.data.astype(np.float32), moving, reference, transform,
                                                   nearest=False), dtype=np.float32)
        correlation = _correlation(aligned, reference.data, head_mask)
        if best is None or correlation > best[0]:
            best = (correlation, transform, aligned)
        if best[0] >= MIN_CORRELATION:
            break
    assert best is not None
    correlation, transform, aligned = best
    ones = np.ones(moving.shape, dtype=np.uint8)
    covered = np.asarray(resample_to_reference(ones, moving, reference, transform, nearest=True)) > 0
    coverage = np.count_nonzero(covered & head_mask) / max(int(np.count_nonzero(head_mask)), 1)
    if coverage < MIN_COVERAGE:
        raise InputFileError(moving.source, f"does not overlap the reference scan {reference.source} after alignment "
                             f"(covers {coverage:.0%} of its head, at least {MIN_COVERAGE:.0%} needed); give scans "
                             "of the same head with valid headers")
    euler = sitk.Euler3DTransform(sitk.CompositeTransform(transform).GetNthTransform(0))
    angles = tuple(float(np.degrees(a)) for a in (euler.GetAngleX(), euler.GetAngleY(), euler.GetAngleZ()))
    shift = tuple(float(v) for v in euler.GetTranslation())
    return Alignment(transform, aligned, correlation, coverage, (angles[0], angles[1], angles[2]), (shift[0], shift[1], shift[2]))


def _register(fixed: sitk.Image, moving_img: sitk.Image, start: sitk.Transform, moving: Volume,
              reference: Volume) -> sitk.Transform:
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    # Grids of 1 mm research scans: the finest level is half resolution (2 mm), which aligns
    # them to a fraction of a voxel at a third of the time.
    levels = 2 if np.prod(fixed.GetSize()) > _FULL_LEVEL_MAX_VOXELS else 3
    reg.SetMetricSamplingPercentagePerLevel([0.1, 0.05, 0.01] if levels == 3 else [0.1, 0.02], 20261207)
    reg.SetInterpolator(sitk.sitkLinear)
    # Small steps: on thick slices larger ones overshoot into a wrong optimum centimetres away.
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=0.3, minStep=1e-3, numberOfIterations=60)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1][:levels])
    reg.SetSmoothingSigmasPerLevel([2.0, 1.0, 0.0][:levels])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(start, inPlace=False)
    try:
        with single_threaded():
            return reg.Execute(fixed, moving_img)
    except RuntimeError as err:
        raise RegistrationError(
            f"{moving.source}: could not be aligned to {reference.source} "
            f"({str(err).strip().splitlines()[-1]}); check that both are scans of the same head"
        ) from err


def _correlation(aligned: npt.NDArray[np.floating], reference: npt.NDArray[np.floating],
                 head: npt.NDArray[np.bool_]) -> float:
    """Normalised correlation inside the head where the aligned scan has data."""
    inside = head & (aligned != 0)
    if np.count_nonzero(inside) < 2:
        return 0.0
    value = float(np.corrcoef(aligned[inside], reference[inside])[0, 1])
    return value if np.isfinite(value) else 0.0  # a constant image correlates with nothing


def resample_to_reference(
    data: npt.NDArray[np.generic], moving: Volume, reference: Volume, transform: sitk.Transform, *, nearest: bool
) -> npt.NDArray[np.generic]:
    """``data`` (on ``moving``'s grid) on ``reference``'s grid: nearest neighbour (labels) or linear."""
    image = to_sitk(data, moving.affine)
    grid = to_sitk(np.zeros(reference.shape, dtype=np.uint8), reference.affine)
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(image, grid, transform, interpolator, 0, image.GetPixelID())
    return from_sitk(out)
