"""One entry point that picks the reader from the path."""

from __future__ import annotations

from pathlib import Path

from b12brain.errors import InputFileError
from b12brain.io.nifti import is_nifti_path, load_nifti
from b12brain.types import Volume


def load_volume(path: Path | str, *, allow_constant: bool = False) -> Volume:
    """Load a scan as a validated 3D :class:`Volume`.

    Parameters
    ----------
    path : path-like
        A NIfTI file (``.nii``, ``.nii.gz``) or a folder holding one DICOM series.
    allow_constant : bool
        Accept an all-zero or constant image (masks); scans never are.

    Raises
    ------
    InputFileError
        The path is missing, unsupported, unreadable or holds an unusable image; the message
        names the path and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "does not exist; check the path")
    if path.is_dir():
        from b12brain.io.dicom import load_dicom_series

        return load_dicom_series(path, allow_constant=allow_constant)
    if is_nifti_path(path):
        return load_nifti(path, allow_constant=allow_constant)
    raise InputFileError(path, "unsupported file type; expected NIfTI (.nii, .nii.gz) or a DICOM series folder")
