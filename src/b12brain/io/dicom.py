"""DICOM series folders → :class:`~b12brain.types.Volume`, converted by dcm2niix.

Classic single-frame series, enhanced and legacy-converted enhanced multi-frame MR, and the
compressed transfer syntaxes (JPEG 2000, JPEG-LS, JPEG lossless, RLE, deflate) are read. First
the headers are read and checked (:mod:`b12brain.io.dicom_headers`: bounds, one series, one
volume, one regular grid); then dcm2niix converts exactly those files into a private temporary
folder, whose NIfTI is read with the project's bounded NIfTI reader and whose BIDS sidecar
becomes :attr:`Volume.metadata`. The converted grid is laid out as the DICOM stores it (x along
the rows, y along the columns, z up the slice normal) and must agree with the headers' own
geometry, or the series is refused.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pydicom
import pydicom.encaps

from b12brain.errors import InputFileError, PathError, ResourceError
from b12brain.io.dicom_headers import Frame, SeriesHeaders, read_series_headers
from b12brain.io.jsonfile import JSONProblem
from b12brain.io.nifti import load_nifti
from b12brain.io.sidecar import read_sidecar
from b12brain.types import QCWarning, Volume

#: SimpleITK/DICOM world coordinates are LPS; NIfTI/b12brain use RAS. Flip x and y.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
#: The converted grid must put every corner within this of where the headers put it (mm).
GEOMETRY_TOL_MM = 0.05
#: Seconds dcm2niix may take (a 512-slice series takes about one).
DCM2NIIX_TIMEOUT_S = 300
_DCM2NIIX_ARGS = (
    "-b", "y", "-ba", "o",  # BIDS sidecar, patient identifiers left out (dates kept)
    "-z", "n", "-f", "series", "-d", "0",  # plain .nii, fixed name, no sub-folders
    "-i", "n", "-x", "n",  # keep derived and localizer images (they are named, not dropped); no cropping
    "-p", "n", "-l", "o",  # display values (RescaleSlope/Intercept), as every DICOM viewer shows them
    "-m", "y",  # one series, one grid (checked on the headers): merge whatever dcm2niix would split it by
    "-w", "2", "-v", "0",  # name clashes get a suffix (never overwritten: each image is seen)
)
#: The DICOM header elements kept as :attr:`Volume.identifiers`.
PATIENT_KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "AccessionNumber")
_CONVERT_HINT = "export the series again from the scanner or PACS, or convert it to NIfTI (e.g. with dcm2niix)"


def load_dicom_series(folder: Path | str, *, allow_constant: bool = False, max_voxels: int | None = None) -> Volume:
    """Read the one DICOM series in ``folder`` as a validated 3D :class:`Volume`.

    Parameters
    ----------
    folder : path-like
        A folder holding exactly one DICOM image series (classic or enhanced). Other files
        (non-DICOM notes, DICOMDIR) are ignored; sub-folders are not searched.
    allow_constant : bool
        Accept an all-zero or constant image.
    max_voxels : int, optional
        Voxel ceiling (:func:`b12brain.io.validate.max_voxels`), checked on the headers before
        any pixel is decoded.

    Returns
    -------
    Volume
        ``data`` is (X, Y, Z) float32 with X along the DICOM rows (columns index), Y along
        the columns, Z up the slice normal; ``affine`` maps voxels to RAS+ mm; ``metadata``
        the BIDS fields dcm2niix writes, without patient identifiers, plus ``StudyDate``,
        ``StudyInstanceUID`` and ``SeriesInstanceUID``; ``identifiers`` the patient's
        (:func:`patient_identifiers`).

    Raises
    ------
    InputFileError
        No series, several series, non-image objects, mosaics, multi-volume series,
        missing/duplicated slices, mixed orientations or sizes, unreadable or truncated files,
        pixel data that cannot be decoded, a converted geometry that disagrees with the headers;
        or the image fails the same checks as a NIfTI (:mod:`b12brain.io.validate`).
    HeaderError
        Unusable geometry: missing or zero PixelSpacing, zero ImageOrientationPatient, absurd
        voxel sizes, more voxels than the ceiling.
    """
    folder = Path(folder)
    name = str(folder)
    if not folder.is_dir():
        raise InputFileError(name, "is not a folder; expected a folder holding one DICOM series")
    headers = read_series_headers(folder, max_voxels=max_voxels)
    first = headers.frames[0]
    shape = (first.columns, first.rows, len(headers.frames))  # checked by read_series_headers
    expected = header_affine(headers.frames)
    with tempfile.TemporaryDirectory(prefix="b12brain-dicom-") as tmp:
        nifti, sidecar = _convert(headers, Path(tmp))
        try:
            converted = load_nifti(nifti, allow_constant=allow_constant, max_voxels=max_voxels)
            metadata = read_sidecar(sidecar) if sidecar.is_file() else {}
        except PathError as err:  # the temporary file's name means nothing to the user
            raise type(err)(name, err.problem) from err
        except (JSONProblem, OSError) as err:
            raise InputFileError(name, f"dcm2niix wrote an unreadable sidecar ({err}); {_CONVERT_HINT}") from err
    data, affine = _as_stored(name, converted, expected, shape)
    reader_warnings = tuple(QCWarning(w.code, name, w.message) for w in converted.warnings)
    return Volume(
        data, affine, name, reader_warnings + _thickness_warning(name, headers.frames),
        metadata=_with_identifiers(metadata, headers), identifiers=patient_identifiers(headers.first),
    )


def header_affine(frames: tuple[Frame, ...] | list[Frame]) -> npt.NDArray[np.float64]:
    """Voxel-to-RAS+ affine of frames sorted up their slice normal, from their headers alone.

    Axis x runs along the rows (ImageOrientationPatient's row cosines, column spacing), y along
    the columns, z from the first slice's position to the last one's (one slice: the normal,
    1 mm, which :func:`~b12brain.io.validate.check_shape` refuses anyway).

    Examples
    --------
    >>> f = [Frame("a", np.array([10.0, 20.0, 30.0 + 3 * k]), np.array([1.0, 0, 0, 0, 1, 0]), 8, 8, (0.8, 0.5), True)
    ...      for k in range(2)]
    >>> header_affine(f) @ [2, 5, 1, 1]
    array([-11., -24.,  33.,   1.])
    """
    first, last = frames[0], frames[-1]
    row, column = first.orientation[:3], first.orientation[3:]
    step = (last.position - first.position) / (len(frames) - 1) if len(frames) > 1 else np.cross(row, column)
    affine = np.eye(4)
    affine[:3, :3] = _LPS_TO_RAS @ np.column_stack([row * first.pixel_spacing[1], column * first.pixel_spacing[0], step])
    affine[:3, 3] = _LPS_TO_RAS @ first.position
    return affine


def _convert(headers: SeriesHeaders, work: Path) -> tuple[Path, Path]:
    """Run dcm2niix on exactly the series' files (linked into ``work``); its NIfTI and sidecar."""
    import dcm2niix  # the PyPI wheel ships the binary

    name = headers.folder
    inbox, out = work / "in", work / "out"
    inbox.mkdir()
    out.mkdir()
    for i, path in enumerate(headers.files):
        link = inbox / f"{i:05d}.dcm"
        order = _frame_order(headers, path)
        if order is None:
            link.symlink_to(path.resolve())
        else:
            _write_frames_in_order(path, order, link)
    try:
        done = subprocess.run(
            [str(dcm2niix.bin), *_DCM2NIIX_ARGS, "-o", str(out), str(inbox)],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=DCM2NIIX_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise InputFileError(name, f"dcm2niix did not convert the series within {DCM2NIIX_TIMEOUT_S} s; {_CONVERT_HINT}") from err
    except OSError as err:
        raise ResourceError(f"{dcm2niix.bin}: dcm2niix cannot be started ({err.strerror}); reinstall b12brain "
                            "(pip install --force-reinstall dcm2niix)") from err
    images = sorted(out.glob("*.nii"))
    if done.returncode != 0 or not images:
        detail = _dcm2niix_says(done.stdout + done.stderr, headers, work)
        raise InputFileError(
            name,
            f"dcm2niix could not convert the series (exit code {done.returncode}{f': {detail}' if detail else ''}); "
            f"{_CONVERT_HINT}",
        )
    if len(images) > 1:
        parts = ", ".join(p.name.removeprefix("series").removesuffix(".nii") or "(first)" for p in images[:6])
        raise InputFileError(
            name,
            f"dcm2niix split the series into {len(images)} images (parts {parts}) although its slices form one regular "
            "grid: they differ in another header field (image type, study time, echo...); "
            f"{_CONVERT_HINT}",
        )
    shape = tuple(nib.load(images[0]).header.get_data_shape())  # type: ignore[attr-defined]
    if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
        raise InputFileError(
            name,
            f"this series holds {int(np.prod(shape[3:]))} volumes (dcm2niix made a {'×'.join(map(str, shape))} image): "
            "a DWI, fMRI, perfusion or multi-echo series, not one 3D scan such as a FLAIR or T1; "
            "pass the FLAIR's (or T1's) series",
        )
    return images[0], images[0].with_suffix(".json")


def _frame_order(headers: SeriesHeaders, path: Path) -> list[int] | None:
    """The frames of a compressed multi-frame file in slice order, or None when they already are
    (or the file is single-frame or uncompressed).

    dcm2niix 1.0.20260724 stacks the frames of a compressed multi-frame file in the order they
    are stored, whatever their positions (found by b12brain's tests: a Legacy Converted Enhanced
    MR file whose frames run downwards came out upside down); uncompressed files are sorted.
    """
    syntax = headers.syntaxes.get(path)
    if syntax is None or not syntax.is_compressed:
        return None
    sorted_indices = [f.index for f in headers.frames if f.path == path]
    if len(sorted_indices) < 2 or sorted_indices == sorted(sorted_indices):
        return None
    return sorted_indices


def _write_frames_in_order(path: Path, order: list[int], target: Path) -> None:
    """A copy of a compressed multi-frame file with its frames (pixel data and per-frame groups)
    in ``order``; the compressed frames are moved, not decoded."""
    dataset = pydicom.dcmread(path)
    frames = list(pydicom.encaps.generate_frames(dataset.PixelData, number_of_frames=len(order)))
    per_frame = dataset.PerFrameFunctionalGroupsSequence
    dataset.PixelData = pydicom.encaps.encapsulate([frames[i] for i in order])
    dataset.PerFrameFunctionalGroupsSequence = pydicom.Sequence([per_frame[i] for i in order])
    dataset.save_as(target)


def _dcm2niix_says(output: bytes, headers: SeriesHeaders, work: Path) -> str:
    """dcm2niix's error lines, without paths or any identifying text seen in the headers."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    picked = [line for line in lines if line.lower().startswith("error")] or [
        line for line in lines if line.lower().startswith("warning")
    ]
    text = " / ".join(picked[:2]).replace(str(work), "<temporary folder>")
    for identifier in sorted(headers.identifiers, key=len, reverse=True):
        text = text.replace(identifier, "<removed>")
    return text[:300]


def _as_stored(
    name: str, volume: Volume, expected: npt.NDArray[np.float64], shape: tuple[int, int, int]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The converted image flipped/transposed onto the headers' axes, after checking both agree.

    dcm2niix flips the rows (and may reverse the slices) for NIfTI viewers; this undoes it, so
    the array has the layout of the DICOM itself, whatever its orientation.
    """
    got = volume.affine[:3, :3] / np.linalg.norm(volume.affine[:3, :3], axis=0)
    want = expected[:3, :3] / np.linalg.norm(expected[:3, :3], axis=0)
    cosines = want.T @ got  # [header axis, converted axis]
    target = np.argmax(np.abs(cosines), axis=0)
    matched = cosines[target, np.arange(3)]
    if sorted(target.tolist()) != [0, 1, 2] or np.min(np.abs(matched)) < 0.999:
        raise InputFileError(name, f"dcm2niix's image axes do not match the slice headers' orientation; {_CONVERT_HINT}")
    orientation = np.column_stack([target, np.sign(matched)])
    # A flipped view of the (Fortran-ordered) NIfTI data, copied in the same order: a C-order copy
    # would cost a strided pass over the whole volume (a second for 256×256×192).
    data = np.asfortranarray(nib.orientations.apply_orientation(volume.data, orientation))
    affine = volume.affine @ nib.orientations.inv_ornt_aff(orientation, volume.shape)
    if data.shape != shape:
        raise InputFileError(
            name, f"dcm2niix made a {'×'.join(map(str, data.shape))} image, the slice headers describe "
            f"{'×'.join(map(str, shape))}; {_CONVERT_HINT}",
        )
    corners = np.array([[i, j, k, 1.0] for i in (0, data.shape[0] - 1) for j in (0, data.shape[1] - 1) for k in (0, data.shape[2] - 1)])
    off = float(np.max(np.linalg.norm((corners @ affine.T - corners @ expected.T)[:, :3], axis=1)))
    if off > GEOMETRY_TOL_MM:
        raise InputFileError(
            name,
            f"dcm2niix's geometry differs from the slice headers' by {off:.2f} mm at a corner of the image "
            f"(more than {GEOMETRY_TOL_MM} mm), so the position of every voxel is uncertain; {_CONVERT_HINT}",
        )
    return data, expected


def _with_identifiers(metadata: dict[str, Any], headers: SeriesHeaders) -> dict[str, Any]:
    """dcm2niix's fields plus the study date and UIDs (kept to match follow-up scans), with any
    value that repeats the patient's name or ID left out."""
    first = headers.first
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "Modality"):
        value = str(first.get(key, "") or "").strip()
        if value and key not in metadata:
            metadata[key] = value
    date = str(first.get("StudyDate", "") or "").strip()
    if len(date) == 8 and date.isdigit():
        metadata["StudyDate"] = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    personal = {str(first.get(k, "") or "").strip() for k in ("PatientName", "PatientID")} - {""}
    return {
        key: value for key, value in metadata.items()
        if not (isinstance(value, str) and any(len(p) >= 3 and p in value for p in personal))
    }


def patient_identifiers(dataset: pydicom.Dataset) -> dict[str, str]:
    """The patient identifiers of a DICOM header that are present, as text exactly as stored
    (``PatientName`` in DICOM's ``FAMILY^GIVEN`` form, ``PatientBirthDate`` as ``YYYYMMDD``)."""
    found = {key: str(dataset.get(key, "") or "").strip() for key in PATIENT_KEYWORDS}
    return {key: value for key, value in found.items() if value}


def _thickness_warning(name: str, frames: tuple[Frame, ...]) -> tuple[QCWarning, ...]:
    lacking = sum(not f.has_thickness for f in frames)
    if not lacking:
        return ()
    return (
        QCWarning(
            "dicom.slice_thickness_missing",
            name,
            f"SliceThickness is missing or 0 in {lacking} of {len(frames)} slices; the slice spacing was taken "
            "from the slice positions (ImagePositionPatient), as always",
        ),
    )
