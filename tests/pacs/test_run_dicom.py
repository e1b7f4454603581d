"""`b12brain run` writes the DICOM objects for a DICOM FLAIR, and says why it writes none otherwise."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pydicom
import pytest

from b12brain.assess.imaging import read_summary
from b12brain.cli.main import main
from b12brain.followup.visits import read_visit
from b12brain.io.manifest import MANIFEST_NAME
from b12brain.outputs import SUMMARY_SCHEMA_VERSION
from b12brain.pacs import write_dicom_outputs


@pytest.mark.slow
def test_run_on_a_dicom_flair_writes_the_seg_and_the_report_as_dicom(
    dicom_sources: SimpleNamespace, tmp_path: Path, pango: None
) -> None:
    out = tmp_path / "out"
    assert main(["run", "--flair", str(dicom_sources.classic), "--out", str(out), "--segmenter", "classical",
                 "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema_version"] == SUMMARY_SCHEMA_VERSION
    assert summary["dicom_outputs"]["written"] == ["lesion_seg.dcm", "report_pdf.dcm"]
    manifest = {entry["path"] for entry in json.loads((out / MANIFEST_NAME).read_text())["files"]}
    assert {"lesion_seg.dcm", "report_pdf.dcm", "report.pdf"} <= manifest
    # The Encapsulated PDF holds the run's own report.pdf, in the source's study.
    pdf = pydicom.dcmread(out / "report_pdf.dcm")
    source = pydicom.dcmread(next(dicom_sources.classic.glob("*.dcm")), stop_before_pixels=True)
    assert pdf.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert pdf.StudyInstanceUID == source.StudyInstanceUID
    assert bytes(pdf.EncapsulatedDocument).rstrip(b"\0") == (out / "report.pdf").read_bytes()
    # The patient and study identifiers are kept exactly as the headers give them, for the
    # report's headline and the follow-up's check that the visits are of one patient.
    subject = summary["subject"]
    assert (subject["PatientID"], subject["PatientName"], subject["PatientBirthDate"]) == (
        source.PatientID, str(source.PatientName), source.PatientBirthDate)
    assert subject["StudyInstanceUID"] == source.StudyInstanceUID and subject["deidentified"] is False
    assert subject["visit_date"] == f"{source.StudyDate[:4]}-{source.StudyDate[4:6]}-{source.StudyDate[6:]}"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f'<th>Patient ID</th><td>{source.PatientID} <span class="note">(DICOM)</span></td>' in html
    assert f'<th>Patient name</th><td>{source.PatientName} <span class="note">(DICOM)</span></td>' in html
    assert "PatientID" not in (out / "flair.json").read_text()  # one place: summary.json's subject record
    # The readers of run folders accept schema 1.6.
    assert read_summary(out / "summary.json")["dicom_outputs"]["written"] == ["lesion_seg.dcm", "report_pdf.dcm"]
    assert read_visit(out).flair_series_uid is None  # a folder given as --flair, not a series chosen in a study


@pytest.mark.slow
def test_run_on_nifti_says_why_nothing_dicom_was_written(
    tmp_path: Path, write_nifti: Callable[..., Path], blob: object, affine_mm: Callable[..., object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    flair = write_nifti(tmp_path, blob, affine_mm(blob.shape), "flair.nii.gz")  # type: ignore[attr-defined]
    out = tmp_path / "out"
    assert main(["run", "--flair", str(flair), "--out", str(out), "--segmenter", "classical"]) == 0
    why = "not written: the FLAIR was not read from DICOM, so there is no source series to reference"
    record = json.loads((out / "summary.json").read_text())["dicom_outputs"]
    assert record == {"written": [], "not_written": {"lesion_seg.dcm": why, "report_pdf.dcm": why}}
    assert f"lesion_seg.dcm, report_pdf.dcm {why}" in capsys.readouterr().err
    assert not list(out.glob("*.dcm"))


@pytest.mark.slow
def test_deidentified_run_writes_no_dicom(classic_run: SimpleNamespace, tmp_path: Path,
                                         write_report_pdf: Callable[[Path], Path]) -> None:
    write_report_pdf(tmp_path / "report.pdf")
    record = write_dicom_outputs(classic_run.result, tmp_path, deidentify=True)
    assert record["written"] == [] and "--deidentify" in record["not_written"]["lesion_seg.dcm"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["off the grid", "no frame of reference"])
def test_a_seg_that_cannot_be_placed_is_not_written_and_says_why(
    problem: str, classic_run: SimpleNamespace, dicom_sources: SimpleNamespace, tmp_path: Path
) -> None:
    result = classic_run.result
    if problem == "off the grid":  # the grid moved by half a voxel along the rows: no pixel on a voxel centre
        affine = result.flair.affine.copy()
        affine[:3, 3] += 0.5 * affine[:3, 0]
        result = dataclasses.replace(result, flair=dataclasses.replace(result.flair, affine=affine))
        expected = "frame 1 does not lie on the grid of the FLAIR the run read"
    else:
        folder = tmp_path / "source"
        folder.mkdir()
        for path in dicom_sources.classic.glob("*.dcm"):
            ds = pydicom.dcmread(path)
            del ds.FrameOfReferenceUID
            ds.save_as(folder / path.name)
        result = dataclasses.replace(result, flair=dataclasses.replace(result.flair, source=str(folder)))
        expected = "the source series has no FrameOfReferenceUID"
    out = tmp_path / "out"
    out.mkdir()
    record = write_dicom_outputs(result, out)
    assert record["written"] == [] and expected in record["not_written"]["lesion_seg.dcm"]
    assert list(out.iterdir()) == []
