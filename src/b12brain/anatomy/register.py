"""Affine registration of the MNI152 atlas to a subject scan (SimpleITK, Mattes MI).

Why affine and not deformable: it is robust on thick-slice clinical FLAIR (few slices, large
gaps) and costs seconds on 2 cores; the places where an affine fit is not enough (ventricle
size, brain outline) are refined from the scan's own intensities in ``localise.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage as ndi

from b12brain.errors import RegistrationError
from b12brain.preprocess.sitk_bridge import single_threaded, to_sitk
from b12brain.types import Affine, BoolArray, Volume

#: Voxel size (mm) of the grid the registration metric is evaluated on.
REGISTRATION_MM = 2.5
_SEED = 20240611


@dataclass(frozen=True, eq=False)
class AtlasAlignment:
    """Maps subject world points to atlas world points (SimpleITK's fixed→moving convention).

    Parameters
    ----------
    transform : sitk.Transform
        The final affine transform (subject LPS mm -> atlas LPS mm).
    metric : float
        Final Mattes mutual information of the fit (negative; 0 means the images share no
        information, more negative is a closer fit).
    brain_in_head : float
        Fraction of the aligned atlas brain (within the scan's field of view) that lies inside
        the scan's head mask: about 1 when the brain was placed in the head.
    """

    transform: sitk.Transform
    metric: float
    brain_in_head: float

    @property
    def scales(self) -> tuple[float, float, float]:
        """Size of the subject relative to the atlas along the fit's principal axes (the
        singular values of the subject-from-atlas matrix), smallest first."""
        matrix = np.asarray(sitk.AffineTransform(self.transform).GetMatrix(), dtype=float).reshape(3, 3)
        inverse = np.sort(1.0 / np.linalg.svd(matrix, compute_uv=False))
        return (float(inverse[0]), float(inverse[1]), float(inverse[2]))

    def warp(
        self,
        atlas_map: npt.NDArray[np.generic],
        atlas_affine: Affine,
        shape: tuple[int, int, int],
        affine: Affine,
        *,
        nearest: bool = False,
    ) -> npt.NDArray[np.float32]:
        """Resample an atlas map onto a subject grid (linear, or nearest for labels), as float32.

        Other maps are interpolated as float32; a mask goes to SimpleITK as uint8 instead (a
        quarter of the memory and copying, and the same values out: ITK interpolates in double
        precision whatever the input type).
        """
        moving_map = atlas_map.astype(np.uint8) if atlas_map.dtype == bool else atlas_map.astype(np.float32, copy=False)
        moving = to_sitk(moving_map, atlas_affine)
        reference = to_sitk(np.zeros(shape, np.uint8), affine)
        interp = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
        out = sitk.Resample(moving, reference, self.transform, interp, 0.0, sitk.sitkFloat32)
        return np.ascontiguousarray(sitk.GetArrayFromImage(out).transpose(2, 1, 0))


@dataclass(frozen=True, eq=False)
class MovingAtlas:
    """What the registration takes from the atlas alone (:func:`moving_atlas`), so that it is
    made once per atlas rather than once per scan.

    Parameters
    ----------
    image : sitk.Image
        The atlas image smoothed and shrunk to 2 mm.
    brain : sitk.Image
        The atlas brain mask shrunk to 2 mm.
    centre : (3,) ndarray of float64
        Centroid of the atlas brain, LPS mm.
    top_to_centre_mm : float
        Height of the atlas brain's top above its mean height, plus 8 mm of scalp and skull.
    """

    image: sitk.Image
    brain: sitk.Image
    centre: npt.NDArray[np.float64]
    top_to_centre_mm: float


def moving_atlas(atlas_image: npt.NDArray[np.float32], atlas_brain: BoolArray, atlas_affine: Affine) -> MovingAtlas:
    """Prepare an atlas for :func:`align_atlas`.

    Parameters
    ----------
    atlas_image, atlas_brain : ndarray
        Atlas intensity image with the subject's contrast and its brain mask.
    atlas_affine : (4, 4) ndarray
        Atlas voxel-to-world affine.
    """
    atlas_ijk = np.argwhere(atlas_brain)
    atlas_z = (atlas_ijk @ atlas_affine[:3, :3].T + atlas_affine[:3, 3])[:, 2]
    return MovingAtlas(
        image=_smoothed(atlas_image, atlas_affine),
        brain=sitk.Shrink(to_sitk(atlas_brain.astype(np.uint8), atlas_affine), [2, 2, 2]),
        centre=_lps(_mask_centroid(atlas_brain, atlas_affine)),
        top_to_centre_mm=float(atlas_z.max() - atlas_z.mean()) + 8.0,
    )


def align_atlas(subject: Volume, head: BoolArray, atlas: MovingAtlas) -> AtlasAlignment:
    """Find the affine transform that aligns an atlas image with ``subject``.

    Two stages: a similarity transform (rotation, translation, one scale) from a centre-of-brain
    start over the whole head, then a 12-parameter affine restricted to the brain found by the
    first stage (so that scalp and neck do not pull the fit).

    Parameters
    ----------
    subject : Volume
        Bias-corrected scan (any orientation; world coordinates are used throughout).
    head : (X, Y, Z) ndarray of bool
        Foreground of ``subject``.
    atlas : MovingAtlas
        The atlas image with the subject's contrast, prepared by :func:`moving_atlas`.

    Raises
    ------
    RegistrationError
        The optimiser failed or ended with the atlas brain mostly outside the scan.
    """
    try:
        fixed = _registration_grid(subject, head)
    except RuntimeError as err:  # SimpleITK cannot smooth a grid under 4 voxels along an axis
        raise RegistrationError(
            f"{subject.source}: too few voxels along an axis ({subject.shape}) to place a brain atlas; "
            "give a scan covering the brain"
        ) from err
    moving, moving_mask = atlas.image, atlas.brain
    centre = _subject_brain_centre(subject, head, atlas.top_to_centre_mm)
    atlas_centre = atlas.centre
    # Two hypotheses for how the head sits: square to the scanner (world axes), or square to
    # an oblique slice stack (voxel axes, as when slices are planned on the AC-PC line).
    # Both are tried when they differ; the better metric wins.
    candidates = [np.eye(3)]
    voxel_axes = _voxel_axes_rotation(subject.affine)
    if np.degrees(np.arccos(np.clip((np.trace(voxel_axes) - 1) / 2, -1, 1))) > 2.0:
        candidates.append(voxel_axes)
    similarity = None
    for rotation in candidates:
        start = sitk.Similarity3DTransform()
        start.SetCenter(centre.tolist())
        start.SetMatrix(rotation.ravel().tolist())
        start.SetTranslation((atlas_centre - centre).tolist())
        trial = _run(fixed, moving, start, fixed_mask=None, moving_mask=moving_mask, levels=(4.0, 2.0))
        if similarity is None or trial[1] < similarity[1]:
            similarity = trial
    assert similarity is not None
    # The brain found by the first stage, grown by ~8 mm, restricts the second stage.
    brain_guess = sitk.Resample(moving_mask, fixed, similarity[0], sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    brain_ml = float(sitk.GetArrayViewFromImage(brain_guess).sum()) * REGISTRATION_MM**3 / 1000
    if brain_ml < 300:
        raise RegistrationError(
            f"{subject.source}: could not place a brain atlas in this scan (found {brain_ml:.0f} mL of brain); "
            "is it a head MRI covering the brain?"
        )
    fixed_mask = sitk.BinaryDilate(brain_guess, [int(round(8.0 / REGISTRATION_MM))] * 3)

    found = sitk.Similarity3DTransform(similarity[0])
    affine_tx = sitk.AffineTransform(3)
    affine_tx.SetCenter(found.GetCenter())
    affine_tx.SetMatrix(found.GetMatrix())
    affine_tx.SetTranslation(found.GetTranslation())
    transform, value = _run(fixed, moving, affine_tx, fixed_mask=fixed_mask, moving_mask=None, levels=(2.0, 1.0))
    return AtlasAlignment(transform, value, _brain_in_head(subject, head, fixed, moving_mask, transform))


def _brain_in_head(
    subject: Volume, head: BoolArray, fixed: sitk.Image, atlas_brain: sitk.Image, transform: sitk.Transform
) -> float:
    """Fraction of the aligned atlas brain, on the registration grid, inside the head."""
    # Copies, not views: a view of the temporary image Resample returns would outlive the image
    # (freed as soon as the call returns) and read freed memory, which a worker that hands freed
    # memory back to the system at once (Dask sets MALLOC_TRIM_THRESHOLD_) sees as garbage.
    brain = sitk.GetArrayFromImage(
        sitk.Resample(atlas_brain, fixed, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    ).astype(bool)
    head_img = to_sitk(head.astype(np.uint8), subject.affine)
    inside = sitk.GetArrayFromImage(
        sitk.Resample(head_img, fixed, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    ).astype(bool)
    total = int(brain.sum())
    return float((brain & inside).sum()) / total if total else 0.0


def _run(
    fixed: sitk.Image,
    moving: sitk.Image,
    initial: sitk.Transform,
    *,
    fixed_mask: sitk.Image | None,
    moving_mask: sitk.Image | None,
    levels: tuple[float, ...],
) -> tuple[sitk.Transform, float]:
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.1, _SEED)
    if fixed_mask is not None:
        reg.SetMetricFixedMask(fixed_mask)
    if moving_mask is not None:
        reg.SetMetricMovingMask(moving_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=80, relaxationFactor=0.6, gradientMagnitudeTolerance=1e-6
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([int(f) for f in levels])
    reg.SetSmoothingSigmasPerLevel([float(f) - 1.0 for f in levels])
    reg.SetInitialTransform(initial, inPlace=False)
    try:
        with single_threaded():
            out = reg.Execute(fixed, moving)
    except RuntimeError as err:
        raise RegistrationError(f"atlas registration failed: {str(err).strip().splitlines()[-1]}") from err
    transform = out.GetNthTransform(0) if isinstance(out, sitk.CompositeTransform) else out
    return transform, float(reg.GetMetricValue())


def _registration_grid(subject: Volume, head: BoolArray) -> sitk.Image:
    """The subject on an isotropic REGISTRATION_MM grid (smoothed first), background zeroed."""
    data = np.where(head, subject.data, 0).astype(np.float32)
    scale = float(np.percentile(data[head], 99)) or 1.0
    image = to_sitk(np.clip(data / scale, 0, 1.5), subject.affine)
    sigma = [max(0.0, (REGISTRATION_MM - s) / 2.355) for s in subject.spacing_mm]
    if any(s > 0 for s in sigma):
        image = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-3) for s in sigma])
    size = np.asarray(image.GetSize()) * np.asarray(image.GetSpacing())
    new_size = [max(8, int(np.ceil(s / REGISTRATION_MM))) for s in size]
    return sitk.Resample(
        image, new_size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(), [REGISTRATION_MM] * 3,
        image.GetDirection(), 0.0, sitk.sitkFloat32,
    )


def _smoothed(atlas_image: npt.NDArray[np.float32], affine: Affine) -> sitk.Image:
    """The atlas image smoothed and shrunk to 2 mm: the metric needs no finer detail."""
    img = to_sitk(atlas_image.astype(np.float32), affine)
    return sitk.Shrink(sitk.SmoothingRecursiveGaussian(img, [1.0, 1.0, 1.0]), [2, 2, 2])


def _mask_centroid(mask: BoolArray, affine: Affine) -> npt.NDArray[np.float64]:
    ijk = np.array(ndi.center_of_mass(mask))
    return affine[:3, :3] @ ijk + affine[:3, 3]


def _subject_brain_centre(subject: Volume, head: BoolArray, top_to_centre: float) -> npt.NDArray[np.float64]:
    """Estimate where the brain's centre is, in LPS mm.

    The head's centroid is biased downwards when the neck is in the field of view, so when the
    head reaches above the brain's expected height, the centre is placed at the atlas's
    top-to-centre distance (:attr:`MovingAtlas.top_to_centre_mm`) below the top of the head.
    """
    ijk = np.argwhere(head)
    world = ijk @ subject.affine[:3, :3].T + subject.affine[:3, 3]
    centre = world.mean(axis=0)
    top = float(world[:, 2].max())
    extent = top - float(world[:, 2].min())
    if extent > 1.6 * top_to_centre:
        centre[2] = top - top_to_centre
        near = np.abs(world[:, 2] - centre[2]) < 30
        if near.any():
            centre[:2] = world[near, :2].mean(axis=0)
    return _lps(centre)


def _voxel_axes_rotation(affine: Affine) -> npt.NDArray[np.float64]:
    """Rotation (LPS, subject -> atlas) that squares the head to the scan's voxel axes."""
    u, _, vt = np.linalg.svd(affine[:3, :3])
    rotation_ras = (u @ vt).T
    flip = np.diag([-1.0, -1.0, 1.0])
    return flip @ rotation_ras @ flip


def _lps(ras: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(ras, dtype=float) * np.array([-1.0, -1.0, 1.0])
