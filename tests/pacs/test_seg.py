"""The lesion Segmentation read back with highdicom: on the source slices, equal to the run's mask."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import highdicom as hd
import nibabel as nib
import numpy as np
import numpy.typing as npt
import pydicom
import pytest

from b12brain import __version__
from b12brain.outputs import write_outputs
from b12brain.pipeline import PipelineConfig, run_pipeline


@pytest.fixture(scope="module")
def enhanced_run(dicom_sources: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_pipeline(dicom_sources.enhanced, config=PipelineConfig(segmenter="classical"))
    run_dir = tmp_path_factory.mktemp("pacs_enhanced") / "run"
    write_outputs(result, run_dir, dicom=True)
    return run_dir


def _seg_on_grid(seg: hd.seg.Segmentation, affine: npt.NDArray[np.float64], shape: tuple[int, ...]) -> dict[str, npt.NDArray[np.bool_]]:
    """Each segment's frames put on the NIfTI grid by their own ImagePositionPatient (test's own mapping)."""
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    planes = {label: np.zeros(shape, bool) for label in labels.values()}
    orientation = np.asarray(seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient, float)
    spacing = np.asarray(seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing, float)
    pixels = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    to_voxel = np.linalg.inv(affine)
    r, c = np.meshgrid(np.arange(seg.Rows), np.arange(seg.Columns), indexing="ij")
    for frame, group in zip(pixels, seg.PerFrameFunctionalGroupsSequence, strict=True):
        position = np.asarray(group.PlanePositionSequence[0].ImagePositionPatient, float)
        lps = position + c[..., None] * spacing[1] * orientation[:3] + r[..., None] * spacing[0] * orientation[3:]
        ijk = (lps * [-1, -1, 1]) @ to_voxel[:3, :3].T + to_voxel[:3, 3]
        assert np.abs(ijk - np.rint(ijk)).max() < 1e-3  # every pixel on a voxel centre
        i, j, k = np.rint(ijk).astype(int).transpose(2, 0, 1)
        label = labels[int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)]
        planes[label][i, j, k] |= frame.astype(bool)
    return planes


def _rounded(position: object) -> list[float]:
    return [round(float(v), 3) for v in position]  # type: ignore[attr-defined]


def _dice(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


@pytest.mark.slow
@pytest.mark.parametrize("source", ["classic", "enhanced"])
def test_seg_frames_land_on_the_source_slices(
    source: str, classic_run: SimpleNamespace, enhanced_run: Path, dicom_sources: SimpleNamespace
) -> None:
    run_dir = classic_run.run_dir if source == "classic" else enhanced_run
    seg = hd.seg.segread(run_dir / "lesion_seg.dcm")
    mask_img = nib.load(run_dir / "lesion_mask.nii.gz")
    mask = np.asarray(mask_img.dataobj) > 0
    caps = np.asarray(nib.load(run_dir / "caps_lining_mask.nii.gz").dataobj) > 0
    planes = _seg_on_grid(seg, mask_img.affine, mask.shape)

    lesions = np.any([p for label, p in planes.items() if label.endswith(" lesion")], axis=0)
    assert mask.sum() > 1000 and _dice(lesions, mask) >= 0.99
    assert _dice(planes["caps/lining (not lesions)"], caps) >= 0.99
    classes = {row.split(",")[-1].strip() for row in (run_dir / "lesions.csv").read_text().splitlines()[1:]}
    assert {label.removesuffix(" lesion") for label in planes if label.endswith(" lesion")} == classes

    sources = [pydicom.dcmread(p) for p in sorted((getattr(dicom_sources, source)).glob("*.dcm"))]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == sources[0].SeriesInstanceUID
    assert seg.StudyInstanceUID == sources[0].StudyInstanceUID and seg.SeriesInstanceUID != sources[0].SeriesInstanceUID
    assert (seg.PatientName, seg.PatientID, seg.PatientBirthDate) == ("DOE^JANE", "PID-4711", "19600101")
    assert seg.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    # Each frame derives from the source slice (or frame) at its very position.
    position_of = {}
    for ds in sources:
        if "PerFrameFunctionalGroupsSequence" in ds:
            for number, frame in enumerate(ds.PerFrameFunctionalGroupsSequence, start=1):
                position_of[ds.SOPInstanceUID, number] = _rounded(frame.PlanePositionSequence[0].ImagePositionPatient)
        else:
            position_of[ds.SOPInstanceUID, 1] = _rounded(ds.ImagePositionPatient)
    for group in seg.PerFrameFunctionalGroupsSequence:
        referenced = group.DerivationImageSequence[0].SourceImageSequence[0]
        key = referenced.ReferencedSOPInstanceUID, int(referenced.get("ReferencedFrameNumber", 1))
        assert position_of[key] == _rounded(group.PlanePositionSequence[0].ImagePositionPatient)
    algorithm = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("b12brain", __version__)


def _dciodvfy_errors(dciodvfy: str, path: Path) -> list[str]:
    done = subprocess.run([dciodvfy, str(path)], capture_output=True, encoding="utf-8", errors="replace", check=False, timeout=120)
    lines = (done.stdout + done.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


@pytest.mark.slow
def test_dciodvfy_finds_no_error_in_the_seg_and_the_pdf(
    classic_run: SimpleNamespace, enhanced_run: Path, dicom_tool: Callable[[str, str], str]
) -> None:
    dciodvfy = dicom_tool("dciodvfy", "dicom3tools")
    assert classic_run.record["written"] == ["lesion_seg.dcm", "report_pdf.dcm"]
    for path in (classic_run.run_dir / "lesion_seg.dcm", enhanced_run / "lesion_seg.dcm",
                 classic_run.with_pdf / "report_pdf.dcm"):
        assert _dciodvfy_errors(dciodvfy, path) == [], path

