"""A phantom FLAIR given as DICOM: the same lesion figures classic and compressed, and no
patient identifier in any output or on stderr (``b12brain run --deidentify``)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import uid

from b12brain.cli.main import main
from b12brain.io import load_volume
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, run_pipeline

NAME, PID, ACCESSION, HOSPITAL = "QUUXLEY^ZELDA", "PID-7734219", "ACC-55501", "ST ELSEWHERE HOSPITAL"
PATIENT = {"0010|0010": NAME, "0010|0020": PID, "0010|0030": "19500101", "0008|0050": ACCESSION,
           "0008|0080": HOSPITAL, "0008|1010": "STATION-QX9", "0018|1000": "SERIAL-4471"}


@functools.cache
def _phantom() -> Phantom:
    return make_phantom(PhantomConfig(seed=3, lesion_load="moderate", slice_mm=6.0))


@pytest.fixture
def phantom_series(tmp_path_factory, write_dicom_series) -> Path:
    """A 6 mm phantom FLAIR written as a classic DICOM series with distinctive identifiers."""
    phantom = _phantom()
    affine = phantom.flair.affine
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    lps = np.diag([-1.0, -1.0, 1.0])
    folder = tmp_path_factory.mktemp("dicom") / "QUUXLEY_ZELDA_FLAIR"
    return write_dicom_series(
        folder, np.round(phantom.flair.data), spacing_mm=spacing, origin_lps=lps @ affine[:3, 3],
        direction=lps @ affine[:3, :3] / spacing, extra_tags={**PATIENT, "0018|0082": "2500", "0018|0081": "90"},
    )


@pytest.mark.slow
def test_deidentified_run_same_figures_as_compressed_enhanced_and_no_identifiers(
    phantom_series, tmp_path, capfd, recode_dicom_series, write_enhanced_series, require_system_tool
):
    # The same FLAIR as one JPEG 2000 Legacy Converted Enhanced MR file: the same lesion figures.
    jpeg2000 = recode_dicom_series(phantom_series, tmp_path / "j2k", uid.JPEG2000Lossless)
    enhanced = load_volume(write_enhanced_series(jpeg2000, tmp_path / "enhanced"))
    other = run_pipeline(enhanced, config=PipelineConfig(segmenter="classical"))
    out = tmp_path / "out"
    capfd.readouterr()
    assert main(["run", "--flair", str(phantom_series), "--out", str(out), "--segmenter", "classical",
                 "--deidentify", "--patient-id", "PSEUDO-0815"]) == 0
    captured = capfd.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    figures = other.burden.as_dict()
    assert figures["lesion_count"] > 0
    for key in ("lesion_count", "lesion_ml", "ml_by_class"):
        assert summary["lesions"][key] == figures[key]
    assert summary["fazekas_estimate"]["periventricular"] == figures["fazekas"]["periventricular"]
    assert summary["fazekas_estimate"]["deep"] == figures["fazekas"]["deep"]
    np.testing.assert_allclose(summary["outputs_grid"]["affine"], np.round(enhanced.affine, 6), atol=0.01)

    sidecar = json.loads((out / "flair.json").read_text())
    assert sidecar["InversionTime"] == pytest.approx(2.5) and sidecar["StudyDate"] == "2024-01-01"
    assert "InstitutionName" not in sidecar and "StationName" not in sidecar and "DeviceSerialNumber" not in sidecar
    assert summary["inputs"][0]["sidecar"] == "flair.json" and summary["inputs"][0]["path"] is None
    manifest = json.loads((out / "b12brain-manifest.json").read_text())
    assert manifest["command"] == ("b12brain run --flair '<input>' --out '<out>' --segmenter classical --deidentify "
                                   "--patient-id PSEUDO-0815")
    # The pseudonym replaces the hospital's identifiers; the study's UID and date are kept (docs/dicom.md).
    subject = summary["subject"]
    assert subject["PatientID"] == "PSEUDO-0815" and subject["sources"]["PatientID"] == "--patient-id"
    assert subject["PatientName"] is subject["PatientBirthDate"] is subject["AccessionNumber"] is None
    assert subject["deidentified"] is True and subject["visit_date"] == "2024-01-01"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<td>PSEUDO-0815 <span class="note">(--patient-id)</span></td>' in html
    assert html.count("<td>withheld (--deidentify)</td>") == 4  # name, birth date, accession number, input path
    forbidden = ["QUUXLEY", "ZELDA", PID, "19500101", ACCESSION, "ELSEWHERE", "STATION-QX9", "SERIAL-4471"]
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {"flair.json", "summary.json", "b12brain-manifest.json", "qc_axial.png", "report.html"} <= {p.name for p in files}
    for path in files:
        content = path.read_bytes()
        for text in forbidden:
            assert text.encode() not in content, f"{text} in {path.name}"
    assert all(text not in captured.out for text in forbidden)
    # stderr names the input folder the user typed (its name here holds the patient's): nothing else.
    assert all(text not in captured.err.replace(str(phantom_series), "<input>") for text in forbidden)
    # report.pdf's text is compressed and subset-encoded, so the byte search above cannot see it: read it.
    if (out / "report.pdf").is_file():
        pdftotext = require_system_tool("pdftotext", "poppler-utils")  # may skip, after every check above
        text = subprocess.run([pdftotext, str(out / "report.pdf"), "-"], capture_output=True, encoding="utf-8",
                              errors="replace", check=True).stdout
        assert "PSEUDO-0815" in text and not [t for t in forbidden if t in text]
