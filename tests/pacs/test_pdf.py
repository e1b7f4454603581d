"""The report as an Encapsulated PDF: the document intact, in the source study, a new series."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pydicom
import pytest
from pydicom.uid import EncapsulatedPDFStorage

from b12brain.pacs._pdf import build_encapsulated_pdf


@pytest.mark.slow
def test_pdf_holds_the_report_in_the_source_study(classic_run: SimpleNamespace, dicom_sources: SimpleNamespace) -> None:
    ds = pydicom.dcmread(classic_run.with_pdf / "report_pdf.dcm")
    source = pydicom.dcmread(next(dicom_sources.classic.glob("*.dcm")))
    document = (classic_run.with_pdf / "report.pdf").read_bytes()
    assert ds.SOPClassUID == EncapsulatedPDFStorage and ds.Modality == "DOC"
    assert ds.EncapsulatedDocument[: ds.EncapsulatedDocumentLength] == document
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert (ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex) == ("DOE^JANE", "PID-4711", "19600101", "F")
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert ds.SeriesInstanceUID not in {source.SeriesInstanceUID, pydicom.dcmread(classic_run.with_pdf / "lesion_seg.dcm").SeriesInstanceUID}


def test_dciodvfy_reports_a_broken_pdf_object(tmp_path: Path, dicom_tool: Callable[[str, str], str],
                                              write_report_pdf: Callable[[Path], Path]) -> None:
    """The validation of the SEG and PDF can fail: without its MIME type and title the object is in error."""
    dciodvfy = dicom_tool("dciodvfy", "dicom3tools")
    source = pydicom.Dataset()
    source.PatientName, source.PatientID, source.StudyInstanceUID = "DOE^JANE", "PID-4711", "2.25.99"
    ds = build_encapsulated_pdf(write_report_pdf(tmp_path / "report.pdf"), source)
    ds.save_as(tmp_path / "good.dcm", enforce_file_format=True)
    del ds.MIMETypeOfEncapsulatedDocument
    ds.save_as(tmp_path / "broken.dcm", enforce_file_format=True)

    def errors(path: Path) -> list[str]:
        done = subprocess.run([dciodvfy, str(path)], capture_output=True, encoding="utf-8", errors="replace", check=False, timeout=120)
        return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]

    assert errors(tmp_path / "good.dcm") == []
    assert any("MIME" in line for line in errors(tmp_path / "broken.dcm"))
