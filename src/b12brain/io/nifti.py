"""NIfTI-1/2 reading (bounded: header first, then exactly the bytes it describes) and atomic writing."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.typing as npt

from b12brain.errors import InputFileError
from b12brain.io.atomic import atomic_path
from b12brain.io.bounded import is_gzip_path, read_span
from b12brain.io.nifti_header import QUATERN_FIELDS, NiftiLayout, check_header, read_nifti_header
from b12brain.io.validate import check_affine, check_values, to_float32
from b12brain.types import Affine, NiftiGeometry, Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path: Path) -> bool:
    """True when the name ends in ``.nii`` or ``.nii.gz``."""
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def load_nifti(path: Path, *, allow_constant: bool = False, max_voxels: int | None = None) -> Volume:
    """Read and validate a 3D NIfTI image (a single-volume 4D image is accepted).

    The header is read and checked first (:mod:`b12brain.io.nifti_header`); then exactly the
    bytes it describes are read, so memory is bounded by the volume's size, whatever the file
    holds. ``max_voxels`` overrides the voxel ceiling (:func:`b12brain.io.validate.max_voxels`).

    Raises
    ------
    InputFileError
        Unreadable, truncated, not NIfTI, 4D, complex, NaN/Inf, float32 overflow, empty or
        constant; a gzip stream unpacking to more than the header describes.
    HeaderError
        Dimensions over the ceiling, unknown data type, bad data offset, voxel sizes, units,
        scaling or orientation (see ``docs/input-checks.md``).
    """
    name = str(path)
    checked = check_header(path, read_nifti_header(path), voxel_ceiling=max_voxels)
    layout = checked.layout
    check_affine(name, checked.affine, layout.shape)
    if not is_gzip_path(path) and (size := path.stat().st_size) < layout.offset + layout.nbytes:
        raise InputFileError(name, _truncated(layout, f"the file holds {size:,}"))
    raw = read_span(path, layout.offset, layout.nbytes)
    if len(raw) < layout.nbytes:
        raise InputFileError(name, _truncated(layout, f"the file {'unpacks to' if is_gzip_path(path) else 'holds'} {layout.offset + len(raw):,}"))
    stored = np.frombuffer(raw, dtype=layout.dtype).reshape(layout.shape, order="F")
    data = to_float32(name, stored, slope=layout.slope, inter=layout.inter)
    del raw, stored
    check_values(name, data, allow_constant=allow_constant)
    return Volume(data, checked.affine, name, checked.warnings, checked.geometry)


def save_nifti(
    data: npt.NDArray[np.generic],
    affine: Affine,
    path: Path | str,
    *,
    dtype: npt.DTypeLike = np.float32,
    geometry: NiftiGeometry | None = None,
) -> Path:
    """Write ``data`` on ``affine`` to ``path`` atomically (temporary file, then rename).

    Without ``geometry``, both sform and qform are set from ``affine`` (code 1, scanner) so that
    every reader sees the same grid. With the ``geometry`` of the input file the volume came
    from (:attr:`Volume.nifti_geometry`), its sform, qform, their codes, quaternion, qfac, voxel
    sizes and units are written unchanged instead, so the output overlays the input in every
    viewer, whichever matrix it reads.
    """
    path = Path(path)
    array = np.asarray(data, dtype=dtype)
    if geometry is None:
        img = nib.Nifti1Image(array, np.asarray(affine, dtype=np.float64))
        img.set_sform(img.affine, code=1)
        img.set_qform(img.affine, code=1)
        img.header.set_xyzt_units("mm", "sec")
    else:
        img = nib.Nifti1Image(array, None, _geometry_header(geometry))
    with atomic_path(path, suffix=".nii.gz" if path.name.endswith(".gz") else ".nii") as tmp:
        nib.save(img, tmp)
    return path


def _geometry_header(geometry: NiftiGeometry) -> nib.Nifti1Header:
    header = nib.Nifti1Header()
    for row, key in enumerate(("srow_x", "srow_y", "srow_z")):
        header[key] = geometry.sform[row]
    header["sform_code"] = geometry.sform_code
    header["qform_code"] = geometry.qform_code
    for key, value in zip(QUATERN_FIELDS, geometry.quatern, strict=True):
        header[key] = value
    header["pixdim"][:4] = geometry.pixdim
    header["xyzt_units"] = geometry.xyzt_units
    return header


def _truncated(layout: NiftiLayout, holds: str) -> str:
    return (
        f"is truncated or corrupt: its header describes {layout.dtype.name} voxels {'×'.join(map(str, layout.dims))} "
        f"from byte {layout.offset} ({layout.offset + layout.nbytes:,} bytes in all), {holds}; "
        "copy or export the file again"
    )
