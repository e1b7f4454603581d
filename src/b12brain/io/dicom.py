"""DICOM series folders → :class:`~b12brain.types.Volume`, via SimpleITK (GDCM).

Only classic single-frame series are read: one file per slice, every slice with the same
orientation and in-plane size, evenly spaced along the slice normal. Anything else (several
series, a missing or duplicated slice, enhanced multi-frame files) is refused with a message
that names the folder and the problem, rather than read into a silently wrong geometry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk

from b12brain.errors import InputFileError
from b12brain.io.validate import check_affine, check_shape, check_values
from b12brain.types import Volume

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
_CONVERT_HINT = "export the series as classic single-frame DICOM or convert it to NIfTI (e.g. with dcm2niix)"


@dataclass(frozen=True)
class _SliceHeader:
    path: Path
    position: npt.NDArray[np.float64]  # ImagePositionPatient, LPS mm
    orientation: npt.NDArray[np.float64]  # ImageOrientationPatient: row then column cosines
    rows: int
    columns: int


def load_dicom_series(folder: Path | str, *, allow_constant: bool = False) -> Volume:
    """Read the one DICOM series in ``folder`` as a validated 3D :class:`Volume`.

    Parameters
    ----------
    folder : path-like
        A folder holding exactly one classic (single-frame) DICOM series. Other files
        (non-DICOM notes, DICOMDIR) are ignored; sub-folders are not searched.

    Returns
    -------
    Volume
        ``data`` is (X, Y, Z) float32 with X along the DICOM rows (columns index), Y along
        the columns, Z along the slice normal; ``affine`` maps voxels to RAS+ mm.

    Raises
    ------
    InputFileError
        No series, several series, missing/duplicated slices, mixed orientations or slice
        sizes, multi-frame files, unreadable files; or the image fails the same checks as a
        NIfTI (:mod:`b12brain.io.validate`).
    HeaderError
        Unusable geometry (singular affine, absurd voxel sizes or dimensions).
    """
    folder = Path(folder)
    name = str(folder)
    if not folder.is_dir():
        raise InputFileError(name, "is not a folder; expected a folder holding one DICOM series")
    with _itk_warnings_off():
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
        headers = [_read_slice_header(name, f) for f in files]
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
        img = _read_pixels(name, [str(h.path) for h in ordered])
    return _to_volume(name, img, allow_constant=allow_constant)


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
def _itk_warnings_off() -> Iterator[None]:
    # ITK prints warnings (e.g. "Non uniform sampling") straight to the C stderr; our own
    # checks report those problems as one clear error instead, so keep the console clean.
    before = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
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
    """A note naming files that start like DICOM but that GDCM could not place in a series."""
    broken = []
    for path in sorted(folder.iterdir()):
        if path in series_files or not path.is_file() or path.name.upper() == "DICOMDIR":
            continue
        try:
            with path.open("rb") as handle:
                handle.seek(128)
                magic = handle.read(4)
        except OSError:
            continue
        if magic == b"DICM":
            broken.append(path.name)
    if not broken:
        return ""
    shown = ", ".join(broken[:5]) + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
    return f" ({len(broken)} DICOM file{'s' if len(broken) != 1 else ''} could not be read, truncated or corrupt: {shown})"


def _read_slice_header(folder: str, path: Path) -> _SliceHeader:
    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise InputFileError(path, f"is unreadable or corrupt DICOM ({_reason(err)}); remove it or re-export the series") from err

    def tag(key: str) -> str:
        return reader.GetMetaData(key).strip() if reader.HasMetaDataKey(key) else ""

    sop_class = tag("0008|0016")
    frames = tag("0028|0008")
    if sop_class in _ENHANCED_SOP_CLASSES or (frames.isdigit() and int(frames) > 1):
        kind = _ENHANCED_SOP_CLASSES.get(sop_class, f"{frames} frames")
        raise InputFileError(path, f"is a multi-frame DICOM file ({kind}), which is not supported; {_CONVERT_HINT}")
    try:
        position = np.array([float(v) for v in tag("0020|0032").split("\\")], dtype=np.float64)
        orientation = np.array([float(v) for v in tag("0020|0037").split("\\")], dtype=np.float64)
        rows, columns = int(tag("0028|0010")), int(tag("0028|0011"))
    except ValueError:
        position = orientation = np.empty(0)
        rows = columns = 0
    if position.shape != (3,) or orientation.shape != (6,) or rows < 1 or columns < 1:
        raise InputFileError(
            path,
            "lacks a usable ImagePositionPatient/ImageOrientationPatient/Rows/Columns; "
            f"it is not an image slice with geometry, {_CONVERT_HINT}",
        )
    return _SliceHeader(path, position, orientation, rows, columns)


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


def _read_pixels(folder: str, files: list[str]) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except RuntimeError as err:
        raise InputFileError(
            folder, f"a DICOM file of the series cannot be read ({_reason(err)}); copy the series again"
        ) from err


def _to_volume(name: str, img: sitk.Image, *, allow_constant: bool) -> Volume:
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
    data = np.ascontiguousarray(sitk.GetArrayFromImage(img).transpose(2, 1, 0), dtype=np.float32)
    check_values(name, data, allow_constant=allow_constant)
    return Volume(data, affine, name)


def _reason(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # ITK messages start with a file/line banner; the last line says what went wrong.
    return (lines[-1] if lines else type(err).__name__)[:200]
