"""NIfTI-1/2 headers read as stored and checked before any voxel is read.

Every header field that decides where the data lie, how much of it there is, how it maps to the
world and in which units is checked here. A field that cannot be trusted is refused
(:class:`~b12brain.errors.HeaderError`, exit code 2); one b12brain can work around is reported
as a :class:`~b12brain.types.QCWarning`. The table of cases is in ``docs/input-checks.md``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from b12brain.errors import HeaderError, InputFileError
from b12brain.io.bounded import read_head
from b12brain.io.validate import check_shape
from b12brain.types import Affine, NiftiGeometry, QCWarning

#: Header sizes (``sizeof_hdr``) and the smallest data offset of a single-file image.
_NIFTI1_BYTES, _NIFTI2_BYTES = 348, 540
_MIN_OFFSET = {_NIFTI1_BYTES: 352, _NIFTI2_BYTES: 544}
#: Largest accepted ``vox_offset`` (header extensions): bounds the bytes unpacked before the data.
MAX_VOX_OFFSET = 64 << 20
#: NIfTI datatype codes b12brain reads: the real-valued scalar types.
_SCALAR_CODES = frozenset({2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280})
_UNSUPPORTED_CODES = {
    1: "binary (1 bit per voxel)",
    32: "complex64",
    128: "RGB",
    1536: "float128",
    1792: "complex128",
    2048: "complex256",
    2304: "RGBA",
}
#: ``xyzt_units`` spatial codes: millimetres per unit (0, unknown, is taken as mm, as every
#: neuroimaging tool does; 1 metre, 2 mm, 3 micron).
_MM_PER_UNIT = {0: 1.0, 1: 1000.0, 2: 1.0, 3: 0.001}
_UNIT_NAMES = {1: "metres", 3: "microns"}
#: sform and qform "agree" when no corner of the grid moves by more than this fraction of the
#: smallest voxel size between them (a rule of b12brain's own: a tenth of a voxel changes no
#: measurement, and covers the float32 rounding of the quaternion).
XFORM_TOLERANCE_VOXELS = 0.1
#: The qform's stored parameters: rotation (quaternion b, c, d) and offset.
QUATERN_FIELDS = ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z")
_XFORM_NAMES = {0: "unknown", 1: "scanner", 2: "aligned", 3: "Talairach", 4: "MNI", 5: "template"}


@dataclass(frozen=True)
class NiftiLayout:
    """Where and how the voxel values are stored, as the checked header says."""

    dims: tuple[int, ...]  # every dimension, as stored (a single-volume 4D keeps its 1)
    shape: tuple[int, int, int]
    dtype: np.dtype[Any]
    offset: int
    slope: float
    inter: float

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.dims, dtype=np.int64)) * self.dtype.itemsize


@dataclass(frozen=True)
class CheckedHeader:
    """A header that passed every check: data layout, RAS+ affine in mm, geometry, warnings."""

    layout: NiftiLayout
    affine: Affine
    geometry: NiftiGeometry
    warnings: tuple[QCWarning, ...]


def read_nifti_header(path: Path) -> nib.Nifti1Header:
    """The NIfTI-1 or NIfTI-2 header exactly as stored (nibabel's "fixes" not applied).

    Raises
    ------
    InputFileError
        Not a single-file NIfTI (too short, no header, a ``.hdr``/``.img`` pair header).
    """
    head = read_head(path, _NIFTI2_BYTES)
    size = {int.from_bytes(head[:4], order) for order in ("little", "big")} if len(head) >= 4 else set()
    kind = _NIFTI1_BYTES if _NIFTI1_BYTES in size else _NIFTI2_BYTES if _NIFTI2_BYTES in size else 0
    if not kind or len(head) < kind:
        raise InputFileError(
            path, f"cannot be read as NIfTI (no NIfTI header in its first {len(head)} bytes); expected a .nii or .nii.gz image"
        )
    header_class = nib.Nifti1Header if kind == _NIFTI1_BYTES else nib.Nifti2Header
    header = header_class.from_fileobj(io.BytesIO(head[:kind]), check=False)
    magic = bytes(header["magic"].item())
    if magic in (b"ni1", b"ni2"):
        raise InputFileError(path, "holds the header of a NIfTI pair (.hdr/.img); convert it to a single .nii.gz")
    if magic not in (b"n+1", b"n+2"):
        raise InputFileError(path, f"cannot be read as NIfTI (magic {magic!r}); expected a .nii or .nii.gz image")
    return header


def check_header(
    path: Path, header: nib.Nifti1Header, *, voxel_ceiling: int | None = None
) -> CheckedHeader:
    """Check a header read by :func:`read_nifti_header`; nothing of the data is read.

    Raises
    ------
    HeaderError
        Dimensions, data type, data offset, voxel sizes, units, scaling or orientation that
        cannot be trusted (see ``docs/input-checks.md``).
    InputFileError
        A 4D (several volumes), 2D, complex or colour image.
    """
    name = str(path)
    dims = _dims(name, header)
    shape = check_shape(name, dims, voxel_ceiling=voxel_ceiling)
    dtype = _dtype(name, header)
    offset = _offset(name, header)
    slope, inter = _scaling(name, header)
    _check_pixdim(name, header)
    mm_per_unit, warnings = _units(name, header)
    affine, xform_warnings = _affine(name, header, shape, mm_per_unit)
    b, c, d, x, y, z = (float(header[k]) for k in QUATERN_FIELDS)
    qfac, *zooms = (float(v) for v in header["pixdim"][:4])
    geometry = NiftiGeometry(
        sform=_stored_sform(header),
        sform_code=int(header["sform_code"]),
        qform_code=int(header["qform_code"]),
        quatern=(b, c, d, x, y, z),
        pixdim=(qfac, zooms[0], zooms[1], zooms[2]),
        xyzt_units=int(header["xyzt_units"]),
    )
    layout = NiftiLayout(dims, shape, dtype, offset, slope, inter)
    return CheckedHeader(layout, affine, geometry, warnings + xform_warnings)


def _dims(name: str, header: nib.Nifti1Header) -> tuple[int, ...]:
    dim = [int(v) for v in header["dim"]]
    if not 1 <= dim[0] <= 7 or any(d < 1 for d in dim[1 : dim[0] + 1]):
        raise HeaderError(name, f"dim field {dim} is invalid (dim[0] must be 1-7, every size at least 1); the header is corrupt, export the image again")
    return tuple(dim[1 : dim[0] + 1])


def _dtype(name: str, header: nib.Nifti1Header) -> np.dtype[Any]:
    code = int(header["datatype"])
    if code in _UNSUPPORTED_CODES:
        raise InputFileError(
            name, f"has voxel type {_UNSUPPORTED_CODES[code]} (datatype {code}); expected a scalar (integer or float) image"
        )
    if code not in _SCALAR_CODES:
        raise HeaderError(name, f"datatype {code} is not a NIfTI data type; the header is corrupt, export the image again")
    return np.dtype(header.get_data_dtype())


def _offset(name: str, header: nib.Nifti1Header) -> int:
    value = float(header["vox_offset"])
    least = _MIN_OFFSET[int(header.sizeof_hdr)]
    if not np.isfinite(value) or value != int(value) or value < least or value > MAX_VOX_OFFSET:
        raise HeaderError(
            name,
            f"vox_offset is {value:g}; in a single-file NIfTI the voxel data start at byte {least} or later "
            f"(at most {MAX_VOX_OFFSET:,}), so where they start is unknown; fix the header or export the image again",
        )
    return int(value)


def _scaling(name: str, header: nib.Nifti1Header) -> tuple[float, float]:
    slope, inter = float(header["scl_slope"]), float(header["scl_inter"])
    if slope == 0 or np.isnan(slope):
        return 1.0, 0.0  # the NIfTI standard: no scaling
    if not (np.isfinite(slope) and np.isfinite(inter)):
        raise HeaderError(name, f"scl_slope {slope:g} / scl_inter {inter:g} are not finite; fix the header's scaling")
    return slope, inter


def _check_pixdim(name: str, header: nib.Nifti1Header) -> None:
    pixdim = np.asarray(header["pixdim"][1:4], dtype=float)
    for axis, value in enumerate(pixdim, start=1):
        if not np.isfinite(value) or value <= 0:
            raise HeaderError(name, f"pixdim[{axis}] is {value:g}; voxel sizes must be positive, re-export the image")


def _units(name: str, header: nib.Nifti1Header) -> tuple[float, tuple[QCWarning, ...]]:
    code = int(header["xyzt_units"]) & 0x07
    if code not in _MM_PER_UNIT:
        raise HeaderError(name, f"xyzt_units gives spatial unit code {code}, not a NIfTI unit; set it to mm (2)")
    if code in _UNIT_NAMES:
        return _MM_PER_UNIT[code], (
            QCWarning(
                "header.units_converted",
                name,
                f"voxel sizes and positions are in {_UNIT_NAMES[code]} (xyzt_units); converted to mm",
            ),
        )
    return 1.0, ()


def _affine(
    name: str, header: nib.Nifti1Header, shape: tuple[int, int, int], mm_per_unit: float
) -> tuple[Affine, tuple[QCWarning, ...]]:
    """The voxel-to-world affine (mm) nibabel would use (sform if coded, else qform), and warnings."""
    scode, qcode = int(header["sform_code"]), int(header["qform_code"])
    for field, code in (("sform_code", scode), ("qform_code", qcode)):
        if code not in _XFORM_NAMES:
            raise HeaderError(name, f"{field} is {code}, not a NIfTI code (0-5); the header is corrupt, export the image again")
    if scode == 0 and qcode == 0:
        raise HeaderError(
            name,
            "qform_code and sform_code are both 0: the orientation is unknown and left and right cannot be "
            "trusted; set the sform or qform (convert the DICOM again, e.g. with dcm2niix)",
        )
    sform = _stored_sform(header)
    if scode and not np.all(np.isfinite(sform)):
        raise HeaderError(name, "sform has non-finite values; the header is corrupt, re-export the image")
    qform = _qform(name, header) if qcode else None
    to_mm = np.diag([mm_per_unit, mm_per_unit, mm_per_unit, 1.0])
    if not scode:
        assert qform is not None
        return to_mm @ qform, ()
    sform = to_mm @ sform
    if qform is None:
        return sform, ()
    qform = to_mm @ qform
    gap = _largest_corner_gap(sform, qform, shape)
    voxel = mm_per_unit * float(np.min(np.asarray(header["pixdim"][1:4], dtype=float)))
    if gap <= XFORM_TOLERANCE_VOXELS * voxel:
        return sform, ()
    return sform, (
        QCWarning(
            "header.qform_sform_disagree",
            name,
            f"sform ({_XFORM_NAMES[scode]}) and qform ({_XFORM_NAMES[qcode]}) place the image up to {gap:.2f} mm "
            f"apart (more than {XFORM_TOLERANCE_VOXELS:g} voxel); b12brain uses the sform, as nibabel and FSL do, "
            "and keeps both unchanged in its outputs",
        ),
    )


def _qform(name: str, header: nib.Nifti1Header) -> Affine:
    fixed = header.copy()
    # The standard takes any qfac (pixdim[0]) other than -1 as 1; nibabel accepts only ±1.
    fixed["pixdim"][0] = -1.0 if float(header["pixdim"][0]) < 0 else 1.0
    quatern = np.array([float(header[k]) for k in QUATERN_FIELDS])
    if not np.all(np.isfinite(quatern)):
        raise HeaderError(name, "qform parameters (quatern_*/qoffset_*) are not finite; the header is corrupt, re-export the image")
    try:
        return np.asarray(fixed.get_qform(), dtype=np.float64)
    except ValueError as err:  # nibabel: b² + c² + d² > 1, not a rotation
        raise HeaderError(name, f"qform quaternion is invalid ({err}); the header is corrupt, re-export the image") from err


def _stored_sform(header: nib.Nifti1Header) -> Affine:
    return np.vstack([header["srow_x"], header["srow_y"], header["srow_z"], [0, 0, 0, 1]]).astype(np.float64)


def _largest_corner_gap(a: Affine, b: Affine, shape: tuple[int, int, int]) -> float:
    """Largest distance (mm) between where ``a`` and ``b`` put the grid's 8 corner voxels."""
    extent = np.asarray(shape, dtype=float) - 1
    corners = np.array([[i, j, k, 1.0] for i in (0, extent[0]) for j in (0, extent[1]) for k in (0, extent[2])])
    return float(np.max(np.linalg.norm((corners @ (a - b).T)[:, :3], axis=1)))
