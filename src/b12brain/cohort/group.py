"""The group level: one table of the cohort (TSV and Parquet), a summary and the QC gallery, in
``OUTPUT_DIR/group/`` (published whole, with its manifest).

One row per subject (and session) of the dataset: the participant's age, sex, labs (canonical
units, :mod:`b12brain.labs.fields`) with cB12 and its category, the lesion metrics of the
participant level, the risk factors as given, the QC flags (QC warnings of the run, problems of
the inputs) and the row's ``status``: ``ok`` (verified outputs), ``failed`` (the run refused or
failed; ``error`` says why) or ``skipped`` (not run: no usable FLAIR, or not run yet).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from b12brain.cohort.bids_derivative import read_summary, scan_folder
from b12brain.cohort.bids_index import CohortIndex, ScanJob
from b12brain.cohort.bids_participants import LAB_COLUMNS, PASSTHROUGH_COLUMNS, Participants
from b12brain.cohort.engine import read_logs
from b12brain.cohort.gallery import write_gallery
from b12brain.errors import B12BrainError
from b12brain.io.manifest import manifest_problem
from b12brain.io.outdir import staged_output_dir
from b12brain.quantify.lesions import LESION_CLASSES

LESION_COLUMNS = (*(f"{c}_ml" for c in LESION_CLASSES), "total_lesion_ml", "brain_ml",
                  "fazekas_periventricular", "fazekas_deep")
#: The group table's columns, in order (the contract the cohort statistics read).
GROUP_COLUMNS = ("participant_id", "session_id", "age", "sex", *LAB_COLUMNS, "cb12", "cb12_category",
                 *LESION_COLUMNS, *PASSTHROUGH_COLUMNS, "qc_flags", "self_check", "status", "error")
GROUP_FOLDER = "group"
TABLE_NAME = "b12brain_group"
STATISTICS_FOLDER = "statistics"
FLAG_SEPARATOR = " | "


@dataclass(frozen=True)
class GroupResult:
    """The group table and where the group level wrote it."""

    table: pd.DataFrame
    folder: Path
    counts: dict[str, int]


def build_group_table(index: CohortIndex, participants: Participants, out_dir: Path,
                      *, all_participants: bool = True) -> pd.DataFrame:
    """One row per job of ``index`` (and, with ``all_participants``, per participant without
    any scan folder); see the module docstring for the columns."""
    logs = read_logs(out_dir)
    rows = [_row(job, participants, out_dir, logs) for job in index.jobs]
    if all_participants:
        have = {job.participant_id for job in index.jobs}
        for participant_id, session_id in participants.values:
            if participant_id not in have:
                job = ScanJob(participant_id, session_id, problem=f"{participant_id}: in the participants table but "
                              "no scan folder in the dataset")
                rows.append(_row(job, participants, out_dir, logs))
    table = pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
    return table.astype({"fazekas_periventricular": "Int64", "fazekas_deep": "Int64"})


def write_group_outputs(table: pd.DataFrame, out_dir: Path, *, notes: tuple[str, ...] = (),
                        command: str | None = None) -> GroupResult:
    """Write ``group/``: the table as ``b12brain_group.tsv`` and ``.parquet``, ``summary.json``
    (counts by status, every scan that is not ``ok`` and why, dataset notes) and
    ``qc_gallery.html``; all at once or nothing."""
    folder = out_dir / GROUP_FOLDER
    counts = {status: int((table["status"] == status).sum()) for status in ("ok", "failed", "skipped")}
    with staged_output_dir(folder, overwrite=True, command=command) as stage:
        table.to_csv(stage / f"{TABLE_NAME}.tsv", sep="\t", index=False, na_rep="n/a")
        table.to_parquet(stage / f"{TABLE_NAME}.parquet", index=False)
        not_ok = table[table["status"] != "ok"]
        summary = {"rows": len(table), "by_status": counts, "dataset_notes": list(notes),
                   "not_ok": [{"participant_id": r.participant_id, "session_id": r.session_id, "status": r.status,
                               "error": r.error} for r in not_ok.itertuples()],
                   "statistics": run_statistics(table, stage)}
        (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        write_gallery(table, stage / "qc_gallery.html")
    return GroupResult(table, folder, counts)


def run_statistics(table: pd.DataFrame, folder: Path) -> str:
    """Run the cohort statistics (:func:`b12brain.cohort.stats.run_cohort_stats`) on the group table
    into ``folder/statistics``; returns what was done, for ``summary.json``.

    A table the statistics cannot use (too few scans, no lab column) is said so here and the rest of
    the group level is still written.
    """
    from b12brain.cohort.stats import run_cohort_stats

    try:
        stats = run_cohort_stats(table, folder / STATISTICS_FOLDER, source=f"{TABLE_NAME}.tsv")
    except B12BrainError as error:
        return f"not run: {error}"
    return f"{len(stats.effects)} models fitted on {len(stats.data.frame)} subjects: {STATISTICS_FOLDER}/summary.html"


def scan_measures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The group table's figures of one scan from its ``summary.json``: lesion volume per class and
    in all, brain volume, Fazekas estimates, and the self-check's rating ('' when it was not run)."""
    lesions, fazekas = summary["lesions"], summary["fazekas_estimate"]
    return {**{f"{c}_ml": lesions["ml_by_class"][c] for c in LESION_CLASSES},
            "total_lesion_ml": lesions["lesion_ml"], "brain_ml": lesions["brain_ml"],
            "fazekas_periventricular": fazekas["periventricular"], "fazekas_deep": fazekas["deep"],
            "self_check": (summary.get("self_check") or {}).get("rating", "")}


def _row(job: ScanJob, participants: Participants, out_dir: Path, logs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    values, flags = participants.lookup(job.participant_id, job.session_id)
    flags += list(job.notes)
    row: dict[str, Any] = {"participant_id": job.participant_id, "session_id": job.session_id, **values,
                           **dict.fromkeys(LESION_COLUMNS), "self_check": "", "error": ""}
    if not job.runnable:
        row.update(status="skipped", error=job.problem)
    elif (problem := manifest_problem(scan_folder(out_dir, job))) is None:
        summary = read_summary(out_dir, job)
        row.update(scan_measures(summary), status="ok")
        flags += [f"{w['code']}: {w['message']}" for w in summary.get("warnings", [])]
    elif (log := logs.get(job.key)) is not None and log.get("status") == "failed":
        row.update(status="failed", error=log.get("error", ""))
    elif scan_folder(out_dir, job).exists():
        row.update(status="failed", error=f"{scan_folder(out_dir, job)}: {problem}")
    else:
        row.update(status="skipped", error="not run yet: run the participant level first")
    row["qc_flags"] = FLAG_SEPARATOR.join(flags)
    return row
