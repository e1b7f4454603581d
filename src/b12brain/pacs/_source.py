"""The source DICOM series of a run, re-read with pixel data, and each frame's place on the FLAIR grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset

from b12brain.errors import InputFileError

#: Patient and General Study attributes of type 2 (PS3.3 C.7.1.1, C.7.2.1), which the objects
#: derived from the series copy: some writers leave them out instead of empty.
_TYPE2_PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                        "ReferringPhysicianName", "StudyID", "AccessionNumber")
#: A frame pixel must fall within this fraction of a voxel of a grid point to be mapped onto it:
#: well above the header-to-converted-geometry differences the reader accepts (0.05 mm at a corner,
#: docs/dicom.md), well below the half voxel at which a pixel would land on another voxel.
_GRID_TOLERANCE_VOXELS = 0.25


@dataclass(frozen=True)
class SourceFrame:
    """One frame of the source series: its dataset, its frame number (1-based; 1 for a
    single-frame image) and the voxel indices of its pixels on the FLAIR grid."""

    dataset: Dataset
    number: int
    voxels: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]


def read_source_series(folder: Path | str, series_uid: str) -> list[Dataset]:
    """The image datasets of series ``series_uid`` in ``folder`` (pixel data included), by path.

    Raises
    ------
    InputFileError
        No image of that series is left in the folder (moved or changed since the run read it).
    """
    folder = Path(folder)
    datasets: list[Dataset] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except (pydicom.errors.InvalidDicomError, OSError, ValueError):
            continue  # notes, thumbnails, DICOMDIR: the reader left them out too
        if ds.get("SeriesInstanceUID") == series_uid and "PixelData" in ds:
            if "SOPClassUID" not in ds:  # some writers keep it in the file meta only
                ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
            for keyword in _TYPE2_PATIENT_STUDY:  # type 2: present, empty when unknown (in memory only)
                if keyword not in ds:
                    setattr(ds, keyword, "")
            datasets.append(ds)
    if not datasets:
        raise InputFileError(folder, f"no image of series {series_uid} is there any more; give the DICOM "
                             "series the run read, unchanged")
    return datasets


def place_frames(datasets: list[Dataset], affine: npt.NDArray[np.float64], shape: tuple[int, ...]) -> list[SourceFrame]:
    """Map every pixel of every source frame onto the voxel of the FLAIR grid (RAS ``affine``,
    ``shape``) at its position, from the frame's own ImagePositionPatient, ImageOrientationPatient
    and PixelSpacing (per-frame functional groups for multi-frame images); never by index.

    Raises
    ------
    InputFileError
        A frame's pixels are not on the grid's points (the series is not the one the run read).
    """
    to_voxel = np.linalg.inv(affine)
    frames = []
    for ds in datasets:
        for number, (position, orientation, spacing) in enumerate(_frame_geometry(ds), start=1):
            rows, cols = int(ds.Rows), int(ds.Columns)
            row_dir, col_dir = orientation[:3], orientation[3:]
            r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
            # DICOM: pixel (r, c) lies at IPP + c * column spacing * row direction + r * row spacing * column direction.
            lps = position + c[..., None] * spacing[1] * row_dir + r[..., None] * spacing[0] * col_dir
            ras = lps * np.array([-1.0, -1.0, 1.0])
            ijk = ras @ to_voxel[:3, :3].T + to_voxel[:3, 3]
            rounded = np.rint(ijk)
            if np.abs(ijk - rounded).max() > _GRID_TOLERANCE_VOXELS or (rounded < 0).any() or (
                rounded >= np.asarray(shape[:3])
            ).any():
                raise InputFileError(ds.filename or "source series", f"frame {number} does not lie on the grid of the "
                                     "FLAIR the run read; give the DICOM series the run read, unchanged")
            index = rounded.astype(np.intp)
            frames.append(SourceFrame(ds, number, (index[..., 0], index[..., 1], index[..., 2])))
    return frames


def _frame_geometry(ds: Dataset) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """(ImagePositionPatient, ImageOrientationPatient, PixelSpacing) of each frame of ``ds``."""
    if "PerFrameFunctionalGroupsSequence" not in ds:
        return [(np.asarray(ds.ImagePositionPatient, float), np.asarray(ds.ImageOrientationPatient, float),
                 np.asarray(ds.PixelSpacing, float))]
    shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else Dataset()
    geometry = []
    for frame in ds.PerFrameFunctionalGroupsSequence:
        def item(name: str) -> Dataset:
            return (frame if name in frame else shared)[name][0]  # type: ignore[no-any-return]

        geometry.append((np.asarray(item("PlanePositionSequence").ImagePositionPatient, float),
                         np.asarray(item("PlaneOrientationSequence").ImageOrientationPatient, float),
                         np.asarray(item("PixelMeasuresSequence").PixelSpacing, float)))
    return geometry
