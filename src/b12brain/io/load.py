"""One entry point that picks the reader from the path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from b12brain.errors import InputFileError
from b12brain.io.nifti import is_nifti_path, load_nifti
from b12brain.io.sidecar import read_nifti_sidecar
from b12brain.types import Volume


def load_volume(path: Path | str, *, allow_constant: bool = False, max_voxels: int | None = None) -> Volume:
    """Load a scan as a validated 3D :class:`Volume`.

    Parameters
    ----------
    path : path-like
        A NIfTI file (``.nii``, ``.nii.gz``) or a folder holding one DICOM series.
    allow_constant : bool
        Accept an all-zero or constant image (masks); scans never are.
    max_voxels : int, optional
        Refuse a volume with more voxels, before reading any of them. Defaults to
        ``$B12BRAIN_MAX_VOXELS`` or 512³ (:func:`b12brain.io.validate.max_voxels`).

    Returns
    -------
    Volume
        float32 data; ``warnings`` holds what was worked around (see ``docs/input-checks.md``);
        ``nifti_geometry`` the input's sform/qform fields for a NIfTI; ``metadata`` the BIDS
        fields of the DICOM series, or of the sidecar beside a NIfTI (``scan.nii.gz`` ->
        ``scan.json``; an unusable one is ignored with a QC warning).

    Raises
    ------
    InputFileError
        The path is missing, unsupported, unreadable or holds an unusable image; the message
        names the path and the problem.
    ConfigError
        ``max_voxels`` or ``$B12BRAIN_MAX_VOXELS`` is not a positive whole number.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "does not exist; check the path")
    if path.is_dir():
        from b12brain.io.dicom import load_dicom_series

        return load_dicom_series(path, allow_constant=allow_constant, max_voxels=max_voxels)
    if is_nifti_path(path):
        volume = load_nifti(path, allow_constant=allow_constant, max_voxels=max_voxels)
        metadata, sidecar_warnings = read_nifti_sidecar(path)
        return replace(volume, warnings=volume.warnings + sidecar_warnings, metadata=metadata)
    raise InputFileError(path, "unsupported file type; expected NIfTI (.nii, .nii.gz) or a DICOM series folder")
