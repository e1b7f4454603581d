"""A small phantom written as DICOM (classic and enhanced), run through the pipeline once per
session with the classical segmenter, and an Orthanc server on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from b12brain.outputs import write_outputs
from b12brain.pacs import write_dicom_outputs
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, PipelineResult, run_pipeline

PATIENT = {"0010|0010": "DOE^JANE", "0010|0020": "PID-4711", "0010|0030": "19600101", "0010|0040": "F",
           "0020|0052": "2.25.1234567890.77"}  # FrameOfReferenceUID: every scanner writes one


@pytest.fixture(scope="session")
def dicom_sources(tmp_path_factory: pytest.TempPathFactory, session_builders: SimpleNamespace) -> SimpleNamespace:
    """The phantom's FLAIR as a classic series and as one Legacy Converted Enhanced MR file."""
    root = tmp_path_factory.mktemp("pacs_sources")
    phantom = make_phantom(PhantomConfig(seed=3, lesion_load="moderate", slice_mm=6.0))
    flair = phantom.flair
    # RAS voxel axes of the phantom -> DICOM's LPS world: x and y change sign.
    origin_lps = (-flair.affine[0, 3], -flair.affine[1, 3], flair.affine[2, 3])
    classic = session_builders.write_dicom_series(root / "classic", np.round(flair.data), spacing_mm=flair.spacing_mm,
                                          origin_lps=origin_lps, direction=np.diag([-1.0, -1.0, 1.0]),
                                          extra_tags=PATIENT)
    enhanced = session_builders.write_enhanced_series(classic, root / "enhanced")
    return SimpleNamespace(classic=classic, enhanced=enhanced, root=root)


def write_report_pdf(path: Path) -> Path:
    """A one-page A4 PDF standing in for the run's report.pdf."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.1, 0.9, "b12brain report (test)")
    fig.savefig(path, format="pdf")
    plt.close(fig)
    return path


@pytest.fixture(name="write_report_pdf", scope="session")
def _write_report_pdf_fixture() -> Callable[[Path], Path]:
    return write_report_pdf


@pytest.fixture(scope="session")
def classic_run(dicom_sources: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The pipeline on the classic series: its run folder (as `run` writes it) and a folder with
    a report.pdf into which the DICOM objects were written again, the PDF wrapped too."""
    result: PipelineResult = run_pipeline(dicom_sources.classic, config=PipelineConfig(segmenter="classical"))
    run_dir = tmp_path_factory.mktemp("pacs_run") / "run"
    write_outputs(result, run_dir, dicom=True)
    with_pdf = tmp_path_factory.mktemp("pacs_with_pdf")
    write_report_pdf(with_pdf / "report.pdf")
    record = write_dicom_outputs(result, with_pdf)
    return SimpleNamespace(result=result, run_dir=run_dir, with_pdf=with_pdf, record=record)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def orthanc(tmp_path: Path, dicom_tool: Callable[[str, str], str]) -> Iterator[SimpleNamespace]:
    """Orthanc on loopback (HTTP and DICOM ports free at start, remote access off, its storage in
    ``tmp_path``), with the DICOMweb plugin when Debian's orthanc-dicomweb is installed."""
    executable = dicom_tool("Orthanc", "orthanc orthanc-dicomweb")
    plugins = Path("/usr/share/orthanc/plugins")
    http_port, dicom_port = _free_port(), _free_port()
    config = {
        "Name": "b12brain-test", "StorageDirectory": str(tmp_path / "db"), "IndexDirectory": str(tmp_path / "db"),
        "HttpPort": http_port, "DicomPort": dicom_port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "DicomCheckCalledAet": True, "DicomAlwaysAllowStore": True,
        "Plugins": [str(plugins / "libOrthancDicomWeb.so")] if (plugins / "libOrthancDicomWeb.so").exists() else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (tmp_path / "orthanc.json").write_text(json.dumps(config))
    log = (tmp_path / "orthanc.log").open("w")
    process = subprocess.Popen([executable, str(tmp_path / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/system", timeout=1) as answer:
                    system = json.load(answer)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"Orthanc stopped at start: {(tmp_path / 'orthanc.log').read_text()[-2000:]}")
                time.sleep(0.1)
        else:
            pytest.fail("Orthanc did not answer within 30 s")
        yield SimpleNamespace(url=url, dicom_port=dicom_port, aet="ORTHANC", dicomweb=bool(config["Plugins"]),
                              system=system, get=orthanc_get)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def orthanc_get(url: str) -> object:
    """GET a JSON resource of Orthanc's REST API."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)
