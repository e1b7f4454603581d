"""Checks every loaded volume passes before any processing: one place, one message style."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from b12brain.errors import HeaderError, InputFileError

#: Smallest and largest number of voxels accepted along one axis.
MIN_DIM, MAX_DIM = 8, 1024
#: Largest total number of voxels (a 640³ volume; 1 GiB as float32).
MAX_VOXELS = 640**3
#: Accepted voxel size range in mm (clinical 2D FLAIR goes up to ~8 mm slices, plus gaps).
MIN_SPACING_MM, MAX_SPACING_MM = 0.1, 12.0
#: A scan must cover at least this extent (mm) along every axis to hold a brain region.
MIN_EXTENT_MM = 40.0


def check_shape(path: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Return the 3D shape, accepting a single-volume 4D image; raise for anything else."""
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) == 4:
        raise InputFileError(
            path, f"is 4D with {shape[3]} volumes (shape {shape}); give one 3D FLAIR/T1 volume"
        )
    if len(shape) != 3:
        raise InputFileError(path, f"has {len(shape)} dimensions (shape {shape}); expected a 3D volume")
    if min(shape) < MIN_DIM:
        raise HeaderError(path, f"dimensions {shape} are too small; every axis needs at least {MIN_DIM} voxels")
    if max(shape) > MAX_DIM or int(np.prod(shape)) > MAX_VOXELS:
        raise HeaderError(
            path, f"dimensions {shape} are too large; at most {MAX_DIM} voxels per axis and {MAX_VOXELS} in all"
        )
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def check_affine(path: str, affine: npt.NDArray[np.float64], shape: tuple[int, int, int]) -> None:
    """Raise :class:`HeaderError` for a non-finite, singular or absurd voxel-to-world affine."""
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise HeaderError(path, "affine has non-finite values; header is corrupt, re-export the image")
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    if np.any(spacing < 1e-6) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise HeaderError(
            path, f"affine is singular (voxel sizes {_fmt(spacing)} mm); header is corrupt, re-export from DICOM"
        )
    if np.any(spacing < MIN_SPACING_MM) or np.any(spacing > MAX_SPACING_MM):
        raise HeaderError(
            path,
            f"voxel sizes {_fmt(spacing)} mm are outside {MIN_SPACING_MM}-{MAX_SPACING_MM} mm; "
            "check the header's pixdim/spacing",
        )
    # A strongly sheared grid (axes far from orthogonal) is not a scanner geometry.
    unit = affine[:3, :3] / spacing
    if abs(np.linalg.det(unit)) < 0.5:
        raise HeaderError(path, "affine is strongly sheared (voxel axes far from orthogonal); re-export the image")
    extent = spacing * np.asarray(shape)
    if np.any(extent < MIN_EXTENT_MM):
        raise HeaderError(
            path, f"field of view {_fmt(extent)} mm is too small for a brain scan; need at least {MIN_EXTENT_MM:g} mm per axis"
        )


def check_values(path: str, data: npt.NDArray[np.generic], *, allow_constant: bool = False) -> None:
    """Raise :class:`InputFileError` for NaN/Inf voxels, or an empty or constant image unless
    ``allow_constant`` (an empty lesion mask is a valid answer; an empty scan is not)."""
    finite = np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        raise InputFileError(path, f"has {bad} NaN or Inf voxels; fix or re-export the image")
    if allow_constant:
        return
    lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        what = "empty (all zero)" if hi == 0 else f"constant (every voxel is {hi:g})"
        raise InputFileError(path, f"image is {what}; expected a brain MRI")


def _fmt(values: npt.ArrayLike) -> str:
    return "×".join(f"{v:.3g}" for v in np.asarray(values, dtype=float))
