"""NIfTI-1/2 reading and atomic writing, via nibabel."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt

from b12brain.errors import HeaderError, InputFileError
from b12brain.io.atomic import atomic_path
from b12brain.io.validate import check_affine, check_shape, check_values
from b12brain.types import Affine, Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path: Path) -> bool:
    """True when the name ends in ``.nii`` or ``.nii.gz``."""
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def load_nifti(path: Path, *, allow_constant: bool = False) -> Volume:
    """Read and validate a 3D NIfTI image (a single-volume 4D image is accepted).

    Raises
    ------
    InputFileError
        Unreadable, truncated, corrupt, not an image, 4D, NaN/Inf, empty or constant.
    HeaderError
        Singular affine, zero/negative/absurd voxel sizes, tiny or enormous dimensions.
    """
    name = str(path)
    try:
        with _nibabel_quiet():
            img = nib.load(name)
        if isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
            stored_header = _stored_header(name, type(img.header))
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, zlib.error, ValueError) as err:
        raise InputFileError(name, f"cannot be read as NIfTI ({_reason(err)}); expected a .nii or .nii.gz image") from err
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise InputFileError(name, f"is a {type(img).__name__}, not NIfTI; convert it to .nii.gz")
    shape = check_shape(name, tuple(int(s) for s in img.shape))
    _check_pixdim(name, stored_header)
    affine = np.asarray(img.affine, dtype=np.float64)
    check_affine(name, affine, shape)
    try:
        data = np.asanyarray(img.dataobj)
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise InputFileError(name, f"is truncated or corrupt ({_reason(err)}); re-export or copy the file again") from err
    if data.dtype.kind not in "biuf":
        raise InputFileError(name, f"has voxel type {data.dtype}; expected a scalar (integer or float) image")
    data = np.asarray(data, dtype=np.float32).reshape(shape)
    check_values(name, data, allow_constant=allow_constant)
    return Volume(data, affine, name)


def save_nifti(
    data: npt.NDArray[np.generic],
    affine: Affine,
    path: Path | str,
    *,
    dtype: npt.DTypeLike = np.float32,
) -> Path:
    """Write ``data`` on ``affine`` to ``path`` atomically (temporary file, then rename).

    Both sform and qform are set (code 1, scanner) so that every reader sees the same grid.
    """
    path = Path(path)
    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), np.asarray(affine, dtype=np.float64))
    img.set_sform(img.affine, code=1)
    img.set_qform(img.affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    with atomic_path(path, suffix=".nii.gz" if path.name.endswith(".gz") else ".nii") as tmp:
        nib.save(img, tmp)
    return path


@contextmanager
def _nibabel_quiet() -> Iterator[None]:
    # nibabel logs header fixes ("setting 0 dims to 1") straight to stderr; we report the
    # problem ourselves, as one error, so keep its global logger quiet while loading.
    logger = nib.imageglobals.logger
    before, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = before


def _stored_header(name: str, header_class: type[nib.Nifti1Header]) -> nib.Nifti1Header:
    """The header as stored in the file.

    ``nib.load`` silently "fixes" a zero pixdim to 1 and a negative one to its absolute
    value; re-read the raw header (no checks, no fixes) so that such files are refused.
    """
    with nib.openers.ImageOpener(name) as fileobj:
        return header_class.from_fileobj(fileobj, check=False)


def _check_pixdim(name: str, header: nib.Nifti1Header) -> None:
    pixdim = np.asarray(header["pixdim"][1:4], dtype=float)
    for axis, value in enumerate(pixdim, start=1):
        if not np.isfinite(value) or value <= 0:
            raise HeaderError(name, f"pixdim[{axis}] is {value:g}; voxel sizes must be positive, re-export the image")


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]
