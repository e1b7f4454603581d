"""Header plausibility: each case is refused (exit 2, one line naming the file) or loaded with a
QC warning, as docs/input-checks.md says; never a crash, never a silently wrong image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from b12brain.cli.main import main
from b12brain.errors import HeaderError, InputFileError
from b12brain.io import load_volume, save_nifti
from b12brain.io.nifti_header import XFORM_TOLERANCE_VOXELS


def _run_exits_2_naming(
    flair: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], problem: str, named: Path | None = None
) -> None:
    """``b12brain run`` on ``flair``: exit 2, one stderr line naming the file (``named``, by
    default ``flair``) and the problem, no output folder."""
    capfd.readouterr()
    code = main(["run", "--flair", str(flair), "--out", str(tmp_path / "out"), "--segmenter", "classical"])
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert str(named or flair) in lines[0] and problem in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------- NIfTI


@pytest.mark.parametrize(
    ("code", "error", "problem"),
    [
        (1, InputFileError, "has voxel type binary (1 bit per voxel) (datatype 1)"),
        (1536, InputFileError, "has voxel type float128 (datatype 1536)"),
        (9999, HeaderError, "datatype 9999 is not a NIfTI data type"),
    ],
)
def test_unsupported_or_unknown_datatype_is_refused_naming_the_file(tmp_path, blob, write_nifti, patch_nifti_header, code, error, problem):
    path = patch_nifti_header(write_nifti(tmp_path, blob), datatype=code)
    with pytest.raises(error) as info:
        load_volume(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


def test_unknown_datatype_exits_2_from_the_cli(tmp_path, capfd, blob, write_nifti, patch_nifti_header):
    path = patch_nifti_header(write_nifti(tmp_path, blob), datatype=9999)
    _run_exits_2_naming(path, tmp_path, capfd, "datatype 9999 is not a NIfTI data type")


@pytest.mark.parametrize("name", ["flair.nii", "flair.nii.gz"])
def test_vox_offset_below_352_is_refused_not_read_shifted(tmp_path, blob, write_nifti, patch_nifti_header, name):
    path = patch_nifti_header(write_nifti(tmp_path, blob, name=name), vox_offset=0)
    with pytest.raises(HeaderError, match=r"vox_offset is 0; in a single-file NIfTI the voxel data start at byte 352"):
        load_volume(path)


def test_both_orientation_codes_0_is_refused(tmp_path, capfd, blob, write_nifti, patch_nifti_header):
    # nibabel would fall back to a LAS grid from pixdim: left and right silently swapped.
    path = patch_nifti_header(write_nifti(tmp_path, blob), qform_code=0, sform_code=0)
    with pytest.raises(HeaderError, match="qform_code and sform_code are both 0: the orientation is unknown"):
        load_volume(path)
    _run_exits_2_naming(path, tmp_path, capfd, "left and right cannot be trusted")


def test_qform_only_and_sform_only_load_without_warning(tmp_path, blob, write_nifti, patch_nifti_header, affine_mm):
    for codes in ({"sform_code": 0}, {"qform_code": 0}):
        path = patch_nifti_header(write_nifti(tmp_path, blob), **codes)
        volume = load_volume(path)
        np.testing.assert_allclose(volume.affine, affine_mm(blob.shape), atol=1e-5)
        assert volume.warnings == ()


def test_qform_sform_disagreement_beyond_tolerance_is_warned_and_sform_used(tmp_path, blob, write_nifti, patch_nifti_header, affine_mm):
    path = write_nifti(tmp_path, blob)
    qoffset_x = float(nib.load(path).header["qoffset_x"])
    patch_nifti_header(path, qoffset_x=qoffset_x + 5.0)  # qform 5 mm to the right
    volume = load_volume(path)
    np.testing.assert_allclose(volume.affine, affine_mm(blob.shape))  # the sform
    [warning] = volume.warnings
    assert warning.code == "header.qform_sform_disagree" and warning.source == str(path)
    assert "5.00 mm apart" in warning.message and "uses the sform" in warning.message


def test_qform_sform_within_tolerance_is_not_warned(tmp_path, blob, write_nifti, patch_nifti_header):
    path = write_nifti(tmp_path, blob)
    shift = 0.9 * XFORM_TOLERANCE_VOXELS * 2.0  # 2 mm voxels
    patch_nifti_header(path, qoffset_x=float(nib.load(path).header["qoffset_x"]) + shift)
    assert load_volume(path).warnings == ()


@pytest.mark.parametrize(("units", "scale", "word"), [("meter", 0.001, "metres"), ("micron", 1000.0, "microns")])
def test_units_other_than_mm_are_converted_with_a_warning(tmp_path, blob, affine_mm, units, scale, word):
    affine_units = affine_mm(blob.shape).copy()
    affine_units[:3, :] *= scale
    img = nib.Nifti1Image(blob, affine_units)
    img.set_qform(affine_units, code=1)
    img.header.set_xyzt_units(units)
    path = tmp_path / "flair.nii.gz"
    nib.save(img, path)
    volume = load_volume(path)
    np.testing.assert_allclose(volume.affine, affine_mm(blob.shape), rtol=1e-5)
    assert volume.spacing_mm == pytest.approx((2.0, 2.0, 2.0))
    [warning] = volume.warnings
    assert warning.code == "header.units_converted" and word in warning.message


def test_invalid_units_code_is_refused(tmp_path, blob, write_nifti, patch_nifti_header):
    path = patch_nifti_header(write_nifti(tmp_path, blob), xyzt_units=5)
    with pytest.raises(HeaderError, match="xyzt_units gives spatial unit code 5"):
        load_volume(path)


def test_values_beyond_float32_are_refused_as_overflow_not_as_nan(tmp_path, blob, write_nifti):
    data = blob.astype(np.float64)
    data[1:4, 2, 3] = 1e39
    path = write_nifti(tmp_path, data, dtype=np.float64)
    with pytest.raises(InputFileError, match=r"has voxel values up to 1e\+39, beyond the float32 range") as info:
        load_volume(path)
    assert "NaN" not in str(info.value)
    data[1:4, 2, 3] = np.inf  # a real Inf is still called one
    with pytest.raises(InputFileError, match="has 3 NaN or Inf voxels"):
        load_volume(write_nifti(tmp_path, data, name="inf.nii.gz", dtype=np.float64))


def test_scaling_that_overflows_float32_is_refused_naming_scl_slope(tmp_path, blob, write_nifti, patch_nifti_header):
    path = patch_nifti_header(write_nifti(tmp_path, blob, dtype=np.int16), scl_slope=1e36, scl_inter=0.0)
    with pytest.raises(InputFileError, match=r"after scaling \(scl_slope 1e\+36, scl_inter 0\)"):
        load_volume(path)
    path = patch_nifti_header(path, scl_slope=np.inf)
    with pytest.raises(HeaderError, match="scl_slope inf / scl_inter 0 are not finite"):
        load_volume(path)


def test_scaling_is_applied(tmp_path, blob, write_nifti, patch_nifti_header):
    path = patch_nifti_header(write_nifti(tmp_path, blob, dtype=np.int16), scl_slope=0.5, scl_inter=10.0)
    np.testing.assert_allclose(load_volume(path).data, blob * 0.5 + 10.0)


def test_pair_header_in_a_nii_is_refused(tmp_path, blob, write_nifti, patch_nifti_header):
    path = patch_nifti_header(write_nifti(tmp_path, blob, name="x.nii"), magic=b"ni1")
    with pytest.raises(InputFileError, match=r"NIfTI pair \(.hdr/.img\)"):
        load_volume(path)


def test_big_endian_and_nifti2_files_load(tmp_path, blob, affine_mm):
    affine = affine_mm(blob.shape)
    for img, name in ((nib.Nifti2Image(blob, affine), "two.nii.gz"), (nib.Nifti1Image(blob.astype(">i2"), affine), "big.nii")):
        img.set_qform(affine, code=1)
        nib.save(img, tmp_path / name)
        volume = load_volume(tmp_path / name)
        np.testing.assert_array_equal(volume.data, blob)
        np.testing.assert_allclose(volume.affine, affine)


# ------------------------------------------------------------------------- outputs' geometry


def _geometry_fields(path: Path) -> dict[str, object]:
    header = nib.load(path).header
    keys = ("srow_x", "srow_y", "srow_z", "sform_code", "qform_code", "quatern_b", "quatern_c", "quatern_d",
            "qoffset_x", "qoffset_y", "qoffset_z", "xyzt_units")
    fields: dict[str, object] = {k: np.asarray(header[k]).tolist() for k in keys}
    fields["pixdim[:4]"] = np.asarray(header["pixdim"][:4]).tolist()
    return fields


def _oblique_affine() -> np.ndarray:
    angle = 0.2
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]) @ np.diag([2.0, 2.0, 2.5])
    affine[:3, 3] = [-60.0, -70.0, -40.0]
    return affine


@pytest.mark.parametrize("case", ["qform-and-sform-differ-slightly", "qform-only", "sform-aligned-qform-scanner"])
def test_outputs_keep_the_input_sform_and_qform_exactly(tmp_path, blob, write_nifti, patch_nifti_header, case):
    path = write_nifti(tmp_path, blob, _oblique_affine())
    header = nib.load(path).header
    if case == "qform-and-sform-differ-slightly":
        patch_nifti_header(path, qoffset_x=float(header["qoffset_x"]) + 0.03, quatern_d=float(header["quatern_d"]) + 1e-5)
    elif case == "qform-only":
        patch_nifti_header(path, sform_code=0, srow_x=[0, 0, 0, 0], srow_y=[0, 0, 0, 0], srow_z=[0, 0, 0, 0])
    else:
        patch_nifti_header(path, sform_code=2, qform_code=1)
    volume = load_volume(path)
    assert volume.warnings == ()
    out = save_nifti((volume.data > 300).astype(np.uint8), volume.affine, tmp_path / "mask.nii.gz", dtype=np.uint8, geometry=volume.nifti_geometry)
    assert _geometry_fields(out) == _geometry_fields(path)
    np.testing.assert_array_equal(np.asarray(nib.load(out).dataobj), volume.data > 300)


def test_outputs_of_a_dicom_input_get_its_affine_as_sform_and_qform(tmp_path, blob, write_dicom_series):
    volume = load_volume(write_dicom_series(tmp_path / "dicom", blob.astype(np.int16), spacing_mm=(2.0, 2.0, 2.0)))
    assert volume.nifti_geometry is None
    header = nib.load(save_nifti(volume.data, volume.affine, tmp_path / "x.nii.gz")).header
    assert (int(header["sform_code"]), int(header["qform_code"])) == (1, 1)
    np.testing.assert_allclose(header.get_sform(), volume.affine, atol=1e-5)
    np.testing.assert_allclose(header.get_qform(), volume.affine, atol=1e-5)


# ---------------------------------------------------------------------------------- DICOM


def _series(tmp_path: Path, write_dicom_series: Callable[..., Path], blob: np.ndarray, edit: Callable[[Dataset], None] | None = None) -> Path:
    folder = write_dicom_series(tmp_path / "dicom", blob.astype(np.int16), spacing_mm=(2.0, 2.0, 2.0))
    for path in sorted(folder.iterdir()) if edit else ():
        dataset = pydicom.dcmread(path)
        edit(dataset)
        dataset.save_as(path)
    return folder


@pytest.mark.parametrize(
    ("spacing", "shown"), [("0\\0", "0\\0"), (None, "missing"), ("-0.5\\0.02", "-0.5\\0.02")], ids=["zero", "missing", "negative"]
)
def test_unusable_pixel_spacing_is_refused_not_taken_as_1mm(tmp_path, write_dicom_series, blob, spacing, shown):
    def edit(dataset: Dataset) -> None:
        if spacing is None:
            del dataset.PixelSpacing
        else:
            dataset.PixelSpacing = spacing

    folder = _series(tmp_path, write_dicom_series, blob, edit)
    with pytest.raises(HeaderError, match="PixelSpacing is (.*): the in-plane voxel size is unknown") as info:
        load_volume(folder)
    assert f"PixelSpacing is {shown}:" in str(info.value)


def test_missing_slice_thickness_is_warned_and_spacing_taken_from_positions(tmp_path, write_dicom_series, blob):
    folder = _series(tmp_path, write_dicom_series, blob, lambda d: delattr(d, "SliceThickness"))
    volume = load_volume(folder)
    assert volume.spacing_mm == pytest.approx((2.0, 2.0, 2.0))
    [warning] = volume.warnings
    assert warning.code == "dicom.slice_thickness_missing" and "in 40 of 40 slices" in warning.message


def test_zero_orientation_is_named_as_the_cause(tmp_path, capfd, write_dicom_series, blob):
    folder = _series(tmp_path, write_dicom_series, blob, lambda d: setattr(d, "ImageOrientationPatient", [0] * 6))
    with pytest.raises(HeaderError, match=r"ImageOrientationPatient is 0\\0\\0\\0\\0\\0, not two perpendicular unit vectors"):
        load_volume(folder)
    _run_exits_2_naming(folder, tmp_path, capfd, "ImageOrientationPatient is 0", named=folder / "IM0000.dcm")


def test_negative_rescale_slope_is_applied(tmp_path, write_dicom_series, blob):
    def edit(dataset: Dataset) -> None:
        dataset.RescaleSlope, dataset.RescaleIntercept = -1, 0

    volume = load_volume(_series(tmp_path, write_dicom_series, blob, edit))
    np.testing.assert_array_equal(volume.data, -blob)
    assert volume.spacing_mm == pytest.approx((2.0, 2.0, 2.0))


@pytest.mark.parametrize(
    ("how", "named", "problem"),
    [
        ("short-element", "IM0007.dcm", "holds 4,000 bytes of pixel data, but Rows × Columns × BitsAllocated (64×64×16 bit) needs 8,192 (the file is truncated or corrupt)"),
        ("file-cut", "IM0007.dcm", "holds 7,192 bytes of pixel data, but Rows × Columns × BitsAllocated (64×64×16 bit) needs 8,192 (the file is truncated or corrupt)"),
    ],
)
def test_short_pixel_data_is_refused_every_time(tmp_path, capfd, write_dicom_series, blob, how, named, problem):
    folder = _series(tmp_path, write_dicom_series, blob)
    victim = folder / "IM0007.dcm"
    if how == "short-element":
        dataset = pydicom.dcmread(victim)
        dataset.PixelData = dataset.PixelData[:4000]
        dataset.save_as(victim)
    else:  # the pixel data element's declared length runs past the end of the file
        victim.write_bytes(victim.read_bytes()[:-1000])
    messages = set()
    for _ in range(4):  # GDCM reading past the end gave IndexError or garbage, varying between runs
        with pytest.raises(InputFileError) as info:
            load_volume(folder)
        messages.add(str(info.value))
    assert messages == {f"{folder / named if named else folder}: {problem}; copy the "
                        + ("series again" if named else "complete series again")}
    _run_exits_2_naming(folder, tmp_path, capfd, problem, named=folder / named)


def _structured_report(path: Path, series_uid: str) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report = Dataset()
    report.file_meta = meta
    report.SOPClassUID, report.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    report.Modality, report.SeriesInstanceUID, report.StudyInstanceUID = "SR", series_uid, generate_uid()
    report.save_as(path, enforce_file_format=True)
    return path


def test_structured_report_is_named_as_not_an_image(tmp_path, write_dicom_series, blob):
    folder = tmp_path / "report"
    folder.mkdir()
    _structured_report(folder / "report.dcm", generate_uid())
    with pytest.raises(InputFileError) as info:
        load_volume(folder)
    message = str(info.value)
    assert "report.dcm (a structured report, Comprehensive SR Storage) is DICOM but not an image" in message
    assert "truncated" not in message and "corrupt" not in message
    series = _series(tmp_path, write_dicom_series, blob)
    _structured_report(series / "report.dcm", generate_uid())  # a report beside a series is left out
    assert load_volume(series).shape == blob.shape


def test_corrupt_jpeg_series_gives_one_line_without_decoder_noise(tmp_path, capfd, write_dicom_series, blob):
    import SimpleITK as sitk

    folder = _series(tmp_path, write_dicom_series, blob)
    for path in sorted(folder.iterdir()):
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        image = reader.Execute()
        for key in reader.GetMetaDataKeys():
            image.SetMetaData(key, reader.GetMetaData(key))
        writer = sitk.ImageFileWriter()
        writer.SetFileName(str(path))
        writer.SetUseCompression(True)
        writer.SetCompressor("JPEG")
        writer.KeepOriginalImageUIDOn()
        writer.Execute(image)
        raw = bytearray(path.read_bytes())
        raw[-1500:-1000] = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(raw))
    assert "JPEG" in str(pydicom.dcmread(folder / "IM0000.dcm").file_meta.TransferSyntaxUID.name)
    with pytest.raises(InputFileError, match=r"dcm2niix could not convert the series \(exit code [1-9].*JPEG"):
        load_volume(folder)
    _run_exits_2_naming(folder, tmp_path, capfd, "dcm2niix could not convert the series")

