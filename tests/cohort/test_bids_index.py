"""Indexing a BIDS dataset or a CSV manifest: one job per subject/session, bad input recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from b12brain.cli.main import main
from b12brain.cohort.bids_index import index_bids, read_manifest
from b12brain.errors import InputFileError


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _touch(root, "dataset_description.json",
           "sub-01/anat/sub-01_FLAIR.nii.gz", "sub-01/anat/sub-01_T1w.nii.gz",
           "sub-02/ses-1/anat/sub-02_ses-1_FLAIR.nii.gz", "sub-02/ses-2/.keep",
           "sub-03/anat/scan_flair.nii.gz",
           "sub-04/anat/sub-04_run-1_FLAIR.nii.gz", "sub-04/anat/sub-04_run-2_FLAIR.nii.gz",
           "sub-05/anat/sub-05_FLAIR.nii", "sub-05/anat/sub-05_acq-a_T1w.nii.gz", "sub-05/anat/sub-05_acq-b_T1w.nii.gz",
           "sub-06/func/sub-06_task-rest_bold.nii.gz", "notes.txt")
    return root


def test_each_subject_and_session_is_one_job_with_its_problem(dataset: Path) -> None:
    jobs = {job.key: job for job in index_bids(dataset).jobs}
    assert sorted(jobs) == ["sub-01", "sub-02_ses-1", "sub-02_ses-2", "sub-03", "sub-04", "sub-05", "sub-06"]
    assert jobs["sub-01"].runnable and jobs["sub-01"].flair == dataset / "sub-01/anat/sub-01_FLAIR.nii.gz"
    assert jobs["sub-01"].t1 == dataset / "sub-01/anat/sub-01_T1w.nii.gz"
    assert jobs["sub-02_ses-1"].runnable and jobs["sub-02_ses-1"].session_id == "1"
    assert "empty session folder" in jobs["sub-02_ses-2"].problem
    assert "scan_flair.nii.gz" in jobs["sub-03"].problem and "not BIDS" in jobs["sub-03"].problem
    assert "several FLAIRs" in jobs["sub-04"].problem and not jobs["sub-04"].runnable
    assert jobs["sub-05"].runnable and jobs["sub-05"].t1 is None and "several T1w" in jobs["sub-05"].notes[0]
    assert "sub-06/anat: missing" in jobs["sub-06"].problem


def test_labels_select_subjects_and_sessions(dataset: Path) -> None:
    index = index_bids(dataset, participant_labels=["sub-02", "07"], session_labels=["1"])
    assert [job.key for job in index.jobs] == ["sub-02_ses-1"]
    assert any("sub-07" in note for note in index.notes)
    with pytest.raises(InputFileError, match="not a BIDS label"):
        index_bids(dataset, participant_labels=["0 1"])


def test_a_folder_without_subjects_is_refused_naming_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _touch(tmp_path / "scans", "flair.nii.gz")
    with pytest.raises(InputFileError, match="holds no sub-<label> folder"):
        index_bids(tmp_path / "scans")
    assert main(["bids", str(tmp_path / "scans"), str(tmp_path / "out"), "participant"]) == 2
    assert "is not a BIDS dataset: it holds no sub-<label> folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_dataset_description_is_a_note(tmp_path: Path) -> None:
    _touch(tmp_path, "sub-01/anat/sub-01_FLAIR.nii.gz")
    index = index_bids(tmp_path)
    assert [job.key for job in index.jobs] == ["sub-01"] and "dataset_description.json" in index.notes[0]


def test_manifest_rows_become_jobs_and_duplicates_are_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("subject,session,flair,t1,b12 (pmol/L),age\n"
                        "01,,scans/a.nii.gz,,150,70\n"
                        "sub-02,1,/abs/b.nii.gz,scans/b_t1.nii.gz,200,65\n"
                        "03,,,,100,60\n"
                        "04,,x.nii.gz,,100,60\n04,,y.nii.gz,,100,60\n")
    index = read_manifest(manifest)
    jobs = {job.key: job for job in index.jobs}
    assert jobs["sub-01"].flair == tmp_path / "scans/a.nii.gz" and jobs["sub-01"].runnable
    assert jobs["sub-02_ses-1"].flair == Path("/abs/b.nii.gz") and jobs["sub-02_ses-1"].t1 == tmp_path / "scans/b_t1.nii.gz"
    assert "no FLAIR path" in jobs["sub-03"].problem
    assert sum("several rows" in job.problem for job in index.jobs) == 2
    assert index.participants is not None and list(index.participants.columns) == [
        "b12 (pmol/L)", "age", "participant_id", "session_id"]


def test_manifest_without_flair_column_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("subject,scan\n01,a.nii.gz\n")
    with pytest.raises(InputFileError, match="no column flair"):
        read_manifest(manifest)


def test_a_manifest_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("b12brain.cohort.bids_index.MAX_TABLE_BYTES", 20)
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("subject,flair\n01,a.nii.gz\n02,b.nii.gz\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="more than the 20 a manifest may have"):
        read_manifest(manifest)
