"""Writes a :class:`~b12brain.followup.compare.FollowupResult` to a folder, all at once or not at all.

Files (every image on the reference visit's FLAIR grid and affine):

* ``followup_change.nii.gz`` (uint8): 0 none, 1 stable, 2 enlarging, 3 shrinking, 4 new,
  5 resolved (where the lesion was at the previous visit); ``followup_groups.nii.gz`` (uint16):
  the lesion group of each voxel (``group`` in ``followup_lesions.csv``);
* ``followup_lesions.csv``: one row per lesion group: category, merge/split, class, and per
  visit the lesion ids (as in that run's ``lesions.csv``) and volume (mL);
* ``followup.json``: visits, dates, registration figures, comparability, per-class change,
  thresholds and rules, warnings, the disclaimer;
* ``followup_timeline.png`` (lesion volumes per class and caps/lining as measured on the aligned
  scans) and ``followup_slices.png``; ``b12brain-manifest.json`` last.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from b12brain import __version__
from b12brain.clinical import DISCLAIMER
from b12brain.followup.compare import FollowupResult
from b12brain.followup.markers import MarkerDraw
from b12brain.followup.match import CHANGE_LABELS
from b12brain.followup.plots import write_change_slices, write_timeline
from b12brain.io import save_nifti
from b12brain.io.outdir import staged_output_dir

#: 1.1: caps/lining change and each visit's joint_lesion_ml_by_class["caps_lining"] measured on the aligned
#: scans (1.0: the runs' own caps/lining volumes).
FOLLOWUP_SCHEMA_VERSION = "1.1"
FILE_NAMES = ("followup_change.nii.gz", "followup_groups.nii.gz", "followup_lesions.csv", "followup.json",
              "followup_timeline.png", "followup_slices.png")


def write_followup(
    result: FollowupResult,
    out_dir: Path | str,
    *,
    markers: Sequence[MarkerDraw] = (),
    treatment_start: date | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> dict[str, Path]:
    """Write every output of ``result`` into ``out_dir``; return the paths by name.

    Raises
    ------
    OutputError
        ``out_dir`` is not usable or writing fails; nothing is written then.
    """
    out_dir = Path(out_dir)
    ref = result.reference
    inputs = [v.run_dir for v in result.visits] + [v.flair_path for v in result.visits]
    need = 6 * int(np.prod(ref.shape)) + (8 << 20)
    with staged_output_dir(out_dir, overwrite=overwrite, inputs=inputs, need_bytes=need, command=command) as stage:
        save_nifti(result.change_map, ref.affine, stage / "followup_change.nii.gz", dtype=np.uint8,
                   geometry=ref.nifti_geometry)
        save_nifti(result.group_map, ref.affine, stage / "followup_groups.nii.gz", dtype=np.uint16,
                   geometry=ref.nifti_geometry)
        _write_csv(result, stage / "followup_lesions.csv")
        write_timeline(result, stage / "followup_timeline.png", markers=markers, treatment_start=treatment_start)
        write_change_slices(result, stage / "followup_slices.png")
        document = describe(result, markers=markers, treatment_start=treatment_start)
        (stage / "followup.json").write_text(json.dumps(document, indent=2) + "\n")
    return {name: out_dir / name for name in FILE_NAMES}


def describe(result: FollowupResult, *, markers: Sequence[MarkerDraw] = (),
             treatment_start: date | None = None) -> dict[str, Any]:
    """The content of ``followup.json`` (schema :data:`FOLLOWUP_SCHEMA_VERSION`)."""
    by_class = result.ml_by_class()
    visits = []
    for visit, alignment, ml, joint in zip(result.visits, result.alignments, by_class, result.joint_ml_by_class()):
        entry: dict[str, Any] = {
            "run_dir": str(visit.run_dir.absolute()), "date": visit.date.isoformat(), "date_source": visit.date_source,
            "flair": str(visit.flair_path), "flair_sha256": visit.flair_sha256, "voxel_mm": list(visit.voxel_mm),
            "slice_mm": visit.slice_mm, "field_strength_t": visit.field_t, "segmentation": visit.model,
            "identifiers_present": sorted(visit.identifiers), "lesion_ml_by_class": _rounded(ml),
            "joint_lesion_ml_by_class": _rounded(joint),
        }
        if alignment is None:
            entry["registration"] = "reference"
        else:
            entry["registration"] = {
                "normalised_correlation": round(alignment.correlation, 4),
                "reference_head_covered": round(alignment.coverage, 4), "good_enough": alignment.good_enough,
                "rotation_deg": [round(a, 3) for a in alignment.rotation_deg],
                "shift_mm": [round(a, 3) for a in alignment.shift_mm],
            }
        visits.append(entry)
    return {
        "schema_version": FOLLOWUP_SCHEMA_VERSION,
        "software": {"name": "b12brain", "version": __version__},
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "reference": "the latest visit; earlier visits are aligned to its grid",
        "visits": visits,
        "treatment_start": treatment_start.isoformat() if treatment_start else None,
        "comparable": result.comparable,
        "warnings": [w.as_dict() for w in result.warnings],
        "categories": result.category_counts(),
        "category_between": [result.dates[-2], result.dates[-1]],
        "lesion_ml_change_by_class": {k: _rounded(v) for k, v in result.change_by_class().items()},
        "lesion_ml_change_method": "lesion classes and caps_lining: measured jointly on the reference grid "
        "(rules.volume_change; each visit's joint_lesion_ml_by_class); each visit's lesion_ml_by_class: as its run "
        "measured it",
        "change_labels": {str(v): k for k, v in CHANGE_LABELS.items()} | {"0": "no lesion"},
        "rules": result.rules(),
        "markers": [{"date": d.date.isoformat(), **d.values} for d in markers],
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in values.items()}


def _write_csv(result: FollowupResult, path: Path) -> None:
    rows = [group.as_row(result.dates) for group in result.groups]
    fields = ["group", "category", "event", "lesion_class", "note"]
    fields += [f"{kind}_{d}" for d in result.dates for kind in ("ids", "ml", "joint_ml")]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
