"""DICOM series folders → :class:`~b12brain.types.Volume`, via SimpleITK (GDCM).

Only classic single-frame series are read: one file per slice, every slice with the same
orientation and in-plane size, evenly spaced along the slice normal. Anything else (several
series, a missing or duplicated slice, enhanced multi-frame files) is refused with a message
that names the folder and the problem, rather than read into a silently wrong geometry.
"""

from __future__ import annotations

import os
import struct
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from b12brain.errors import HeaderError, InputFileError
from b12brain.io.validate import check_affine, check_shape, check_values, to_float32
from b12brain.types import QCWarning, Volume

#: SimpleITK reports LPS world coordinates; NIfTI/b12brain use RAS. Flip x and y.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
#: Slice spacings may differ by this fraction of the median spacing (scanner rounding).
SPACING_REL_TOL = 0.1
#: Two row/column direction cosines are "the same orientation" within this tolerance.
ORIENTATION_TOL = 1e-3
#: SOP classes of enhanced (multi-frame) images, which carry per-frame geometry we do not read.
_ENHANCED_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
}
#: Row and column direction cosines must be unit vectors and perpendicular within this.
_UNIT_TOL = 0.01
#: Values longer than this are not loaded when reading a slice's header (the pixel data).
_DEFER_BYTES = 4096
_PIXEL_DATA = 0x7FE00010
_CONVERT_HINT = "export the series as classic single-frame DICOM or convert it to NIfTI (e.g. with dcm2niix)"


@dataclass(frozen=True)
class _SliceHeader:
    path: Path
    position: npt.NDArray[np.float64]  # ImagePositionPatient, LPS mm
    orientation: npt.NDArray[np.float64]  # ImageOrientationPatient: row then column cosines
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]  # row spacing, column spacing (mm)
    has_thickness: bool  # SliceThickness present and positive
    syntax: str  # transfer syntax name, e.g. "JPEG Lossless"


def load_dicom_series(folder: Path | str, *, allow_constant: bool = False, max_voxels: int | None = None) -> Volume:
    """Read the one DICOM series in ``folder`` as a validated 3D :class:`Volume`.

    Parameters
    ----------
    folder : path-like
        A folder holding exactly one classic (single-frame) DICOM series. Other files
        (non-DICOM notes, DICOMDIR) are ignored; sub-folders are not searched.
    allow_constant : bool
        Accept an all-zero or constant image.
    max_voxels : int, optional
        Voxel ceiling (:func:`b12brain.io.validate.max_voxels`), checked before pixels are read.

    Returns
    -------
    Volume
        ``data`` is (X, Y, Z) float32 with X along the DICOM rows (columns index), Y along
        the columns, Z along the slice normal; ``affine`` maps voxels to RAS+ mm.

    Raises
    ------
    InputFileError
        No series, several series, missing/duplicated slices, mixed orientations or slice
        sizes, multi-frame files, non-image objects (reports), slices with less pixel data than
        their header needs, unreadable files; or the image fails the same checks as a NIfTI
        (:mod:`b12brain.io.validate`).
    HeaderError
        Unusable geometry: missing or zero PixelSpacing, zero ImageOrientationPatient, singular
        affine, absurd voxel sizes, dimensions over the voxel ceiling.
    """
    folder = Path(folder)
    name = str(folder)
    if not folder.is_dir():
        raise InputFileError(name, "is not a folder; expected a folder holding one DICOM series")
    with _native_output_silenced():
        try:
            series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(name)
        except RuntimeError as err:
            raise InputFileError(name, f"cannot be scanned for DICOM files ({_reason(err)})") from err
        if not series_ids:
            nested = any(child.is_dir() for child in folder.iterdir())
            raise InputFileError(
                name,
                f"no DICOM series found{_unreadable_note(folder, set())}; "
                "expected a folder holding one DICOM series"
                + (" (sub-folders are not searched: pass the folder that holds the slice files)" if nested else ""),
            )
        if len(series_ids) > 1:
            listing = " | ".join(_describe_series(name, uid) for uid in series_ids)
            raise InputFileError(
                name, f"holds {len(series_ids)} DICOM series ({listing}); pass a folder with one series"
            )
        files = [Path(f) for f in sitk.ImageSeriesReader.GetGDCMSeriesFileNames(name, series_ids[0])]
        headers = [_read_slice_header(f) for f in files]
        try:
            ordered = _check_slices(name, headers)
        except InputFileError as err:
            # GDCM silently leaves out files it cannot parse: a truncated slice shows up as
            # a gap. Say so, since "copy the series again" then has an obvious culprit.
            note = _unreadable_note(folder, set(files))
            if not note:
                raise
            problem, _, advice = err.problem.rpartition("; ")
            raise InputFileError(err.path, f"{problem}{note}; {advice}") from err
        check_shape(name, (ordered[0].columns, ordered[0].rows, len(ordered)), voxel_ceiling=max_voxels)
        img = _read_pixels(name, ordered)
    return _to_volume(name, img, allow_constant=allow_constant, warnings=_thickness_warning(name, ordered))


def dicom_to_ras_affine(
    spacing: tuple[float, ...], origin: tuple[float, ...], direction: tuple[float, ...]
) -> npt.NDArray[np.float64]:
    """Voxel-to-RAS+ affine from SimpleITK's LPS geometry.

    Parameters
    ----------
    spacing : (3,) tuple of float
        Voxel size along each index axis, mm.
    origin : (3,) tuple of float
        LPS position of voxel (0, 0, 0), mm.
    direction : (9,) tuple of float
        Row-major 3×3 matrix whose columns are the index axes' LPS direction cosines.

    Examples
    --------
    >>> dicom_to_ras_affine((1.0, 1.0, 2.0), (10.0, 20.0, 30.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)).tolist()
    [[-1.0, 0.0, 0.0, -10.0], [0.0, -1.0, 0.0, -20.0], [0.0, 0.0, 2.0, 30.0], [0.0, 0.0, 0.0, 1.0]]
    """
    affine = np.eye(4)
    rotation = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    affine[:3, :3] = _LPS_TO_RAS @ rotation @ np.diag(np.asarray(spacing, dtype=np.float64))
    affine[:3, 3] = _LPS_TO_RAS @ np.asarray(origin, dtype=np.float64)
    return affine


@contextmanager
def _native_output_silenced() -> Iterator[None]:
    # ITK prints warnings (e.g. "Non uniform sampling") and GDCM's libjpeg dozens of lines
    # ("Corrupt JPEG data") straight to the C-level stderr; our own checks report those problems
    # as one clear error instead, so point file descriptor 2 at /dev/null while they run.
    before = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's notes on odd values: checked ourselves
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        sitk.ProcessObject.SetGlobalWarningDisplay(before)


def _describe_series(folder: str, uid: str) -> str:
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid)
    text = f"{uid}: {len(files)} file{'s' if len(files) != 1 else ''}"
    if files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(files[0])
        try:
            reader.ReadImageInformation()
            for tag, label in (("0008|103e", "description"), ("0020|0011", "series number")):
                if reader.HasMetaDataKey(tag) and reader.GetMetaData(tag).strip():
                    text += f", {label} '{reader.GetMetaData(tag).strip()}'"
        except RuntimeError:
            pass
    return text


def _unreadable_note(folder: Path, series_files: set[Path]) -> str:
    """A note naming files that start like DICOM but that GDCM could not place in a series:
    objects that are not images (reports), and files that cannot be read."""
    broken, not_images = [], []
    for path in sorted(folder.iterdir()):
        if path in series_files or not path.is_file() or path.name.upper() == "DICOMDIR":
            continue
        try:
            with path.open("rb") as handle:
                handle.seek(128)
                magic = handle.read(4)
        except OSError:
            continue
        if magic != b"DICM":
            continue
        try:
            dataset = _read_dataset(path)
        except InputFileError:
            broken.append(path.name)
            continue
        if _is_non_image(dataset):
            not_images.append(f"{path.name} ({_sop_class_name(dataset)})")
        else:
            broken.append(path.name)
    notes = []
    if not_images:
        notes.append(f"{_listing(not_images)} {'is' if len(not_images) == 1 else 'are'} DICOM but not an image")
    if broken:
        plural = "s" if len(broken) != 1 else ""
        notes.append(f"{len(broken)} DICOM file{plural} could not be read, truncated or corrupt: {_listing(broken)}")
    return f" ({'; '.join(notes)})" if notes else ""


def _listing(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _read_dataset(path: Path) -> pydicom.Dataset:
    """A DICOM file's elements, large values (the pixel data) left unread."""
    try:
        return pydicom.dcmread(path, defer_size=_DEFER_BYTES)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, IndexError, struct.error) as err:
        raise InputFileError(path, f"is unreadable or corrupt DICOM ({_reason(err)}); remove it or re-export the series") from err


def _is_non_image(dataset: pydicom.Dataset) -> bool:
    """A complete object of a known non-image class (report, presentation state, PDF...).

    An image object without pixel data is a cut-off file, not a report: it is not counted.
    """
    uid = dataset.get("SOPClassUID")
    known = isinstance(uid, pydicom.uid.UID) and uid.name != str(uid)
    return known and _PIXEL_DATA not in dataset and "Image" not in uid.name


def _sop_class_name(dataset: pydicom.Dataset) -> str:
    uid = dataset.get("SOPClassUID")
    return str(uid.name) if isinstance(uid, pydicom.uid.UID) and uid.name != str(uid) else f"SOP class {uid or 'unknown'}"


def _read_slice_header(path: Path) -> _SliceHeader:
    """The geometry of one slice, after checking its header makes sense and its pixel data is
    all there (before any pixel is decoded)."""
    dataset = _read_dataset(path)
    if _is_non_image(dataset):
        raise InputFileError(
            path, f"is a DICOM {_sop_class_name(dataset)} object, not an image slice; move it out of the series folder"
        )
    if _PIXEL_DATA not in dataset:
        raise InputFileError(path, "has no pixel data (the file is truncated or corrupt); copy the series again")
    sop_class = str(dataset.get("SOPClassUID", ""))
    frames = str(dataset.get("NumberOfFrames", "") or "").strip()
    if sop_class in _ENHANCED_SOP_CLASSES or (frames.isdigit() and int(frames) > 1):
        kind = _ENHANCED_SOP_CLASSES.get(sop_class, f"{frames} frames")
        raise InputFileError(path, f"is a multi-frame DICOM file ({kind}), which is not supported; {_CONVERT_HINT}")
    position, orientation = _floats(dataset, "ImagePositionPatient", 3), _floats(dataset, "ImageOrientationPatient", 6)
    rows, columns = _int(dataset, "Rows"), _int(dataset, "Columns")
    if position is None or orientation is None or rows < 1 or columns < 1:
        raise InputFileError(
            path,
            "lacks a usable ImagePositionPatient/ImageOrientationPatient/Rows/Columns; "
            f"it is not an image slice with geometry, {_CONVERT_HINT}",
        )
    row, column = orientation[:3], orientation[3:]
    off_by = (abs(float(np.linalg.norm(row)) - 1), abs(float(np.linalg.norm(column)) - 1), abs(float(row @ column)))
    if max(off_by) > _UNIT_TOL:
        raise HeaderError(
            path,
            f"ImageOrientationPatient is {_values(orientation)}, not two perpendicular unit vectors: the slice "
            "orientation is unknown; export the series again",
        )
    spacing = _floats(dataset, "PixelSpacing", 2)
    if spacing is None or not np.all(spacing > 0):
        seen = "missing" if spacing is None else _values(spacing)
        raise HeaderError(
            path,
            f"PixelSpacing is {seen}: the in-plane voxel size is unknown (b12brain does not assume 1 mm, "
            "volumes would be wrong); export the series again with its geometry",
        )
    _check_pixel_bytes(path, dataset, rows, columns)
    thickness = _floats(dataset, "SliceThickness", 1)
    return _SliceHeader(
        path, position, orientation, rows, columns, (float(spacing[0]), float(spacing[1])),
        thickness is not None and bool(thickness[0] > 0),
        _syntax_name(dataset),
    )


def _syntax_name(dataset: pydicom.Dataset) -> str:
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    return str(syntax.name) if isinstance(syntax, pydicom.uid.UID) else "unknown transfer syntax"


def _floats(dataset: pydicom.Dataset, keyword: str, count: int) -> npt.NDArray[np.float64] | None:
    """The ``count`` numbers of a DS element, or None when missing, malformed or not finite."""
    value = dataset.get(keyword)
    items = list(value) if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]
    try:
        numbers = np.array([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return numbers if numbers.shape == (count,) and np.all(np.isfinite(numbers)) else None


def _int(dataset: pydicom.Dataset, keyword: str) -> int:
    try:
        return int(dataset.get(keyword))
    except (TypeError, ValueError):
        return 0


def _values(numbers: npt.NDArray[np.float64]) -> str:
    return "\\".join(f"{v:g}" for v in numbers)


def _check_pixel_bytes(path: Path, dataset: pydicom.Dataset, rows: int, columns: int) -> None:
    """Refuse a slice whose stored pixel data is shorter than its header needs.

    Only for uncompressed transfer syntaxes, where the size is known: Rows × Columns ×
    BitsAllocated/8 × SamplesPerPixel. (Compressed data are checked by the decoder.)
    """
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None or syntax.is_compressed or syntax.is_deflated:
        return
    bits, samples = _int(dataset, "BitsAllocated"), _int(dataset, "SamplesPerPixel") or 1
    if bits not in (8, 16, 32, 64):
        raise InputFileError(path, f"has BitsAllocated {bits}; expected 8, 16, 32 or 64 for an MR image, {_CONVERT_HINT}")
    needed = rows * columns * bits // 8 * samples
    element = dataset.get_item(_PIXEL_DATA, keep_deferred=True)
    if isinstance(element, pydicom.dataelem.RawDataElement):
        # What the file holds: the declared length, or less if the file ends first.
        present = min(int(element.length), path.stat().st_size - int(element.value_tell or 0))
    else:
        present = len(element.value or b"")
    if present < needed:
        raise InputFileError(
            path,
            f"holds {present:,} bytes of pixel data, but Rows × Columns × BitsAllocated ({rows}×{columns}×{bits} bit"
            f"{f' × {samples} samples' if samples > 1 else ''}) needs {needed:,} (the file is truncated or corrupt); "
            "copy the series again",
        )


def _check_slices(folder: str, headers: list[_SliceHeader]) -> list[_SliceHeader]:
    """Return the slices sorted along the normal, after checking they form one regular grid."""
    first = headers[0]
    for h in headers[1:]:
        if not np.allclose(h.orientation, first.orientation, atol=ORIENTATION_TOL):
            raise InputFileError(
                folder,
                f"series mixes slice orientations ({h.path.name} differs from {first.path.name}); "
                "pass a folder with one series of parallel slices",
            )
        if not np.allclose(h.pixel_spacing, first.pixel_spacing, rtol=1e-3):
            raise InputFileError(
                folder,
                f"series mixes pixel spacings ({h.path.name} has {_values(np.array(h.pixel_spacing))} mm, "
                f"{first.path.name} {_values(np.array(first.pixel_spacing))} mm); pass a folder with one series",
            )
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise InputFileError(
                folder,
                f"series mixes slice sizes ({h.path.name} is {h.rows}×{h.columns}, "
                f"{first.path.name} is {first.rows}×{first.columns}); pass a folder with one series",
            )
    if len(headers) < 2:
        return headers  # a single slice: check_shape reports it as too thin
    normal = np.cross(first.orientation[:3], first.orientation[3:])
    heights = np.array([h.position @ normal for h in headers])
    order = np.argsort(heights, kind="stable")
    headers = [headers[i] for i in order]
    heights = heights[order]
    steps = np.diff(heights)
    duplicate = np.flatnonzero(steps < 1e-3)
    if duplicate.size:
        a, b = headers[duplicate[0]], headers[duplicate[0] + 1]
        raise InputFileError(
            folder,
            f"two slices share the position {heights[duplicate[0]]:.2f} mm along the slice normal "
            f"({a.path.name}, {b.path.name}); remove the duplicate or pass a folder with one series",
        )
    typical = float(np.median(steps))
    uneven = np.flatnonzero(np.abs(steps - typical) > SPACING_REL_TOL * typical)
    if uneven.size:
        i = int(uneven[0])
        a, b = headers[i], headers[i + 1]
        missing = round(steps[i] / typical) - 1
        what = (
            f"{missing} missing slice{'s' if missing != 1 else ''}"
            if missing >= 1
            else "uneven slice spacing"
        )
        raise InputFileError(
            folder,
            f"{what}: the gap between {a.path.name} and {b.path.name} is {steps[i]:.2f} mm "
            f"along the slice normal, the other slices are {typical:.2f} mm apart; "
            "copy the complete series again",
        )
    # Sheared stacks (gantry tilt) are not on a grid the affine can describe.
    shift = headers[-1].position - headers[0].position
    if np.linalg.norm(np.cross(shift / np.linalg.norm(shift), normal)) > 0.01:
        raise InputFileError(
            folder,
            "slice positions do not run along the slice normal (gantry tilt or sheared stack); "
            f"{_CONVERT_HINT}",
        )
    return headers


def _read_pixels(folder: str, headers: list[_SliceHeader]) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileNames([str(h.path) for h in headers])
    try:
        return reader.Execute()
    except RuntimeError as err:
        syntaxes = " / ".join(sorted({h.syntax for h in headers}))
        raise InputFileError(
            folder,
            f"the pixel data of a DICOM file of the series cannot be decoded ({syntaxes}: {_reason(err)}); "
            "copy the series again, or convert it with dcm2niix",
        ) from err


def _thickness_warning(name: str, headers: list[_SliceHeader]) -> tuple[QCWarning, ...]:
    lacking = sum(not h.has_thickness for h in headers)
    if not lacking:
        return ()
    return (
        QCWarning(
            "dicom.slice_thickness_missing",
            name,
            f"SliceThickness is missing or 0 in {lacking} of {len(headers)} slices; the slice spacing was taken "
            "from the slice positions (ImagePositionPatient), as always",
        ),
    )


def _to_volume(name: str, img: sitk.Image, *, allow_constant: bool, warnings: tuple[QCWarning, ...]) -> Volume:
    if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
        raise InputFileError(
            name,
            f"DICOM image is {img.GetDimension()}D with {img.GetNumberOfComponentsPerPixel()} "
            "components per voxel; expected a 3D greyscale series",
        )
    shape = check_shape(name, tuple(int(s) for s in img.GetSize()))
    affine = dicom_to_ras_affine(img.GetSpacing(), img.GetOrigin(), img.GetDirection())
    check_affine(name, affine, shape)
    # SimpleITK arrays are (z, y, x); b12brain volumes are indexed (x, y, z) like nibabel's.
    data = np.ascontiguousarray(to_float32(name, sitk.GetArrayFromImage(img).transpose(2, 1, 0)))
    check_values(name, data, allow_constant=allow_constant)
    return Volume(data, affine, name, warnings)


def _reason(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # ITK messages start with a file/line banner; the last line says what went wrong.
    return (lines[-1] if lines else type(err).__name__)[:200]
