"""Reading scans (NIfTI files, DICOM series folders) into :class:`~b12brain.types.Volume` and
writing results back, atomically."""

from b12brain.io.load import load_volume
from b12brain.io.nifti import save_nifti

__all__ = ["load_volume", "save_nifti"]
