"""Shared data types: the :class:`Volume` every stage passes along."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from b12brain.geometry import voxel_spacing_mm, voxel_volume_ml

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Affine = npt.NDArray[np.float64]


@dataclass(frozen=True)
class QCWarning:
    """Something a reader of the results must know: the run went on, but a figure may be off.

    Every warning is recorded in ``summary.json`` (``warnings``), printed on stderr and shown
    on the QC image.

    Parameters
    ----------
    code : str
        Stable identifier, ``"<area>.<what>"`` (e.g. ``"header.qform_sform_disagree"``).
    source : str
        The file (or stage) it concerns.
    message : str
        One sentence: what was seen and what b12brain did about it.
    """

    code: str
    source: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "source": self.source, "message": self.message}

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True, eq=False)
class NiftiGeometry:
    """A NIfTI file's spatial header fields, kept so that outputs carry them unchanged.

    Parameters
    ----------
    sform : (4, 4) ndarray of float64
        ``srow_x``, ``srow_y``, ``srow_z`` as stored, plus ``[0, 0, 0, 1]``.
    sform_code, qform_code : int
        The stored codes (0 unknown, 1 scanner, 2 aligned, 3 Talairach, 4 MNI, 5 template).
    quatern : (6,) tuple of float
        ``quatern_b``, ``quatern_c``, ``quatern_d``, ``qoffset_x``, ``qoffset_y``, ``qoffset_z``.
    pixdim : (4,) tuple of float
        ``pixdim[0]`` (qfac) and the three voxel sizes as stored.
    xyzt_units : int
        The stored units code.
    """

    sform: Affine
    sform_code: int
    qform_code: int
    quatern: tuple[float, float, float, float, float, float]
    pixdim: tuple[float, float, float, float]
    xyzt_units: int


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image on a voxel grid.

    Parameters
    ----------
    data : (X, Y, Z) ndarray
        Voxel values, indexed as the file stores them.
    affine : (4, 4) ndarray of float64
        Maps voxel indices ``(i, j, k, 1)`` to RAS+ world millimetres (the NIfTI convention).
    source : str
        Where the volume came from (a path, or a description for generated data).
    warnings : tuple of QCWarning
        What the reader noticed in the file and worked around (header oddities); carried into
        the run's results.
    nifti_geometry : NiftiGeometry or None
        The input file's sform/qform fields when it was a NIfTI; outputs on this grid are
        written with them unchanged. ``None`` for DICOM or generated data.
    metadata : mapping
        The acquisition's description as BIDS sidecar fields with their BIDS names and units
        (``SeriesDescription``, ``EchoTime`` in seconds...): what dcm2niix wrote for a DICOM
        series, or the sidecar beside a NIfTI; empty when unknown. Never patient identifiers.
    identifiers : mapping of str to str
        The patient's and study's identifiers as the DICOM headers give them (``PatientID``,
        ``PatientName``, ``PatientBirthDate``, ``AccessionNumber``); empty for other sources.
        Written only into a run's ``subject`` record (:mod:`b12brain.subject`), never in a message.
    """

    data: npt.NDArray[Any]
    affine: Affine
    source: str = field(default="<memory>")
    warnings: tuple[QCWarning, ...] = ()
    nifti_geometry: NiftiGeometry | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    identifiers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise ValueError(f"Volume data must be 3D, not {self.data.ndim}D")
        if self.affine.shape != (4, 4):
            raise ValueError(f"Volume affine must be (4, 4), not {self.affine.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        x, y, z = self.data.shape
        return (int(x), int(y), int(z))

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, in mm."""
        x, y, z = voxel_spacing_mm(self.affine)
        return (float(x), float(y), float(z))

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (1 mL = 1000 mm³)."""
        return voxel_volume_ml(self.affine)

    def with_data(self, data: npt.NDArray[Any], source: str | None = None) -> Volume:
        """Same grid, other voxel values."""
        return Volume(
            data, self.affine, self.source if source is None else source, self.warnings, self.nifti_geometry,
            self.metadata, self.identifiers,
        )
