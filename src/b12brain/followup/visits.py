"""One visit of a follow-up: what a ``b12brain run`` folder says about a scan, checked.

A run folder must hold ``summary.json`` (schema :data:`SUPPORTED_SCHEMAS`), ``lesions.csv``,
``lesion_labels.nii.gz`` and ``caps_lining_mask.nii.gz``. The patient identifiers and the visit date come from ``summary.json``'s
``subject`` record (schema 1.6, :mod:`b12brain.subject`); the date of an older run, and the
scanner facts, from ``flair.json`` (the BIDS sidecar of the scan) when the folder holds one.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from b12brain.errors import InputFileError
from b12brain.subject import given_fields, parse_date

SUPPORTED_SCHEMAS = ("1.3", "1.4", "1.5", "1.6", "1.7")
SIDECAR_NAME = "flair.json"
_REQUIRED = ("summary.json", "lesions.csv", "lesion_labels.nii.gz", "caps_lining_mask.nii.gz")
#: Largest JSON file read (summary, sidecar): far above any b12brain writes.
_MAX_JSON_BYTES = 16 << 20


@dataclass(frozen=True)
class Visit:
    """One run folder, read and checked (volumes in mL, as the run measured them).

    ``lesion_ml`` and ``lesion_class`` map each lesion id of ``lesion_labels.nii.gz`` to its
    volume and class (``lesions.csv``); ``caps_lining_ml`` is counted apart from lesions.
    ``identifiers`` holds the patient fields of the ``subject`` record that are given.
    """

    run_dir: Path
    date: date
    date_source: str
    flair_path: Path
    flair_sha256: str | None
    flair_series_uid: str | None
    voxel_mm: tuple[float, float, float]
    slice_mm: float
    field_t: float | None
    model: dict[str, Any]
    lesion_ml: dict[int, float]
    lesion_class: dict[int, str]
    caps_lining_ml: float
    identifiers: dict[str, str] = field(default_factory=dict)

    @property
    def labels_path(self) -> Path:
        return self.run_dir / "lesion_labels.nii.gz"

    @property
    def caps_lining_path(self) -> Path:
        return self.run_dir / "caps_lining_mask.nii.gz"

    @property
    def voxel_ml(self) -> float:
        return math.prod(self.voxel_mm) / 1000.0

    def ml_by_class(self, classes: tuple[str, ...]) -> dict[str, float]:
        """Lesion volume (mL) per class, caps/lining apart under ``"caps_lining"``."""
        totals = {name: 0.0 for name in classes}
        for lesion_id, ml in self.lesion_ml.items():
            totals[self.lesion_class[lesion_id]] = totals.get(self.lesion_class[lesion_id], 0.0) + ml
        return totals | {"caps_lining": self.caps_lining_ml}


def read_visit(run_dir: Path | str, *, visit_date: date | None = None, image: Path | str | None = None) -> Visit:
    """Read and check one run folder.

    Parameters
    ----------
    run_dir : path
        A folder written by ``b12brain run``.
    visit_date : date, optional
        The scan's date; default: ``summary.json``'s ``subject.visit_date``, else (older runs)
        ``flair.json``'s ``AcquisitionDateTime`` or ``StudyDate``.
    image : path, optional
        Where the FLAIR is now, when it moved since the run (checked against the run's SHA-256
        by :func:`~b12brain.followup.register.load_checked_flair`).

    Raises
    ------
    InputFileError
        A required file is missing, ``summary.json`` is not valid JSON, has another schema or
        lacks a field, ``lesions.csv`` does not match it, or no date is known.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "is not a folder; give the output folder of a `b12brain run`")
    for name in _REQUIRED:
        if not (run_dir / name).is_file():
            raise InputFileError(run_dir / name, "is missing; give a complete `b12brain run` output folder "
                                 "(rerun `b12brain run` if it was changed)")
    summary_path = run_dir / "summary.json"
    summary = _read_json(summary_path)
    version = summary.get("schema_version")
    if version not in SUPPORTED_SCHEMAS:
        raise InputFileError(summary_path, f"schema_version is {version!r}, this version of b12brain compares "
                             f"runs of schema {', '.join(SUPPORTED_SCHEMAS)}; rerun `b12brain run` on the scan")
    flair = _flair_input(summary, summary_path)
    sidecar = _read_json(run_dir / SIDECAR_NAME) if (run_dir / SIDECAR_NAME).is_file() else {}
    lesion_ml, lesion_class = _read_lesions(run_dir / "lesions.csv")
    voxel = _field(summary_path, flair, "voxel_mm", list)
    if len(voxel) != 3 or not all(isinstance(v, int | float) and v > 0 for v in voxel):
        raise InputFileError(summary_path, f"inputs[flair].voxel_mm is {voxel!r}; expected three positive numbers")
    subject = _mapping(summary.get("subject"))
    found_date: date | None
    if visit_date is not None:
        found_date, source = visit_date, "--dates"
    elif isinstance(subject.get("visit_date"), str):
        found_date = parse_date(subject["visit_date"], f"{summary_path}: subject.visit_date")
        source = f"summary.json subject.visit_date (from {_mapping(subject.get('sources')).get('visit_date', 'the run')})"
    else:
        found_date, source = _visit_date(sidecar, run_dir / SIDECAR_NAME)
    if found_date is None:
        raise InputFileError(run_dir, "no visit date: the run recorded none (its scan had no StudyDate and "
                             "`b12brain run` was given no --date); give the dates with --dates YYYY-MM-DD,...")
    caps = summary.get("caps_lining", {})
    thickness = sidecar.get("SliceThickness")
    field_t = sidecar.get("MagneticFieldStrength")
    settings = _field(summary_path, summary, "settings", dict)
    return Visit(
        run_dir=run_dir,
        date=found_date,
        date_source=source,
        flair_path=Path(image) if image is not None else Path(_field(summary_path, flair, "path", str)),
        flair_sha256=flair.get("sha256"),
        flair_series_uid=flair.get("series_uid") if image is None and isinstance(flair.get("series_uid"), str) else None,
        voxel_mm=(float(voxel[0]), float(voxel[1]), float(voxel[2])),
        slice_mm=float(thickness) if isinstance(thickness, int | float) else float(max(voxel)),
        field_t=float(field_t) if isinstance(field_t, int | float) else None,
        model={k: settings.get(k) for k in ("segmenter", "model_sha256", "threshold", "min_lesion_ml")}
        | {"software_version": summary.get("software", {}).get("version")},
        lesion_ml=lesion_ml,
        lesion_class=lesion_class,
        caps_lining_ml=float(caps.get("ml", 0.0)) if isinstance(caps, dict) else 0.0,
        identifiers=given_fields(subject),
    )


def _visit_date(sidecar: dict[str, Any], path: Path) -> tuple[date | None, str]:
    stamp = sidecar.get("AcquisitionDateTime")
    if isinstance(stamp, str) and len(stamp) >= 10:
        try:
            return datetime.fromisoformat(stamp).date(), f"{path.name} AcquisitionDateTime"
        except ValueError:
            pass
    study = sidecar.get("StudyDate")
    if isinstance(study, str) and study:
        return parse_date(study, f"{path}: StudyDate"), f"{path.name} StudyDate"
    return None, ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _read_json(path: Path) -> dict[str, Any]:
    if path.stat().st_size > _MAX_JSON_BYTES:
        raise InputFileError(path, f"is larger than {_MAX_JSON_BYTES >> 20} MiB; it is not a file b12brain wrote")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputFileError(path, f"is not valid JSON ({err}); rerun `b12brain run` to write it again") from err
    if not isinstance(content, dict):
        raise InputFileError(path, "does not hold a JSON object; rerun `b12brain run` to write it again")
    return content


def _field(path: Path, mapping: dict[str, Any], name: str, kind: type) -> Any:
    value = mapping.get(name)
    if not isinstance(value, kind):
        raise InputFileError(path, f"field {name!r} is missing or not a {kind.__name__}; rerun `b12brain run`")
    return value


def _flair_input(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    inputs = _field(path, summary, "inputs", list)
    flairs = [item for item in inputs if isinstance(item, dict) and item.get("role") == "flair"]
    if len(flairs) != 1:
        raise InputFileError(path, "field 'inputs' names no FLAIR (role 'flair'); rerun `b12brain run`")
    return flairs[0]


def _read_lesions(path: Path) -> tuple[dict[int, float], dict[int, str]]:
    volumes: dict[int, float] = {}
    classes: dict[int, str] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                lesion_id = int(row["id"])
                volumes[lesion_id] = float(row["volume_ml"])
                classes[lesion_id] = str(row["lesion_class"])
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"row {len(volumes) + 1} is unreadable ({err}); expected the columns id, "
                             "volume_ml and lesion_class as `b12brain run` writes them") from err
    return volumes, classes
