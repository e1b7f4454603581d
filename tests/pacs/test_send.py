"""`b12brain send` stores a run's objects in a real Orthanc on loopback, found there by REST query."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pydicom
import pytest

from b12brain.cli.main import main
from b12brain.pacs._pdf import build_encapsulated_pdf


@pytest.fixture
def run_with_objects(classic_run: SimpleNamespace, tmp_path: Path) -> Path:
    """A run folder holding both objects (the SEG and the report's PDF)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("lesion_seg.dcm", "report_pdf.dcm"):
        shutil.copy(classic_run.with_pdf / name, run_dir / name)
    return run_dir


def _assert_in_study(orthanc: SimpleNamespace, run_dir: Path) -> None:
    seg, pdf = (pydicom.dcmread(run_dir / name) for name in ("lesion_seg.dcm", "report_pdf.dcm"))
    found = orthanc.get(f"{orthanc.url}/dicom-web/studies/{seg.StudyInstanceUID}/instances") if orthanc.dicomweb else None
    studies = orthanc.get(f"{orthanc.url}/studies?expand")
    assert isinstance(studies, list) and len(studies) == 1
    study = studies[0]
    assert study["MainDicomTags"]["StudyInstanceUID"] == seg.StudyInstanceUID == pdf.StudyInstanceUID
    instances = orthanc.get(f"{orthanc.url}/studies/{study['ID']}/instances?expand")
    assert isinstance(instances, list)
    assert {i["MainDicomTags"]["SOPInstanceUID"] for i in instances} == {seg.SOPInstanceUID, pdf.SOPInstanceUID}
    if found is not None:
        assert isinstance(found, list) and len(found) == 2


@pytest.mark.slow
def test_send_by_cstore(orthanc: SimpleNamespace, run_with_objects: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", str(run_with_objects), "--store", "127.0.0.1", str(orthanc.dicom_port), orthanc.aet]) == 0
    out = capsys.readouterr()
    assert "lesion_seg.dcm, report_pdf.dcm" in out.out and "DOE" not in out.out + out.err
    _assert_in_study(orthanc, run_with_objects)


@pytest.mark.slow
def test_send_by_stow_rs(orthanc: SimpleNamespace, run_with_objects: Path) -> None:
    if not orthanc.dicomweb:
        pytest.skip("Orthanc's DICOMweb plugin (Debian package orthanc-dicomweb) is not installed")
    assert main(["send", str(run_with_objects), "--dicomweb", f"{orthanc.url}/dicom-web"]) == 0
    _assert_in_study(orthanc, run_with_objects)


@pytest.mark.slow
def test_send_failures_name_the_server_and_the_cause(
    orthanc: SimpleNamespace, run_with_objects: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["send", str(run_with_objects), "--store", "127.0.0.1", str(orthanc.dicom_port), "NOT_ORTHANC"]) == 2
    err = capsys.readouterr().err
    assert f"NOT_ORTHANC@127.0.0.1:{orthanc.dicom_port}" in err and "rejected" in err and "DOE" not in err
    if orthanc.dicomweb:
        assert main(["send", str(run_with_objects), "--dicomweb", f"{orthanc.url}/no-such-root"]) == 2
        err = capsys.readouterr().err
        assert f"{orthanc.url}/no-such-root" in err and "HTTP 404" in err
    assert orthanc.get(f"{orthanc.url}/studies") == []


def test_send_unreachable_and_empty_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_report_pdf: Callable[[Path], Path]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert main(["send", str(run_dir), "--store", "127.0.0.1", "104", "PACS"]) == 2
    assert "holds no DICOM object to send" in capsys.readouterr().err
    (run_dir / "lesion_seg.dcm").write_bytes(b"not dicom")
    assert main(["send", str(run_dir), "--dicomweb", "http://127.0.0.1:9/dicom-web"]) == 2
    assert "lesion_seg.dcm: cannot be read as DICOM" in capsys.readouterr().err
    (run_dir / "lesion_seg.dcm").unlink()
    source = pydicom.Dataset()
    source.PatientName, source.PatientID, source.StudyInstanceUID = "DOE^JANE", "PID-4711", "2.25.99"
    build_encapsulated_pdf(write_report_pdf(tmp_path / "report.pdf"), source).save_as(
        run_dir / "report_pdf.dcm", enforce_file_format=True)
    closed = _closed_port()
    assert main(["send", str(run_dir), "--dicomweb", f"http://127.0.0.1:{closed}/dicom-web"]) == 2
    assert f"http://127.0.0.1:{closed}/dicom-web: cannot reach the DICOMweb server" in capsys.readouterr().err
    assert main(["send", str(run_dir), "--store", "127.0.0.1", str(closed), "PACS"]) == 2
    err = capsys.readouterr().err
    assert f"PACS@127.0.0.1:{closed}: association rejected or not answered" in err and "DOE" not in err
    assert main(["send", str(run_dir), "--store", "127.0.0.1", "port", "PACS"]) == 2
    assert "PORT is 'port'" in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there
