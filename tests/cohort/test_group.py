"""Group table rows for scans that did not give a result, and a failing scan recorded, not raised."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from b12brain.cohort.bids_index import CohortIndex, ScanJob
from b12brain.cohort.bids_participants import read_participants
from b12brain.cohort.engine import process_scan
from b12brain.cohort.group import GROUP_COLUMNS, build_group_table, write_group_outputs
from b12brain.pipeline import PipelineConfig


def test_scans_without_a_result_get_their_status_and_why(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "logs").mkdir(parents=True)
    (out / "logs" / "sub-02_scan.json").write_text(json.dumps({"key": "sub-02", "status": "failed",
                                                               "error": "x.nii.gz: not a NIfTI file"}))
    (out / "sub-04" / "anat").mkdir(parents=True)
    (out / "sub-04" / "anat" / "mine.txt").write_text("a user's file")
    jobs = (ScanJob("sub-01", problem="sub-01/anat: no *_FLAIR.nii.gz"),
            ScanJob("sub-02", flair=tmp_path / "x.nii.gz"),
            ScanJob("sub-03", flair=tmp_path / "y.nii.gz"),
            ScanJob("sub-04", flair=tmp_path / "z.nii.gz"))
    participants = read_participants(pd.DataFrame({"participant_id": ["sub-01", "sub-02", "sub-05"],
                                                   "age": ["70", "71", "72"]}), source="participants.tsv")
    table = build_group_table(CohortIndex(tmp_path, jobs, True), participants, out)
    assert list(table.columns) == list(GROUP_COLUMNS)
    rows = table.set_index("participant_id")
    assert rows.loc["sub-01", "status"] == "skipped" and "no *_FLAIR" in rows.loc["sub-01", "error"]
    assert rows.loc["sub-02", "status"] == "failed" and rows.loc["sub-02", "error"] == "x.nii.gz: not a NIfTI file"
    assert rows.loc["sub-03", "status"] == "skipped" and "not run yet" in rows.loc["sub-03", "error"]
    assert rows.loc["sub-04", "status"] == "failed" and "b12brain-manifest.json" in rows.loc["sub-04", "error"]
    assert "not in the participants table" in rows.loc["sub-03", "qc_flags"]
    assert rows.loc["sub-05", "status"] == "skipped" and "no scan folder" in rows.loc["sub-05", "error"]
    assert rows.loc["sub-05", "age"] == 72.0 and rows.loc["sub-02", "age"] == 71.0

    result = write_group_outputs(table, out)
    assert result.counts == {"ok": 0, "failed": 2, "skipped": 3}
    summary = json.loads((out / "group" / "summary.json").read_text())
    assert summary["by_status"] == result.counts and "statistics" in summary
    assert [(r["participant_id"], r["status"]) for r in summary["not_ok"]] == [
        ("sub-01", "skipped"), ("sub-02", "failed"), ("sub-03", "skipped"), ("sub-04", "failed"), ("sub-05", "skipped")]
    assert pd.read_parquet(out / "group" / "b12brain_group.parquet").shape == table.shape
    assert (out / "sub-04" / "anat" / "mine.txt").read_text() == "a user's file"


def test_a_scan_b12brain_refuses_is_a_failed_outcome_not_an_exception(tmp_path: Path) -> None:
    flair = tmp_path / "sub-01_FLAIR.nii.gz"
    flair.write_bytes(b"not a NIfTI file")
    outcome = process_scan(ScanJob("sub-01", flair=flair), str(tmp_path / "out"), PipelineConfig(segmenter="classical"),
                           [], None)
    assert outcome.status == "failed" and str(flair) in outcome.error and outcome.worker
    assert not (tmp_path / "out" / "sub-01").exists()


def test_the_group_level_runs_the_cohort_statistics_on_its_table(tmp_path: Path) -> None:
    from b12brain.cohort.simulate import SimulationConfig, simulate_cohort

    table = simulate_cohort(SimulationConfig(n=300, seed=2)).table.assign(status="ok", error="", qc_flags="")
    write_group_outputs(table, tmp_path)
    summary = json.loads((tmp_path / "group" / "summary.json").read_text())
    assert summary["statistics"].endswith("statistics/summary.html") and "on 300 subjects" in summary["statistics"]
    effects = pd.read_csv(tmp_path / "group" / "statistics" / "effects.tsv", sep="\t")
    assert {"b12", "cb12"} <= set(effects["exposure"]) and "periventricular_ml" in set(effects["outcome"])


def test_a_table_the_statistics_cannot_use_still_gets_its_group_outputs(tmp_path: Path) -> None:
    table = pd.DataFrame({"participant_id": ["sub-01"], "session_id": [""], "status": ["failed"], "error": ["x"],
                          "qc_flags": [""]})
    write_group_outputs(table, tmp_path)
    summary = json.loads((tmp_path / "group" / "summary.json").read_text())
    assert summary["statistics"].startswith("not run: ") and (tmp_path / "group" / "b12brain_group.tsv").exists()


def test_a_scans_figures_and_self_check_rating_go_into_its_row() -> None:
    from b12brain.cohort.group import scan_measures

    summary = {"lesions": {"ml_by_class": {"periventricular": 2.0, "deep": 0.5, "juxtacortical": 0.0,
                                           "infratentorial": 0.1}, "lesion_ml": 2.6, "brain_ml": 1100.0},
               "fazekas_estimate": {"periventricular": 2, "deep": 1}}
    row = scan_measures(summary)
    assert (row["periventricular_ml"], row["total_lesion_ml"], row["fazekas_deep"], row["self_check"]) == (2.0, 2.6, 1, "")
    assert scan_measures({**summary, "self_check": {"rating": "amber"}})["self_check"] == "amber"
