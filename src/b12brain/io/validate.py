"""Checks every loaded volume passes before any processing: one place, one message style."""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt

from b12brain.errors import ConfigError, HeaderError, InputFileError

#: Smallest and largest number of voxels accepted along one axis.
MIN_DIM, MAX_DIM = 8, 1024
#: Default ceiling on the voxels of one volume: 512³ (134 M voxels, 512 MiB as float32). The
#: largest research scans stay below it (7 T whole brain at 0.5 mm: about 480×480×400 = 92 M);
#: a header claiming more (1024×1024×250 = 262 M) is refused before any voxel is read.
DEFAULT_MAX_VOXELS = 512**3
#: Environment variable that overrides :data:`DEFAULT_MAX_VOXELS` (a positive whole number).
MAX_VOXELS_ENV = "B12BRAIN_MAX_VOXELS"
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Accepted voxel size range in mm (clinical 2D FLAIR goes up to ~8 mm slices, plus gaps).
MIN_SPACING_MM, MAX_SPACING_MM = 0.1, 12.0
#: A scan must cover at least this extent (mm) along every axis to hold a brain region.
MIN_EXTENT_MM = 40.0


def max_voxels(override: int | None = None) -> int:
    """The voxel ceiling in force: ``override`` if given, else ``$B12BRAIN_MAX_VOXELS``, else 512³.

    Raises
    ------
    ConfigError
        The override or the environment variable is not a positive whole number.
    """
    text = str(override) if override is not None else os.environ.get(MAX_VOXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_VOXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        where = "max_voxels" if override is not None else MAX_VOXELS_ENV
        raise ConfigError(f"{where}={text!r} is not a positive whole number of voxels; use e.g. {DEFAULT_MAX_VOXELS}")
    return value


def check_shape(path: str, shape: tuple[int, ...], *, voxel_ceiling: int | None = None) -> tuple[int, int, int]:
    """Return the 3D shape, accepting a single-volume 4D image; raise for anything else.

    ``voxel_ceiling`` defaults to :func:`max_voxels` (512³ unless overridden).
    """
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
    ceiling = max_voxels(voxel_ceiling)
    count = int(np.prod(shape, dtype=np.int64))
    if max(shape) > MAX_DIM or count > ceiling:
        raise HeaderError(
            path,
            f"dimensions {shape} are too large ({count:,} voxels); at most {MAX_DIM} voxels per axis and "
            f"{ceiling:,} in all (a real scan beyond this needs {MAX_VOXELS_ENV} raised)",
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


def to_float32(
    path: str, data: npt.NDArray[np.generic], *, slope: float = 1.0, inter: float = 0.0
) -> npt.NDArray[np.float32]:
    """Stored voxel values times ``slope`` plus ``inter``, as float32, refusing overflow.

    Works one slice (last axis) at a time in float64, so memory stays the result plus a slice.

    Raises
    ------
    InputFileError
        A finite value (after scaling) is beyond the float32 range: it would turn into Inf.
    """
    scaled = (slope, inter) != (1.0, 0.0)
    if not scaled and (data.dtype.itemsize <= 2 or data.dtype == np.float32):
        return np.asarray(data, dtype=np.float32)  # exact: cannot overflow
    out = np.empty(data.shape, dtype=np.float32)
    for k in range(data.shape[-1]):
        values = np.asarray(data[..., k], dtype=np.float64)
        if scaled:
            values = values * slope + inter
        finite = values[np.isfinite(values)]
        peak = float(np.abs(finite).max()) if finite.size else 0.0
        if peak > _FLOAT32_MAX:
            how = f" after scaling (scl_slope {slope:g}, scl_inter {inter:g})" if scaled else ""
            raise InputFileError(
                path,
                f"has voxel values up to {peak:.3g}{how}, beyond the float32 range (±3.4e+38) b12brain "
                "computes in; rescale the image or fix scl_slope/scl_inter",
            )
        out[..., k] = values
    return out


def _fmt(values: npt.ArrayLike) -> str:
    return "×".join(f"{v:.3g}" for v in np.asarray(values, dtype=float))
