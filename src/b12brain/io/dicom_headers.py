"""What a DICOM series folder holds, from the headers alone (no pixel is decoded).

Before a series is converted, its files' headers are read with pydicom (pixel data left
unread) to bound the work (file count, file sizes, voxels against the voxel ceiling), to name
what is not one 3D image (reports, secondary captures, mosaics, DWI/fMRI/multi-echo series)
and to check that the slices form one regular grid (no missing or duplicated slice), with a
message naming the file at fault. Classic single-frame and enhanced multi-frame files are
described alike: one :class:`Frame` per 2D image.
"""

from __future__ import annotations

import struct
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.errors import InvalidDicomError

from b12brain.errors import HeaderError, InputFileError
from b12brain.io.validate import check_shape
from b12brain.io.validate import max_voxels as _voxel_ceiling

#: Slice spacings may differ by this fraction of the median spacing (scanner rounding).
SPACING_REL_TOL = 0.1
#: Two row/column direction cosines are "the same orientation" within this tolerance.
ORIENTATION_TOL = 1e-3
#: Most files a series folder may hold (a 3D FLAIR has up to ~500; DWI/fMRI a few thousand).
MAX_SERIES_FILES = 10_000
#: Largest single file read (bytes): an enhanced 512³ 16-bit series is 256 MiB.
MAX_FILE_BYTES = 1 << 30
#: Row and column direction cosines must be unit vectors and perpendicular within this.
_UNIT_TOL = 0.01
#: Values longer than this are not loaded when reading a header (the pixel data).
_DEFER_BYTES = 4096
_PIXEL_DATA = 0x7FE00010
_CONVERT_HINT = "export the series again from the scanner or PACS, or convert it to NIfTI (e.g. with dcm2niix)"
#: SOP classes read as images: classic and enhanced MR, and the other classic cross-sections.
_ENHANCED_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image Storage
}
#: Words of a SOP class name -> what the object is, for users (checked in this order).
_NON_IMAGE_KINDS = (
    ("Secondary Capture", "a secondary capture (a screenshot or scanned page)"),
    ("SR Storage", "a structured report"),
    ("Presentation State", "a presentation state (display settings)"),
    ("Key Object Selection", "a key object selection (a list of flagged images)"),
    ("Raw Data", "raw data"),
    ("Spectroscopy", "an MR spectroscopy object"),
    ("Encapsulated", "an encapsulated document (PDF/CDA)"),
    ("Waveform", "a waveform"),
    ("Segmentation", "a segmentation"),
)
#: Header elements whose text may identify the patient: never shown in a message.
IDENTIFYING_KEYWORDS = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthDate", "AccessionNumber",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "InstitutionName", "InstitutionAddress",
    "StationName",
)


@dataclass(frozen=True)
class Frame:
    """One 2D image of a series: a single-frame file, or one frame of a multi-frame file."""

    label: str  # the file name, plus " frame N" in a multi-frame file
    position: npt.NDArray[np.float64]  # ImagePositionPatient, LPS mm
    orientation: npt.NDArray[np.float64]  # ImageOrientationPatient: row then column cosines
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]  # row spacing, column spacing (mm)
    has_thickness: bool  # SliceThickness present and positive
    index: int = 0  # frame number in its file, from 0
    b_value: float | None = None
    echo_time: float | None = None
    temporal: int | None = None
    path: Path = Path()  # the file holding it


@dataclass(frozen=True)
class SeriesHeaders:
    """The image files of one series and what their headers say (see :func:`read_series_headers`)."""

    folder: str
    files: tuple[Path, ...]
    frames: tuple[Frame, ...]  # sorted along the slice normal after :func:`check_grid`
    first: pydicom.Dataset  # the header of the first image file (pixel data not loaded)
    identifiers: frozenset[str]  # identifying texts seen (to keep out of messages)
    syntaxes: dict[Path, pydicom.uid.UID]  # each file's transfer syntax


def read_series_headers(folder: Path, *, max_voxels: int | None = None) -> SeriesHeaders:
    """Read and check the headers of the one image series in ``folder`` (sub-folders not searched).

    Files that do not start like DICOM (no ``DICM`` after the 128-byte preamble), a DICOMDIR and
    non-image objects beside the image files (reports, presentation states) are ignored.

    Raises
    ------
    InputFileError
        No image series (non-image objects named by their SOP class); several series; a Siemens
        mosaic; a multi-volume (DWI, fMRI, multi-echo) series; unreadable or truncated files;
        more files or bytes than the bounds; slices that are not one regular grid.
    HeaderError
        Unusable geometry (PixelSpacing, ImageOrientationPatient); more voxels than the ceiling.
    """
    name = str(folder)
    candidates = _dicom_files(folder)
    images: list[tuple[Path, pydicom.Dataset]] = []
    broken: list[str] = []
    not_images: list[str] = []
    identifiers: set[str] = set()
    for path in candidates:
        if (size := path.stat().st_size) > MAX_FILE_BYTES:
            raise InputFileError(
                path, f"holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} a DICOM file of an MR series may have; "
                "pass the folder of one MR series",
            )
        try:
            dataset = _read_dataset(path)
        except InputFileError:
            broken.append(path.name)
            continue
        identifiers |= _identifying_texts(dataset)
        kind = _non_image_kind(dataset)
        if kind is not None:
            not_images.append(f"{path.name} ({kind})")
        elif _PIXEL_DATA not in dataset:
            broken.append(path.name)
        else:
            images.append((path, dataset))
    if broken:
        plural = "s" if len(broken) != 1 else ""
        what = "no DICOM series found" if not images else "the series cannot be read"
        raise InputFileError(
            name,
            f"{what} ({len(broken)} DICOM file{plural} could not be read, truncated or corrupt: {_listing(broken)}); "
            "copy the series again",
        )
    if not images:
        if not_images:
            raise InputFileError(
                name,
                f"holds no image series: {_listing(not_images)} {'is' if len(not_images) == 1 else 'are'} DICOM "
                "but not an image; pass the folder of an MR series",
            )
        nested = any(child.is_dir() for child in folder.iterdir())
        raise InputFileError(
            name,
            "no DICOM series found; expected a folder holding one DICOM series"
            + (" (sub-folders are not searched: pass the folder that holds the slice files)" if nested else ""),
        )
    # Reports, presentation states and the like beside a series are left out (a CD holds them).
    _check_one_series(name, images)
    _check_syntax(name, images)
    _check_not_mosaic(name, images)
    frames = [replace(frame, path=path) for path, dataset in images for frame in _frames(path, dataset)]
    _check_bytes(name, images, max_voxels)
    ordered = check_grid(name, frames)
    # Every image of the folder counts, before any pixel is decoded.
    check_shape(name, (frames[0].columns, frames[0].rows, len(frames)), voxel_ceiling=max_voxels)
    syntaxes = {p: pydicom.uid.UID(str(d.file_meta.get("TransferSyntaxUID", ""))) for p, d in images}
    return SeriesHeaders(
        name, tuple(p for p, _ in images), tuple(ordered), images[0][1], frozenset(identifiers), syntaxes
    )


def _dicom_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.upper() == "DICOMDIR" or not path.is_file():
            continue
        try:
            with path.open("rb") as handle:
                handle.seek(128)
                magic = handle.read(4)
        except OSError:
            continue
        if magic == b"DICM":
            files.append(path)
            if len(files) > MAX_SERIES_FILES:
                raise InputFileError(
                    str(folder),
                    f"holds more than {MAX_SERIES_FILES:,} DICOM files, more than one MR series has; "
                    "pass the folder of one series",
                )
    return files


def _read_dataset(path: Path) -> pydicom.Dataset:
    """A DICOM file's elements, large values (the pixel data) left unread."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's notes on odd values: checked below
            return pydicom.dcmread(path, defer_size=_DEFER_BYTES)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, IndexError, struct.error) as err:
        raise InputFileError(path, f"is unreadable or corrupt DICOM ({type(err).__name__}); copy the series again") from err


def _identifying_texts(dataset: pydicom.Dataset) -> set[str]:
    texts = set()
    for keyword in IDENTIFYING_KEYWORDS:
        value = str(dataset.get(keyword, "") or "").strip()
        if len(value) >= 2:
            texts |= {value, *(part for part in value.replace("^", " ").split() if len(part) >= 3)}
    return texts


def _sop_class(dataset: pydicom.Dataset) -> str:
    return str(dataset.get("SOPClassUID", "") or dataset.file_meta.get("MediaStorageSOPClassUID", ""))


def _non_image_kind(dataset: pydicom.Dataset) -> str | None:
    """What a non-image object is (named from its SOP class), or None for an image."""
    uid = pydicom.uid.UID(_sop_class(dataset))
    name = uid.name if uid.name != str(uid) else ""
    for words, kind in _NON_IMAGE_KINDS:
        if words in name:
            return f"{kind}, {name}"
    if name and "Image" not in name:
        return name
    return None


def _listing(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _check_one_series(name: str, images: list[tuple[Path, pydicom.Dataset]]) -> None:
    series: dict[str, list[pydicom.Dataset]] = {}
    for _, dataset in images:
        series.setdefault(str(dataset.get("SeriesInstanceUID", "") or "(no SeriesInstanceUID)"), []).append(dataset)
    if len(series) == 1:
        return
    listing = " | ".join(_describe_series(uid, members) for uid, members in series.items())
    raise InputFileError(name, f"holds {len(series)} DICOM series ({listing}); pass a folder with one series")


def _describe_series(uid: str, members: list[pydicom.Dataset]) -> str:
    text = f"{uid}: {len(members)} file{'s' if len(members) != 1 else ''}"
    for keyword, label in (("SeriesDescription", "description"), ("SeriesNumber", "series number")):
        value = str(members[0].get(keyword, "") or "").strip()
        if value:
            text += f", {label} '{value}'"
    return text


def _check_syntax(name: str, images: list[tuple[Path, pydicom.Dataset]]) -> None:
    for path, dataset in images:
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        if syntax is not None and syntax.is_deflated:
            raise InputFileError(
                name,
                f"{path.name} uses the {syntax.name} transfer syntax, which dcm2niix cannot read; inflate it first "
                "(gdcmconv -w IN OUT, or dcmconv +te IN OUT) or export the series again uncompressed",
            )


def _check_not_mosaic(name: str, images: list[tuple[Path, pydicom.Dataset]]) -> None:
    path, dataset = images[0]
    image_type = [str(v).upper() for v in _as_list(dataset.get("ImageType"))]
    if "MOSAIC" in image_type:
        shown = "\\".join(image_type)
        raise InputFileError(
            name,
            f"is a Siemens mosaic series ({path.name}: ImageType {shown}): several slices tiled in "
            "each image, as DWI, fMRI and perfusion scans are stored, not a FLAIR or T1; pass the FLAIR's series",
        )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]


def _frames(path: Path, dataset: pydicom.Dataset) -> list[Frame]:
    """The 2D images of one file, with their geometry checked."""
    rows, columns = _int(dataset, "Rows"), _int(dataset, "Columns")
    count = _int(dataset, "NumberOfFrames") or 1
    if _sop_class(dataset) not in _ENHANCED_CLASSES:
        if count > 1:
            raise InputFileError(
                path, f"is a multi-frame DICOM file ({count} frames) of SOP class {_sop_class(dataset) or 'unknown'}, "
                f"which holds no per-frame geometry; {_CONVERT_HINT}",
            )
        _check_pixel_bytes(path, dataset, rows, columns)
        return [_frame(path, path.name, dataset, dataset, dataset, rows, columns)]
    shared = _first_item(dataset, "SharedFunctionalGroupsSequence")
    per_frame = list(dataset.get("PerFrameFunctionalGroupsSequence", []) or [])
    if len(per_frame) != count:
        raise InputFileError(
            path, f"is an enhanced multi-frame file whose PerFrameFunctionalGroupsSequence has {len(per_frame)} items "
            f"for {count} frames (NumberOfFrames); {_CONVERT_HINT}",
        )
    frames = []
    for i, item in enumerate(per_frame):
        def group(keyword: str, item: pydicom.Dataset = item) -> pydicom.Dataset:
            return _first_item(item, keyword) or _first_item(shared, keyword) or pydicom.Dataset()

        geometry = pydicom.Dataset()
        for element in (*group("PlanePositionSequence"), *group("PlaneOrientationSequence"), *group("PixelMeasuresSequence")):
            geometry.add(element)
        frame = _frame(path, f"{path.name} frame {i + 1}", geometry, geometry, dataset, rows, columns)
        diffusion = group("MRDiffusionSequence")
        echo = group("MREchoSequence")
        content = group("FrameContentSequence")
        frames.append(Frame(
            frame.label, frame.position, frame.orientation, rows, columns, frame.pixel_spacing, frame.has_thickness, i,
            _float(diffusion, "DiffusionBValue"), _float(echo, "EffectiveEchoTime"),
            _int(content, "TemporalPositionIndex") or None,
        ))
    return frames


def _first_item(dataset: pydicom.Dataset | None, keyword: str) -> pydicom.Dataset | None:
    sequence = dataset.get(keyword) if dataset is not None else None
    return sequence[0] if sequence else None


def _frame(
    path: Path, label: str, geometry: pydicom.Dataset, spacing_source: pydicom.Dataset, dataset: pydicom.Dataset,
    rows: int, columns: int,
) -> Frame:
    position, orientation = _floats(geometry, "ImagePositionPatient", 3), _floats(geometry, "ImageOrientationPatient", 6)
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
    spacing = _floats(spacing_source, "PixelSpacing", 2)
    if spacing is None or not np.all(spacing > 0):
        seen = "missing" if spacing is None else _values(spacing)
        raise HeaderError(
            path,
            f"PixelSpacing is {seen}: the in-plane voxel size is unknown (b12brain does not assume 1 mm, "
            "volumes would be wrong); export the series again with its geometry",
        )
    thickness = _floats(spacing_source, "SliceThickness", 1)
    return Frame(
        label, position, orientation, rows, columns, (float(spacing[0]), float(spacing[1])),
        thickness is not None and bool(thickness[0] > 0), 0,
        _b_value(dataset), _float(dataset, "EchoTime"), _int(dataset, "TemporalPositionIdentifier") or None,
    )


def _b_value(dataset: pydicom.Dataset) -> float | None:
    """The diffusion b-value: the standard element, else GE's or Siemens' private one."""
    value = _float(dataset, "DiffusionBValue")
    if value is not None:
        return value
    for tag in (0x0043_1039, 0x0019_100C):  # GE slop_int_1 (b-value first), Siemens B_value
        element = dataset.get(tag)
        if element is not None:
            try:
                text = element.value.decode("ascii", "ignore") if isinstance(element.value, bytes) else str(element.value)
                return float(text.replace("\\", " ").split()[0]) % 1e9  # GE adds 1e9 to flag some b-values
            except (ValueError, IndexError, AttributeError):
                return None
    return None


def _float(dataset: pydicom.Dataset | None, keyword: str) -> float | None:
    numbers = _floats(dataset, keyword, 1) if dataset is not None else None
    return float(numbers[0]) if numbers is not None else None


def _floats(dataset: pydicom.Dataset, keyword: str, count: int) -> npt.NDArray[np.float64] | None:
    """The ``count`` numbers of a DS, IS or FD element, or None when missing, malformed or not finite.

    A DS or IS value not yet parsed is read from its raw text (pydicom's own conversion, with its
    validation, costs about a millisecond an element: most of the header reading of a series).
    """
    tag = pydicom.datadict.tag_for_keyword(keyword)
    if tag is None or tag not in dataset:
        return None
    element = dataset.get_item(tag)
    if isinstance(element, pydicom.dataelem.RawDataElement) and pydicom.datadict.dictionary_VR(tag) in ("DS", "IS"):
        raw = element.value or b""
        items: list[Any] = raw.decode("ascii", "replace").split("\\") if raw.strip(b" \x00") else []
    else:
        items = _as_list(dataset.get(keyword))
    try:
        numbers = np.array([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return numbers if numbers.shape == (count,) and np.all(np.isfinite(numbers)) else None


def _int(dataset: pydicom.Dataset | None, keyword: str) -> int:
    try:
        return int(dataset.get(keyword)) if dataset is not None else 0
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


def _check_bytes(name: str, images: list[tuple[Path, pydicom.Dataset]], max_voxels: int | None) -> None:
    # Compressed pixel data are smaller; uncompressed, at most 8 bytes a voxel plus the header.
    total = sum(path.stat().st_size for path, _ in images)
    if total > 8 * _voxel_ceiling(max_voxels) + len(images) * (1 << 20):
        raise InputFileError(name, f"the series' files hold {total:,} bytes, more than its images can need; copy the series again")


def check_grid(folder: str, frames: list[Frame]) -> list[Frame]:
    """Return the frames sorted along the slice normal, after checking they form one regular grid.

    Raises
    ------
    InputFileError
        Mixed orientations, pixel spacings or sizes; several volumes (every position repeated
        the same number of times: DWI, fMRI, multi-echo); a duplicated or missing slice; uneven
        spacing; slices not stacked along their normal (gantry tilt).
    """
    first = frames[0]
    for h in frames[1:]:
        if not np.allclose(h.orientation, first.orientation, atol=ORIENTATION_TOL):
            raise InputFileError(
                folder,
                f"series mixes slice orientations ({h.label} differs from {first.label}); "
                "pass a folder with one series of parallel slices",
            )
        if not np.allclose(h.pixel_spacing, first.pixel_spacing, rtol=1e-3):
            raise InputFileError(
                folder,
                f"series mixes pixel spacings ({h.label} has {_values(np.array(h.pixel_spacing))} mm, "
                f"{first.label} {_values(np.array(first.pixel_spacing))} mm); pass a folder with one series",
            )
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise InputFileError(
                folder,
                f"series mixes slice sizes ({h.label} is {h.rows}×{h.columns}, "
                f"{first.label} is {first.rows}×{first.columns}); pass a folder with one series",
            )
    if len(frames) < 2:
        return frames  # a single slice: check_shape reports it as too thin
    normal = np.cross(first.orientation[:3], first.orientation[3:])
    heights = np.array([h.position @ normal for h in frames])
    order = np.argsort(heights, kind="stable")
    frames = [frames[i] for i in order]
    heights = heights[order]
    _check_single_volume(folder, frames, heights)
    steps = np.diff(heights)
    duplicate = np.flatnonzero(steps < 1e-3)
    if duplicate.size:
        a, b = frames[duplicate[0]], frames[duplicate[0] + 1]
        raise InputFileError(
            folder,
            f"two slices share the position {heights[duplicate[0]]:.2f} mm along the slice normal "
            f"({a.label}, {b.label}); remove the duplicate or pass a folder with one series",
        )
    typical = float(np.median(steps))
    uneven = np.flatnonzero(np.abs(steps - typical) > SPACING_REL_TOL * typical)
    if uneven.size:
        i = int(uneven[0])
        a, b = frames[i], frames[i + 1]
        missing = round(steps[i] / typical) - 1
        what = f"{missing} missing slice{'s' if missing != 1 else ''}" if missing >= 1 else "uneven slice spacing"
        raise InputFileError(
            folder,
            f"{what}: the gap between {a.label} and {b.label} is {steps[i]:.2f} mm "
            f"along the slice normal, the other slices are {typical:.2f} mm apart; "
            "copy the complete series again",
        )
    # Sheared stacks (gantry tilt) are not on a grid the affine can describe.
    shift = frames[-1].position - frames[0].position
    if np.linalg.norm(np.cross(shift / np.linalg.norm(shift), normal)) > 0.01:
        raise InputFileError(
            folder,
            f"slice positions do not run along the slice normal (gantry tilt or sheared stack); {_CONVERT_HINT}",
        )
    return frames


def _check_single_volume(folder: str, frames: list[Frame], heights: npt.NDArray[np.float64]) -> None:
    """Refuse a series whose every slice position holds the same number (> 1) of images."""
    counts = Counter(np.round(heights, 2).tolist())
    repeats = set(counts.values())
    if len(repeats) != 1 or (volumes := repeats.pop()) < 2:
        return
    b_values = sorted({f.b_value for f in frames if f.b_value is not None})
    echoes = sorted({f.echo_time for f in frames if f.echo_time is not None})
    times = {f.temporal for f in frames if f.temporal is not None}
    if len(b_values) > 1:
        what = f"b-values {', '.join(f'{b:g}' for b in b_values[:8])}{' ...' if len(b_values) > 8 else ''}: a DWI series"
    elif len(echoes) > 1:
        what = f"echo times {', '.join(f'{e:g}' for e in echoes[:8])} ms: a multi-echo series"
    elif len(times) > 1:
        what = f"{len(times)} time points: an fMRI or perfusion time series"
    else:
        what = "each slice position repeated: a DWI, fMRI, perfusion or multi-echo series"
    raise InputFileError(
        folder,
        f"this series holds {volumes} volumes of {len(counts)} slices ({what}), not one 3D scan such as a "
        "FLAIR or T1; pass the FLAIR's (or T1's) series",
    )
