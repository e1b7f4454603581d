"""One DICOM file's header, read fast: only the elements that say which series it belongs to
and what that series is (``dcmread(stop_before_pixels=True, specific_tags=...)``)."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

#: The elements read from each file; everything else (pixel data, private tags) is skipped.
_TAGS = [
    "SOPClassUID", "Modality", "StudyInstanceUID", "SeriesInstanceUID", "SeriesNumber", "InstanceNumber",
    "SeriesDescription", "ProtocolName", "SequenceName", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "ImageType", "MRAcquisitionType", "RepetitionTime", "EchoTime", "InversionTime", "SeriesDate", "SeriesTime",
    "AcquisitionDate", "AcquisitionTime", "StudyDate", "StudyTime", "StudyDescription", "PatientID",
    "PatientName", "PatientBirthDate", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices", "Rows",
    "Columns", "NumberOfFrames", "ImagePositionPatient", "ImageOrientationPatient", "Manufacturer",
    "ManufacturerModelName", "MagneticFieldStrength", "DiffusionBValue", "NumberOfTemporalPositions",
    "SharedFunctionalGroupsSequence",
]
_TAG_NUMBERS = [pydicom.tag.Tag(keyword) for keyword in _TAGS]  # converted once, not per file
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class FileHeader:
    """What one DICOM file says about its series (times in seconds, lengths in mm)."""

    path: Path
    series_uid: str
    study_uid: str
    patient_key: str  # a hash of the patient's identifiers: for grouping only, never shown
    dataset: pydicom.Dataset  # the elements read (:func:`series_metadata` turns them into metadata)
    series_number: int | None
    b_value: float | None
    sop_class: str
    is_image: bool
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_mm: tuple[float, ...] | None  # row spacing, column spacing
    thickness_mm: float | None
    between_mm: float | None  # SpacingBetweenSlices
    frames: int
    instance: int | None
    date_time: str
    study_date: str
    study_description: str


def starts_like_dicom(path: Path) -> bool:
    """True when the file has the DICOM Part 10 preamble (``DICM`` at byte 128)."""
    try:
        with path.open("rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def read_file_header(path: Path) -> FileHeader | None:
    """The header of the DICOM file ``path``; None for a DICOMDIR or a file that cannot be
    parsed (the caller counts those)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd values are checked by the reader of the chosen series
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAG_NUMBERS)
    except Exception:  # noqa: BLE001 - any file may be damaged: pydicom raises many kinds of error on one
        return None
    sop_class = str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", ""))
    if sop_class == _MEDIA_DIRECTORY or not ds.get("SeriesInstanceUID"):
        return None
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    measures = _first(shared, "PixelMeasuresSequence") if shared is not None else None
    geometry = measures if measures is not None else ds
    uid = pydicom.uid.UID(sop_class)
    name = uid.name if uid.name != sop_class else ""
    return FileHeader(
        path=path,
        series_uid=str(ds.SeriesInstanceUID),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        patient_key=_patient_key(ds),
        dataset=ds,
        series_number=_integer(ds.get("SeriesNumber")),
        b_value=_number(ds.get("DiffusionBValue")),
        sop_class=name or sop_class,
        is_image="Image" in name or _number(ds.get("Rows")) is not None,
        position=_floats(ds.get("ImagePositionPatient"), 3),
        orientation=_floats(ds.get("ImageOrientationPatient"), 6),
        pixel_mm=_floats(geometry.get("PixelSpacing"), 2),
        thickness_mm=_number(geometry.get("SliceThickness")),
        between_mm=_number(geometry.get("SpacingBetweenSlices")),
        frames=int(_number(ds.get("NumberOfFrames")) or 1),
        instance=_integer(ds.get("InstanceNumber")),
        date_time=_date_time(ds),
        study_date=_date(str(ds.get("StudyDate", "") or "")),
        study_description=str(ds.get("StudyDescription", "") or "").strip(),
    )


def series_metadata(ds: pydicom.Dataset) -> dict[str, Any]:
    """BIDS-style metadata (sidecar keys as dcm2niix writes them) from one file's header: DICOM
    milliseconds become seconds; keys without a value are left out."""
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    timing = _first(shared, "MRTimingAndRelatedParametersSequence") if shared is not None else None
    echo = _first(shared, "MREchoSequence") if shared is not None else None
    modifier = _first(shared, "MRModifierSequence") if shared is not None else None
    tr = _number(ds.get("RepetitionTime")) or (_number(timing.get("RepetitionTime")) if timing else None)
    te = _number(ds.get("EchoTime")) or (_number(echo.get("EffectiveEchoTime")) if echo else None)
    ti = _number(ds.get("InversionTime"))
    if ti is None and modifier is not None:
        times = _floats_any(modifier.get("InversionTimes"))
        ti = times[0] if times else None
    elements: dict[str, Any] = {
        "Modality": _text(ds.get("Modality")),
        "Manufacturer": _text(ds.get("Manufacturer")),
        "ManufacturersModelName": _text(ds.get("ManufacturerModelName")),
        "MagneticFieldStrength": _number(ds.get("MagneticFieldStrength")),
        "SeriesDescription": _text(ds.get("SeriesDescription")),
        "ProtocolName": _text(ds.get("ProtocolName")),
        "SequenceName": _text(ds.get("SequenceName")),
        "ScanningSequence": _joined(ds.get("ScanningSequence")),
        "SequenceVariant": _joined(ds.get("SequenceVariant")),
        "ScanOptions": _joined(ds.get("ScanOptions")),
        "ImageType": [str(v).strip() for v in _values(ds.get("ImageType"))],
        "MRAcquisitionType": _text(ds.get("MRAcquisitionType")),
        "RepetitionTime": None if tr is None else tr / 1000.0,
        "EchoTime": None if te is None else te / 1000.0,
        "InversionTime": None if ti is None else ti / 1000.0,
        "SeriesNumber": _integer(ds.get("SeriesNumber")),
        "SeriesInstanceUID": str(ds.SeriesInstanceUID),
        "StudyInstanceUID": str(ds.get("StudyInstanceUID", "") or ""),
        "SOPClassUID": str(ds.get("SOPClassUID", "") or ""),
    }
    return {key: value for key, value in elements.items() if value not in (None, "", [])}


def _patient_key(ds: pydicom.Dataset) -> str:
    identity = "\\".join(str(ds.get(k, "") or "") for k in ("PatientID", "PatientName", "PatientBirthDate"))
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _date_time(ds: pydicom.Dataset) -> str:
    for day, time in (("SeriesDate", "SeriesTime"), ("AcquisitionDate", "AcquisitionTime"), ("StudyDate", "StudyTime")):
        date = _date(str(ds.get(day, "") or ""))
        if date:
            clock = str(ds.get(time, "") or "").strip()
            return f"{date} {clock[:2]}:{clock[2:4]}:{clock[4:6]}" if len(clock) >= 6 and clock[:6].isdigit() else date
    return ""


def _date(text: str) -> str:
    text = text.strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else ""


def _first(ds: pydicom.Dataset | None, keyword: str) -> pydicom.Dataset | None:
    items = ds.get(keyword) if ds is not None else None
    return items[0] if items else None


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _joined(value: Any) -> str:
    return "_".join(str(v).strip() for v in _values(value))


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _floats_any(value: Any) -> list[float]:
    return [n for n in (_number(v) for v in _values(value)) if n is not None]


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    numbers = _floats_any(value)
    return tuple(numbers) if len(numbers) == count else None
