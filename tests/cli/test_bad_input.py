"""Malformed inputs to ``b12brain run``: exit code 2, one clear message, nothing written.

Every case is checked at two levels:

* the library layer that ``run`` relies on (``load_volume`` for an input, ``read_scans`` for
  a T1 that does not go with the FLAIR, ``check_output_dir`` for ``--out``): it must raise a
  b12brain error whose message is ``"{path}: {problem}; {what to do}"``;
* the CLI, ``main(["run", "--flair", ..., "--out", ...])``: exit code 2, exactly one line on
  stderr that names the file and the problem, no traceback, no output folder (nothing new
  anywhere under tmp_path) and the input files byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from b12brain.cli.main import main
from b12brain.errors import InputFileError, OutputError
from b12brain.io import load_volume
from b12brain.io.outdir import check_output_dir
from b12brain.pipeline import read_scans


@dataclass(frozen=True)
class Case:
    """One malformed invocation of ``b12brain run``."""

    flair: Path
    named: Path  # the path the error message must name
    problem: str  # regex the message must match (the problem, in words)
    t1: Path | None = None
    out: Path | None = None  # defaults to <tmp>/out, which does not exist
    layer: str = "input"  # "input": load_volume(named) refuses; "scans": read_scans(flair, t1); "output": check_output_dir


def _flair(d: Path, b: SimpleNamespace, name: str = "flair.nii.gz") -> Path:
    return b.write_nifti(d, b.make_blob(), b.affine_mm(b.BLOB_SHAPE), name)


def _nifti(d: Path, b: SimpleNamespace, data: np.ndarray, name: str = "flair.nii.gz", affine: np.ndarray | None = None) -> Path:
    return b.write_nifti(d, data, b.affine_mm(data.shape) if affine is None else affine, name)


def _blob_with(b: SimpleNamespace, value: float) -> np.ndarray:
    data = b.make_blob()
    data[10:12, 20:23, 5] = value
    return data


def _case_missing_file(d: Path, b: SimpleNamespace) -> Case:
    return Case(d / "no_such_flair.nii.gz", d / "no_such_flair.nii.gz", "does not exist")


def _case_empty_folder(d: Path, b: SimpleNamespace) -> Case:
    (d / "dicom").mkdir()
    return Case(d / "dicom", d / "dicom", "no DICOM series found")


def _case_folder_of_non_dicom(d: Path, b: SimpleNamespace) -> Case:
    (d / "dicom").mkdir()
    (d / "dicom" / "notes.txt").write_text("scan on 2024-01-01\n")
    (d / "dicom" / "image.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    return Case(d / "dicom", d / "dicom", "no DICOM series found")


def _case_text_named_nii_gz(d: Path, b: SimpleNamespace) -> Case:
    path = d / "flair.nii.gz"
    path.write_text("this is a radiology report, not an image\n")
    return Case(path, path, "cannot be read as NIfTI")


def _case_random_bytes_nii(d: Path, b: SimpleNamespace) -> Case:
    path = d / "flair.nii"
    path.write_bytes(np.random.default_rng(7).bytes(5000))
    return Case(path, path, "cannot be read as NIfTI")


def _case_truncated_nii_gz(d: Path, b: SimpleNamespace) -> Case:
    path = _flair(d, b)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return Case(path, path, "truncated or corrupt|cannot be read")


def _case_truncated_nii(d: Path, b: SimpleNamespace) -> Case:
    path = _flair(d, b, "flair.nii")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return Case(path, path, "truncated or corrupt|cannot be read")


def _case_corrupt_gzip(d: Path, b: SimpleNamespace) -> Case:
    path = _flair(d, b)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(np.random.default_rng(3).integers(0, 256, 64, dtype=np.uint8))
    path.write_bytes(bytes(raw))
    return Case(path, path, "truncated or corrupt|cannot be read")


def _case_png(d: Path, b: SimpleNamespace) -> Case:
    path = d / "flair.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return Case(path, path, "unsupported file type")


def _case_mha(d: Path, b: SimpleNamespace) -> Case:
    path = d / "flair.mha"
    sitk.WriteImage(sitk.GetImageFromArray(b.make_blob().transpose(2, 1, 0)), str(path))
    return Case(path, path, "unsupported file type")


def _case_4d_three_volumes(d: Path, b: SimpleNamespace) -> Case:
    data = np.stack([b.make_blob(seed=s) for s in range(3)], axis=-1)
    return Case(p := _nifti(d, b, data), p, r"is 4D with 3 volumes")


def _case_2d(d: Path, b: SimpleNamespace) -> Case:
    return Case(p := _nifti(d, b, b.make_blob()[:, :, 20]), p, "has 2 dimensions")


def _case_nan(d: Path, b: SimpleNamespace) -> Case:
    return Case(p := _nifti(d, b, _blob_with(b, np.nan)), p, "has 6 NaN or Inf voxels")


def _case_inf(d: Path, b: SimpleNamespace) -> Case:
    return Case(p := _nifti(d, b, _blob_with(b, np.inf)), p, "has 6 NaN or Inf voxels")


def _case_zero_pixdim(d: Path, b: SimpleNamespace) -> Case:
    path = b.patch_nifti_header(_flair(d, b), pixdim=[1.0, 2.0, 2.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    return Case(path, path, r"pixdim\[3\] is 0")


def _case_negative_pixdim(d: Path, b: SimpleNamespace) -> Case:
    path = b.patch_nifti_header(_flair(d, b), pixdim=[1.0, -2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    return Case(path, path, r"pixdim\[1\] is -2")


def _case_absurd_voxel_size(d: Path, b: SimpleNamespace) -> Case:
    data = b.make_blob()
    return Case(p := _nifti(d, b, data, affine=b.affine_mm(data.shape, 50.0)), p, r"voxel sizes 50×50×50 mm are outside")


def _case_singular_affine(d: Path, b: SimpleNamespace) -> Case:
    # Third column of the sform zeroed (every voxel slice at the same place); qform unused.
    path = _flair(d, b)
    a = b.affine_mm(b.BLOB_SHAPE)
    path = b.patch_nifti_header(
        path, srow_x=[a[0, 0], 0, 0, a[0, 3]], srow_y=[0, a[1, 1], 0, a[1, 3]], srow_z=[0, 0, 0, a[2, 3]], qform_code=0
    )
    return Case(path, path, "affine is singular")


def _case_all_zero(d: Path, b: SimpleNamespace) -> Case:
    return Case(p := _nifti(d, b, np.zeros(b.BLOB_SHAPE, np.float32)), p, r"image is empty \(all zero\)")


def _case_constant(d: Path, b: SimpleNamespace) -> Case:
    return Case(p := _nifti(d, b, np.full(b.BLOB_SHAPE, 300, np.int16)), p, r"constant \(every voxel is 300\)")


def _case_tiny_dims(d: Path, b: SimpleNamespace) -> Case:
    data = np.arange(27, dtype=np.float32).reshape(3, 3, 3)
    return Case(p := _nifti(d, b, data), p, r"dimensions \(3, 3, 3\) are too small")


def _case_enormous_dims(d: Path, b: SimpleNamespace) -> Case:
    # The header claims 5000³ int16 voxels (250 GB); the file holds the header only.
    header = nib.Nifti1Header()
    header.set_data_shape((5000, 5000, 5000))
    header.set_data_dtype(np.int16)
    header.set_zooms((0.2, 0.2, 0.2))
    header.set_sform(np.diag([0.2, 0.2, 0.2, 1.0]), code=1)
    path = d / "flair.nii"
    path.write_bytes(header.binaryblock + b"\x00" * 4)
    return Case(path, path, r"dimensions \(5000, 5000, 5000\) are too large")


def _case_complex(d: Path, b: SimpleNamespace) -> Case:
    data = b.make_blob().astype(np.complex64) * (1 + 1j)
    return Case(p := _nifti(d, b, data), p, "voxel type complex64")


def _case_dicom_mixed_series(d: Path, b: SimpleNamespace) -> Case:
    # The reader takes one series; `run --flair` looks for the FLAIR among several (none here).
    folder = d / "dicom"
    data = b.make_blob().astype(np.int16)
    b.write_dicom_series(folder, data, spacing_mm=(2.0, 2.0, 2.0), series_uid="2.25.71", description="AX T2", prefix="A")
    b.write_dicom_series(folder, data, spacing_mm=(2.0, 2.0, 2.0), series_uid="2.25.72", description="AX T1", prefix="B")
    return Case(folder, folder, "holds 2 DICOM series.*'AX T2'.*'AX T1'.*pass a folder with one series"
                "|none of its 2 series looks like a FLAIR.*--flair-series")


def _case_dicom_missing_slice(d: Path, b: SimpleNamespace) -> Case:
    folder = b.write_dicom_series(d / "dicom", b.make_blob().astype(np.int16), spacing_mm=(2.0, 2.0, 2.0), skip_slices=(17,))
    return Case(folder, folder, "1 missing slice: the gap between IM0016.dcm and IM0018.dcm is 4.00 mm")


def _case_bad_t1(d: Path, b: SimpleNamespace) -> Case:
    t1 = _nifti(d, b, _blob_with(b, np.nan), "t1.nii.gz")
    return Case(_flair(d, b), t1, "has 6 NaN or Inf voxels", t1=t1)


def _case_t1_missing(d: Path, b: SimpleNamespace) -> Case:
    return Case(_flair(d, b), d / "t1.nii.gz", "does not exist", t1=d / "t1.nii.gz")


def _case_t1_no_overlap(d: Path, b: SimpleNamespace) -> Case:
    affine = b.affine_mm(b.BLOB_SHAPE)
    affine[:3, 3] += [1000.0, 0.0, 0.0]  # one metre to the right: no common world extent
    t1 = _nifti(d, b, b.make_blob(seed=5), "t1.nii.gz", affine=affine)
    return Case(_flair(d, b), t1, "overlap", t1=t1, layer="scans")


def _case_out_is_file(d: Path, b: SimpleNamespace) -> Case:
    out = d / "results"
    out.write_text("not a folder\n")
    return Case(_flair(d, b), out, "exists and is not a folder", out=out, layer="output")


def _case_out_has_other_content(d: Path, b: SimpleNamespace) -> Case:
    out = d / "results"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious work")
    (out / "figures").mkdir()
    (out / "figures" / "fig1.png").write_bytes(b"\x89PNG figure")
    return Case(_flair(d, b), out, "exists and is not empty", out=out, layer="output")


CASES: dict[str, Callable[[Path], Case]] = {
    "missing-file": _case_missing_file,
    "folder-without-dicom": _case_empty_folder,
    "folder-of-non-dicom-files": _case_folder_of_non_dicom,
    "text-named-nii-gz": _case_text_named_nii_gz,
    "random-bytes-nii": _case_random_bytes_nii,
    "truncated-nii-gz": _case_truncated_nii_gz,
    "truncated-nii": _case_truncated_nii,
    "corrupt-gzip-stream": _case_corrupt_gzip,
    "unsupported-png": _case_png,
    "unsupported-mha": _case_mha,
    "4d-three-volumes": _case_4d_three_volumes,
    "2d-image": _case_2d,
    "nan-voxels": _case_nan,
    "inf-voxels": _case_inf,
    "zero-pixdim": _case_zero_pixdim,
    "negative-pixdim": _case_negative_pixdim,
    "absurd-voxel-size-50mm": _case_absurd_voxel_size,
    "singular-affine": _case_singular_affine,
    "all-zero-image": _case_all_zero,
    "constant-image": _case_constant,
    "tiny-dims-3x3x3": _case_tiny_dims,
    "enormous-dims-header-only": _case_enormous_dims,
    "complex-dtype": _case_complex,
    "dicom-mixed-series": _case_dicom_mixed_series,
    "dicom-missing-slice": _case_dicom_missing_slice,
    "t1-nan-voxels": _case_bad_t1,
    "t1-missing-file": _case_t1_missing,
    "t1-no-overlap-with-flair": _case_t1_no_overlap,
    "out-is-a-file": _case_out_is_file,
    "out-has-other-content": _case_out_has_other_content,
}

def _params() -> list:
    return [pytest.param(case_id, build, id=case_id) for case_id, build in CASES.items()]


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content hash ("<dir>" for folders)."""
    return {
        str(p.relative_to(root)): "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(("case_id", "build"), _params())
def test_library_layer_refuses_with_a_message_naming_the_file(tmp_path, builders, case_id, build):
    case = build(tmp_path, builders)
    before = _snapshot(tmp_path)
    expected_type = OutputError if case.layer == "output" else InputFileError
    with pytest.raises(expected_type) as info:
        if case.layer == "input":
            load_volume(case.named)
        elif case.layer == "scans":
            read_scans(case.flair, case.t1)
        else:
            check_output_dir(case.out)
    message = str(info.value)
    assert info.value.path == str(case.named)
    assert re.fullmatch(rf"{re.escape(str(case.named))}: [^;]+(\(.*\))?.*; \S.+", message), (
        f"not '{{path}}: {{problem}}; {{what to do}}': {message}"
    )
    assert re.search(case.problem, message), message
    assert "\n" not in message
    assert _snapshot(tmp_path) == before, "reading a bad input changed or created files"


@pytest.mark.parametrize(("case_id", "build"), _params())
def test_run_command_exits_2_with_one_message_and_writes_nothing(tmp_path, capfd, builders, case_id, build):
    case = build(tmp_path, builders)
    out = case.out if case.out is not None else tmp_path / "out"
    argv = ["run", "--flair", str(case.flair), "--out", str(out)]
    if case.t1 is not None:
        argv[3:3] = ["--t1", str(case.t1)]
    before = _snapshot(tmp_path)
    capfd.readouterr()

    code = main(argv)

    stdout, stderr = capfd.readouterr()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, f"exit code {code}; stderr: {stderr}"
    assert len(lines) == 1, f"expected one message on stderr, got {len(lines)} lines:\n{stderr}"
    assert "Traceback" not in stderr + stdout
    assert str(case.named) in lines[0], lines[0]
    assert re.search(case.problem, lines[0]), lines[0]
    # No output folder, no staging leftovers, inputs (and a pre-existing --out) byte-identical.
    assert _snapshot(tmp_path) == before


def test_single_volume_4d_is_accepted_as_3d(tmp_path, builders):
    b = builders
    data = b.make_blob()[..., np.newaxis]
    volume = load_volume(b.write_nifti(tmp_path, data, b.affine_mm(b.BLOB_SHAPE)))
    assert volume.shape == b.BLOB_SHAPE
    np.testing.assert_array_equal(volume.data, data[..., 0])


def test_valid_base_images_pass_every_check(tmp_path, builders):
    # Guards the cases above: each must fail because of its one defect, not the base image.
    b = builders
    volume = load_volume(_flair(tmp_path, b))
    assert volume.shape == b.BLOB_SHAPE
    assert volume.spacing_mm == (2.0, 2.0, 2.0)
    assert float(volume.data.min()) < float(volume.data.max())
    series = b.write_dicom_series(tmp_path / "dicom", b.make_blob().astype(np.int16), spacing_mm=(2.0, 2.0, 2.0))
    np.testing.assert_array_equal(load_volume(series).data, volume.data)
    assert load_volume(_nifti(tmp_path, b, b.make_blob(seed=5), "t1.nii.gz")).shape == b.BLOB_SHAPE


def test_corrupt_gzip_case_really_breaks_the_stream(tmp_path, builders):
    import gzip
    import zlib

    path = _case_corrupt_gzip(tmp_path, builders).named
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(path.read_bytes())
