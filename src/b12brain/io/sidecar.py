"""A scan's acquisition metadata as a BIDS-style sidecar (``scan.json``): read, checked, de-identified.

The keys are those dcm2niix writes (BIDS names and units: times in seconds), e.g.
``SeriesDescription``, ``ProtocolName``, ``EchoTime``, ``InversionTime``, ``MRAcquisitionType``.
What a run keeps and where is described in ``docs/dicom.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from b12brain.io.jsonfile import JSONProblem, parse_json, read_json_bytes
from b12brain.types import QCWarning

#: Keys naming or describing the patient, or people: never kept.
PERSONAL_KEYS = frozenset({
    "PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "PatientSex", "PatientAge", "PatientWeight",
    "PatientSize", "AccessionNumber", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
    "PhysiciansOfRecord", "RequestingPhysician", "StudyID",
})
#: Keys naming the site or the device: kept, but left out with ``--deidentify``.
SITE_KEYS = frozenset({
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName", "DeviceSerialNumber",
})
#: Keys that must be positive numbers (BIDS units: seconds, tesla, mm, degrees).
NUMBER_KEYS = frozenset({
    "RepetitionTime", "EchoTime", "InversionTime", "MagneticFieldStrength", "SliceThickness", "FlipAngle",
    "SpacingBetweenSlices",
})
#: Keys that must be text.
TEXT_KEYS = frozenset({
    "SeriesDescription", "ProtocolName", "SequenceName", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "MRAcquisitionType", "Manufacturer", "ManufacturersModelName", "Modality", "StudyInstanceUID",
    "SeriesInstanceUID", "StudyDate", "AcquisitionDateTime",
})
#: A RepetitionTime, EchoTime or InversionTime above this many seconds was written in ms.
_MAX_SECONDS = 30.0
#: Largest sidecar read (bytes); dcm2niix writes a few kB (slice timing of a long EPI: tens of kB).
MAX_SIDECAR_BYTES = 1 << 20


def sidecar_path(nifti: Path) -> Path:
    """``scan.nii.gz`` / ``scan.nii`` -> ``scan.json`` beside it."""
    stem = nifti.name[: -len(".nii.gz")] if nifti.name.lower().endswith(".nii.gz") else nifti.stem
    return nifti.with_name(f"{stem}.json")


def read_sidecar(path: Path) -> dict[str, Any]:
    """The JSON object of a sidecar, without personal keys.

    Raises
    ------
    JSONProblem
        Larger than :data:`MAX_SIDECAR_BYTES`, not JSON, or not a JSON object.
    OSError
        Unreadable.
    """
    document = parse_json(read_json_bytes(path, MAX_SIDECAR_BYTES))
    if not isinstance(document, dict):
        raise JSONProblem("(top level)", f"a JSON {type(document).__name__}, not an object of BIDS fields")
    return {key: value for key, value in document.items() if key not in PERSONAL_KEYS}


def read_nifti_sidecar(nifti: Path) -> tuple[dict[str, Any], tuple[QCWarning, ...]]:
    """The BIDS sidecar beside a NIfTI input (``{}`` when there is none).

    A sidecar that cannot be used (unreadable, not JSON, not an object) is ignored with a QC
    warning: the image itself is still valid, only its description is lost.
    """
    path = sidecar_path(nifti)
    if not path.is_file():
        return {}, ()
    try:
        metadata = read_sidecar(path)
    except (JSONProblem, OSError) as err:
        reason = f"{err.where}: {err.problem}" if isinstance(err, JSONProblem) else type(err).__name__
        return {}, (QCWarning("sidecar.unusable", str(path), f"the BIDS sidecar was ignored ({reason}); "
                              "no acquisition metadata is recorded for this scan"),)
    bad = sorted(key for key, value in metadata.items() if _type_problem(key, value))
    if not bad:
        return metadata, ()
    problems = "; ".join(f"{key} {_type_problem(key, metadata[key])}" for key in bad[:5])
    return {k: v for k, v in metadata.items() if k not in bad}, (
        QCWarning("sidecar.bad_fields", str(path), f"BIDS sidecar fields left out: {problems}"),
    )


def _type_problem(key: str, value: Any) -> str:
    if key in NUMBER_KEYS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            return f"is {str(value)[:40]!r}, expected a positive number"
        if key.endswith("Time") and value > _MAX_SECONDS:
            return f"is {value:g}, expected seconds (BIDS), not milliseconds"
    if key in TEXT_KEYS and not isinstance(value, str):
        return f"is {str(value)[:40]!r}, expected text"
    if key == "ImageType" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return f"is {str(value)[:40]!r}, expected a list of text"
    return ""


def public_metadata(metadata: Mapping[str, Any], *, deidentify: bool = False) -> dict[str, Any]:
    """The metadata to write into a run's folder: personal keys never, site keys not when ``deidentify``."""
    dropped = PERSONAL_KEYS | (SITE_KEYS if deidentify else frozenset())
    return {key: value for key, value in metadata.items() if key not in dropped}
