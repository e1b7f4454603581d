"""``b12brain run`` end to end on a written 6 mm phantom: files, summary, exit codes, clean failure.

The CLI is called in-process through ``b12brain.cli.main.main([...])``. One successful run
(FLAIR + T1) is shared by the module; the other tests each run what they need.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest

import b12brain
from b12brain.cli.main import build_parser, main
from b12brain.io import load_volume
from b12brain.outputs import LESION_COLUMNS, SUMMARY_SCHEMA_VERSION, library_versions
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.quantify import LESION_CLASSES
from b12brain.segment import lesion_mask_from_probability

pytestmark = pytest.mark.slow

SEED = 11
OUTPUT_FILES = ("lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz", "caps_lining_mask.nii.gz",
                "lesions.csv", "summary.json", "qc_axial.png", "report.html", "report.pdf", "b12brain-manifest.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _folder_sha256(folder: Path) -> str:
    """The documented folder checksum: SHA-256 of the ``sha256sum``-style manifest of its files."""
    lines = [f"{_sha256(f)}  {f.relative_to(folder).as_posix()}\n" for f in sorted(folder.rglob("*")) if f.is_file()]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _write(folder: Path, volume: b12brain.Volume, name: str) -> Path:
    img = nib.Nifti1Image(volume.data.astype(np.float32), volume.affine)
    img.set_sform(volume.affine, code=1)
    img.set_qform(volume.affine, code=1)
    path = folder / name
    nib.save(img, str(path))
    return path


def _leftovers(folder: Path) -> list[str]:
    """Names in ``folder`` other than the inputs (staging folders start with '.')."""
    return sorted(p.name for p in folder.iterdir() if p.name not in {"flair.nii.gz", "t1.nii.gz", "dicom"})


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("scan")
    phantom = make_phantom(PhantomConfig(seed=SEED, lesion_load="moderate", slice_mm=6.0))
    return SimpleNamespace(
        phantom=phantom,
        folder=folder,
        flair=_write(folder, phantom.flair, "flair.nii.gz"),
        t1=_write(folder, phantom.t1, "t1.nii.gz"),
    )


@pytest.fixture(scope="module")
def first_run(scan: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    hashes_before = {p: _sha256(p) for p in (scan.flair, scan.t1)}
    out = tmp_path_factory.mktemp("runs") / "result"
    # capsys is function-scoped, so this module-scoped run captures its own output.
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", "--flair", str(scan.flair), "--t1", str(scan.t1), "--out", str(out), "--self-check"])
    return SimpleNamespace(
        code=code, out=out, stdout=stdout.getvalue(), stderr=stderr.getvalue(), hashes_before=hashes_before
    )


def test_run_succeeds_and_writes_every_output(first_run: SimpleNamespace) -> None:
    assert first_run.code == 0, first_run.stderr
    assert sorted(p.name for p in first_run.out.iterdir()) == sorted(OUTPUT_FILES)
    for name in OUTPUT_FILES:
        assert (first_run.out / name).stat().st_size > 0, name
    # No staging or backup folder is left beside the result.
    assert [p.name for p in first_run.out.parent.iterdir()] == ["result"]
    assert "lesions" in first_run.stdout and "not a diagnosis" in first_run.stdout


def test_progress_lines_on_stderr(first_run: SimpleNamespace) -> None:
    lines = first_run.stderr.strip().splitlines()
    assert len(lines) >= 8, first_run.stderr
    assert all(re.match(r"\[\s*\d+\.\d s\] ", line) for line in lines), lines
    joined = "\n".join(lines)
    for stage in ("load", "scan checks", "N4", "anatomy", "lesion segmentation", "quantification"):
        assert stage in joined, stage
    assert "done in" in joined
    assert "Traceback" not in joined


def test_inputs_unchanged(first_run: SimpleNamespace) -> None:
    for path, before in first_run.hashes_before.items():
        assert _sha256(path) == before, path


def test_summary_json(first_run: SimpleNamespace, scan: SimpleNamespace) -> None:
    summary = json.loads((first_run.out / "summary.json").read_text())
    assert summary["schema_version"] == SUMMARY_SCHEMA_VERSION
    assert summary["software"] == {"name": "b12brain", "version": b12brain.__version__, "libraries": library_versions()}
    roles = {entry["role"]: entry for entry in summary["inputs"]}
    assert set(roles) == {"flair", "t1"}
    assert roles["flair"]["sha256"] == _sha256(scan.flair)
    assert roles["t1"]["sha256"] == _sha256(scan.t1)
    assert Path(roles["flair"]["path"]) == scan.flair.absolute()
    assert roles["flair"]["shape"] == list(scan.phantom.flair.shape)
    assert roles["flair"]["orientation"] == "RAS"

    lesions = summary["lesions"]
    with (first_run.out / "lesions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert lesions["lesion_count"] == len(rows) > 0
    assert lesions["lesion_ml"] == pytest.approx(sum(float(r["volume_ml"]) for r in rows), abs=1e-3)
    assert set(lesions["ml_by_class"]) == set(LESION_CLASSES)
    assert sum(lesions["ml_by_class"].values()) == pytest.approx(lesions["lesion_ml"], abs=1e-3)
    truth_ml = scan.phantom.truth["lesion_ml"]
    assert abs(lesions["lesion_ml"] - truth_ml) <= 0.2 * truth_ml, (lesions["lesion_ml"], truth_ml)
    assert 0 < lesions["lesion_percent_of_brain"] < 100
    assert lesions["brain_ml"] > 500

    fazekas = summary["fazekas_estimate"]
    assert fazekas["periventricular"] in range(4) and fazekas["deep"] in range(4)
    assert "Periventricular" in fazekas["rule"] and "Deep" in fazekas["rule"] and "mm" in fazekas["rule"]
    assert "not a diagnosis" in summary["disclaimer"]
    settings = summary["settings"]
    assert settings["segmenter"] == "learned"  # the default: the packaged model, named and hashed
    assert settings["model"].endswith("wmh_unet.onnx") and len(settings["model_sha256"]) == 64
    assert settings["refine_edges"] is True
    assert summary["outputs_grid"]["shape"] == list(scan.phantom.flair.shape)


def test_self_check_in_every_output(first_run: SimpleNamespace) -> None:
    # With --self-check: summary.json's record, a line on stdout, the report's section.
    check = json.loads((first_run.out / "summary.json").read_text())["self_check"]
    assert check["rating"] in {"green", "amber", "red"} and "[U]" in check["rule"]
    assert sum(b["inserted"] for b in check["detection_by_size"].values()) == len(check["lesions"]) > 0
    assert isinstance(check["sees_0_1_ml"], bool)
    assert f"self-check {check['rating'].upper()}: estimated detection rate" in first_run.stdout
    report = (first_run.out / "report.html").read_text(encoding="utf-8")
    assert "Self-check" in report and "rule [U], on the estimated detection rate E" in report
    assert "Estimated detection rate (share of the small or faint ones found)" in report


def test_lesions_csv(first_run: SimpleNamespace) -> None:
    with (first_run.out / "lesions.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        assert reader.fieldnames == LESION_COLUMNS
    labels = np.asarray(nib.load(first_run.out / "lesion_labels.nii.gz").dataobj).astype(np.int64)
    assert [int(r["id"]) for r in rows] == list(range(1, labels.max() + 1))
    counts = np.bincount(labels.ravel())
    for row in rows:
        assert row["lesion_class"] in LESION_CLASSES
        assert int(row["voxels"]) == counts[int(row["id"])] > 0
        assert float(row["volume_ml"]) > 0
    mask = np.asarray(nib.load(first_run.out / "lesion_mask.nii.gz").dataobj)
    assert set(np.unique(mask).tolist()) <= {0, 1}
    np.testing.assert_array_equal(mask > 0, labels > 0)


def test_images_on_the_flair_grid(first_run: SimpleNamespace, scan: SimpleNamespace) -> None:
    source = nib.load(scan.flair)
    for name in ("lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz"):
        image = nib.load(first_run.out / name)
        assert image.shape == source.shape
        np.testing.assert_allclose(image.affine, source.affine, atol=1e-5)
    prob = np.asarray(nib.load(first_run.out / "lesion_prob.nii.gz").dataobj)
    assert prob.min() >= 0.0 and prob.max() <= 1.0


def test_qc_image_is_a_valid_png(first_run: SimpleNamespace) -> None:
    raw = (first_run.out / "qc_axial.png").read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    # Walk the chunks: every CRC must match, IHDR first, IEND last.
    pos, chunks = 8, []
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, body = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", raw[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append(kind)
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    width, height = struct.unpack(">II", raw[16:24])
    assert width >= 200 and height >= 200
    import matplotlib.image

    pixels = matplotlib.image.imread(first_run.out / "qc_axial.png")
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0.01


def test_existing_output_refused_then_overwritten(
    first_run: SimpleNamespace, scan: SimpleNamespace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert first_run.code == 0
    previous = tmp_path / "result"
    shutil.copytree(first_run.out, previous)
    before = {name: _sha256(previous / name) for name in OUTPUT_FILES}
    argv = ["run", "--flair", str(scan.flair), "--out", str(previous), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(previous) in err and "--overwrite" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert {name: _sha256(previous / name) for name in OUTPUT_FILES} == before

    # The new run keeps the network's own edges: its lesions with caps and lining are the written
    # probability map at the threshold, less lesions under the minimum size.
    assert main([*argv, "--overwrite", "--no-edge-refinement"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: no progress lines
    summary = json.loads((previous / "summary.json").read_text())
    assert [entry["role"] for entry in summary["inputs"]] == ["flair"]  # the new run, without T1
    settings = summary["settings"]
    assert settings["refine_edges"] is False
    probability = nib.load(previous / "lesion_prob.nii.gz")
    raw = lesion_mask_from_probability(
        np.asarray(probability.dataobj, np.float32), settings["threshold"],
        float(np.prod(probability.header.get_zooms()[:3])) / 1000, min_lesion_ml=settings["min_lesion_ml"],
    )
    lesions = np.asarray(nib.load(previous / "lesion_mask.nii.gz").dataobj) > 0
    caps_lining = np.asarray(nib.load(previous / "caps_lining_mask.nii.gz").dataobj) > 0
    assert not (lesions & caps_lining).any() and np.array_equal(lesions | caps_lining, raw)
    assert sorted(p.name for p in previous.iterdir()) == sorted(OUTPUT_FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["result"]


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--min-lesion-ml", "50", "min_lesion_ml 50.0 is outside 0-10 mL"), ("--threshold", "1.5", "threshold 1.5 is outside (0, 1)"),
     ("--date", "2099-01-01", "--date: 2099-01-01 is after today"), ("--date", "31.01.2024", "--date: '31.01.2024' is not a date"),
     ("--patient-id", " ", "--patient-id: expected 1 to 64 printable characters")],
)
def test_setting_out_of_range_exits_2_before_any_output(
    scan: SimpleNamespace, capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, value: str, named: str
) -> None:
    out = tmp_path / "result"
    assert main(["run", "--flair", str(scan.flair), "--out", str(out), option, value]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [(["--patient-id", "PSEUDO-3"], "--patient-id: differs from the PatientID in the FLAIR's DICOM headers"),
     (["--date", "2024-01-02"], "--date: 2024-01-02 differs from the FLAIR's StudyDate 2024-01-01")],
)
def test_identifiers_contradicting_the_dicom_exit_2_before_any_work(
    tmp_path: Path, blob: object, write_dicom_series: Callable[..., Path], capsys: pytest.CaptureFixture[str],
    options: list[str], named: str,
) -> None:
    series = write_dicom_series(tmp_path / "series", np.round(np.asarray(blob)),  # StudyDate 20240101
                                extra_tags={"0010|0020": "MRN-7734", "0010|0010": "QUUX^ZELDA"})
    out = tmp_path / "result"
    assert main(["run", "--flair", str(series), "--out", str(out), "--segmenter", "classical", *options]) == 2
    err = capsys.readouterr().err
    assert named in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "MRN-7734" not in err and "QUUX" not in err and "PSEUDO-3" not in err
    assert not out.exists()


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    expected = {
        "--flair", "--t1", "--out", "--segmenter", "--threshold", "--min-lesion-ml", "--no-edge-refinement",
        "--self-check", "--no-self-check", "--overwrite", "--quiet",
    }
    parser = build_parser()
    run_parser = next(a for a in parser._subparsers._group_actions if hasattr(a, "choices")).choices["run"]  # type: ignore[union-attr]
    declared = {s for action in run_parser._actions for s in action.option_strings if s.startswith("--")}
    assert expected <= declared
    for option in declared | {"-h"}:
        assert option in text, option
    for action in run_parser._actions:
        if action.option_strings and action.help:
            assert action.help.split("(")[0].strip()[:20] in " ".join(text.split()), action.option_strings
    assert "not a diagnosis" in text


def test_dicom_folder_flair(scan: SimpleNamespace, tmp_path: Path, write_dicom_series) -> None:  # type: ignore[no-untyped-def]
    volume = scan.phantom.flair
    dicom = tmp_path / "dicom"
    spacing = volume.spacing_mm
    # RAS voxel axes of the phantom -> DICOM's LPS world: x and y change sign.
    origin_lps = (-volume.affine[0, 3], -volume.affine[1, 3], volume.affine[2, 3])
    write_dicom_series(dicom, np.round(volume.data), spacing_mm=spacing, origin_lps=origin_lps,
                       direction=np.diag([-1.0, -1.0, 1.0]))
    before = _folder_sha256(dicom)
    loaded = load_volume(dicom)
    out = tmp_path / "out"
    assert main(["run", "--flair", str(dicom), "--out", str(out), "--quiet"]) == 0
    assert _folder_sha256(dicom) == before

    mask = nib.load(out / "lesion_mask.nii.gz")
    assert mask.shape == loaded.shape
    np.testing.assert_allclose(mask.affine, loaded.affine, atol=1e-4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"][0]["sha256"] == before
    assert "self_check" not in summary  # off unless asked for: not yet validated (docs/accuracy.md)
    # Same scan, so the lesions agree with the truth on the phantom's grid.
    assert np.allclose(loaded.affine, volume.affine, atol=1e-3)
    found = np.asarray(mask.dataobj) > 0
    truth = scan.phantom.lesion.data > 0
    dice = 2 * (found & truth).sum() / (found.sum() + truth.sum())
    assert dice >= 0.7, dice


@pytest.mark.parametrize("target", ["b12brain.pipeline.measure_lesions", "b12brain.outputs.write_qc_image"])
def test_failure_midway_leaves_nothing(
    scan: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """An unexpected error in the pipeline or while writing: exit 1, no result and no staging folder."""

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(target, boom)
    out = tmp_path / "out"
    assert main(["run", "--flair", str(scan.flair), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "unexpected error" in err and "simulated failure" in err and "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_with_overwrite_keeps_the_previous_result(
    first_run: SimpleNamespace, scan: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--overwrite that fails while writing leaves the old result in place, byte for byte."""
    previous = tmp_path / "previous"
    shutil.copytree(first_run.out, previous)
    before = {name: _sha256(previous / name) for name in OUTPUT_FILES}

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("b12brain.outputs.write_qc_image", boom)
    assert main(["run", "--flair", str(scan.flair), "--out", str(previous), "--quiet", "--overwrite"]) == 1
    assert {name: _sha256(previous / name) for name in OUTPUT_FILES} == before
    assert [p.name for p in tmp_path.iterdir()] == ["previous"]
