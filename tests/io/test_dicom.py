"""DICOM series folders: geometry equal to the NIfTI of the same data, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from b12brain.errors import InputFileError
from b12brain.io import load_volume
from b12brain.io.dicom import load_dicom_series

SHAPE = (40, 48, 24)
SPACING = (1.1, 0.9, 2.5)
ORIGIN_LPS = (-20.0, 31.5, -12.0)


def _rotation(angle_x: float, angle_z: float) -> np.ndarray:
    cx, sx, cz, sz = np.cos(angle_x), np.sin(angle_x), np.cos(angle_z), np.sin(angle_z)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ rx


def _data(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Distinct values along every axis, so any flip or transpose shows up.
    ramp = np.add.outer(np.add.outer(np.arange(SHAPE[0]) * 3, np.arange(SHAPE[1]) * 7), np.arange(SHAPE[2]) * 11)
    return (ramp + rng.integers(0, 3, SHAPE)).astype(np.int16)


def _sitk_nifti(tmp_path: Path, data: np.ndarray, direction: np.ndarray) -> Path:
    """The same image written to NIfTI by SimpleITK (its own LPS→RAS conversion)."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))
    img.SetSpacing(SPACING)
    img.SetOrigin(ORIGIN_LPS)
    img.SetDirection(direction.ravel().tolist())
    path = tmp_path / "same.nii.gz"
    sitk.WriteImage(img, str(path))
    return path


@pytest.mark.parametrize(
    "direction",
    [np.eye(3), _rotation(0.3, 0.0), _rotation(-0.2, 0.5), np.diag([1.0, -1.0, -1.0])],
    ids=["axial", "oblique-x", "oblique-xz", "flipped"],
)
def test_dicom_matches_nifti_of_same_data(tmp_path, write_dicom_series, direction):
    data = _data()
    series = write_dicom_series(
        tmp_path / "series", data, spacing_mm=SPACING, origin_lps=ORIGIN_LPS, direction=direction
    )
    dicom = load_volume(series)
    nifti = load_volume(_sitk_nifti(tmp_path, data, direction))

    assert dicom.shape == SHAPE
    np.testing.assert_array_equal(dicom.data, data.astype(np.float32))
    np.testing.assert_array_equal(dicom.data, nifti.data)
    np.testing.assert_allclose(dicom.affine, nifti.affine, atol=1e-4)
    np.testing.assert_allclose(dicom.spacing_mm, SPACING, rtol=1e-5)
    # Voxel (i, j, k) lands on the same RAS mm as SimpleITK's own LPS mapping, x and y negated.
    ref = sitk.GetImageFromArray(np.zeros(SHAPE[::-1], np.int16))
    ref.SetSpacing(SPACING)
    ref.SetOrigin(ORIGIN_LPS)
    ref.SetDirection(direction.ravel().tolist())
    for ijk in [(0, 0, 0), (39, 0, 0), (0, 47, 0), (0, 0, 23), (7, 30, 11)]:
        lps = np.array(ref.TransformIndexToPhysicalPoint(ijk))
        ras = dicom.affine @ np.array([*ijk, 1.0])
        np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], atol=1e-3)


def test_slices_written_in_shuffled_file_order_still_load_in_position_order(tmp_path, write_dicom_series):
    data = _data()
    series = write_dicom_series(tmp_path / "s", data, spacing_mm=SPACING, origin_lps=ORIGIN_LPS)
    files = sorted(series.iterdir())
    rng = np.random.default_rng(3)
    for i, f in enumerate(rng.permutation(files)):
        f.rename(series / f"x{i:03d}.dcm")
    np.testing.assert_array_equal(load_dicom_series(series).data, data)


def test_non_dicom_files_beside_the_series_are_ignored_quietly(tmp_path, capfd, write_dicom_series):
    data = _data()
    series = write_dicom_series(tmp_path / "s", data, spacing_mm=SPACING)
    (series / "README.txt").write_text("exported from PACS\n")
    (series / "junk.dcm").write_bytes(b"\x00" * 300 + b"not dicom at all")
    capfd.readouterr()
    np.testing.assert_array_equal(load_dicom_series(series).data, data)
    assert capfd.readouterr().err == ""  # nothing from ITK/GDCM on the C-level stderr


def test_empty_folder(tmp_path):
    with pytest.raises(InputFileError, match="no DICOM series found") as info:
        load_dicom_series(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_folder_with_only_non_dicom_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "scan.dcm").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InputFileError, match="no DICOM series found"):
        load_dicom_series(tmp_path)


def test_series_one_level_down_is_not_searched_but_hinted(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path / "SE0001", _data(), spacing_mm=SPACING)
    with pytest.raises(InputFileError, match="sub-folders are not searched: pass the folder that holds the slice files"):
        load_dicom_series(tmp_path)
    assert load_dicom_series(tmp_path / "SE0001").shape == SHAPE


def test_two_series_in_one_folder_are_listed(tmp_path, write_dicom_series):
    data = _data()
    write_dicom_series(tmp_path, data, series_uid="2.25.11", description="AX FLAIR", prefix="A")
    write_dicom_series(tmp_path, data[:, :, :10], series_uid="2.25.22", description="SAG T1", prefix="B")
    with pytest.raises(InputFileError) as info:
        load_dicom_series(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: holds 2 DICOM series")
    assert "2.25.11: 24 files" in message and "'AX FLAIR'" in message
    assert "2.25.22: 10 files" in message and "'SAG T1'" in message
    assert "pass a folder with one series" in message


@pytest.mark.parametrize("direction", [np.eye(3), _rotation(0.3, 0.2)], ids=["axial", "oblique"])
def test_missing_slice_is_named(tmp_path, write_dicom_series, direction):
    write_dicom_series(tmp_path, _data(), spacing_mm=SPACING, direction=direction, skip_slices=(9,))
    with pytest.raises(InputFileError, match=r"1 missing slice: the gap between IM0008.dcm and IM0010.dcm is 5.00 mm"):
        load_dicom_series(tmp_path)


def test_duplicated_slice_position(tmp_path, write_dicom_series):
    series = write_dicom_series(tmp_path, _data(), spacing_mm=SPACING)
    # A second copy of a slice (another SOP instance at the same place), as a re-send produces.
    img = sitk.ReadImage(str(series / "IM0005.dcm"))
    img.SetMetaData("0008|0018", "2.25.999")
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    writer.SetFileName(str(series / "IM0005_copy.dcm"))
    writer.Execute(img)
    with pytest.raises(InputFileError, match="two slices share the position"):
        load_dicom_series(series)


def test_mixed_orientations_in_one_series(tmp_path, write_dicom_series):
    data = _data()
    write_dicom_series(tmp_path, data[:, :, :12], spacing_mm=SPACING, series_uid="2.25.5", prefix="A")
    write_dicom_series(
        tmp_path, data[:, :, 12:], spacing_mm=SPACING, series_uid="2.25.5", direction=_rotation(0.4, 0.0),
        origin_lps=(0.0, 0.0, 40.0), prefix="B",
    )
    with pytest.raises(InputFileError, match="mixes slice orientations|holds 2 DICOM series"):
        load_dicom_series(tmp_path)


def test_mixed_slice_sizes_in_one_series(tmp_path, write_dicom_series):
    data = _data()
    write_dicom_series(tmp_path, data[:, :, :12], spacing_mm=SPACING, series_uid="2.25.6", prefix="A")
    write_dicom_series(
        tmp_path, data[:32, :, 12:], spacing_mm=SPACING, series_uid="2.25.6",
        origin_lps=(0.0, 0.0, 12 * SPACING[2]), prefix="B",
    )
    with pytest.raises(InputFileError, match="mixes slice sizes|holds 2 DICOM series"):
        load_dicom_series(tmp_path)


@pytest.mark.parametrize("keep", [0.3, 0.95], ids=["header-cut", "pixels-cut"])
def test_truncated_slice_file_is_named(tmp_path, write_dicom_series, keep):
    series = write_dicom_series(tmp_path, _data(), spacing_mm=SPACING)
    victim = series / "IM0004.dcm"
    victim.write_bytes(victim.read_bytes()[: int(victim.stat().st_size * keep)])
    with pytest.raises(InputFileError) as info:
        load_dicom_series(series)
    message = str(info.value)
    assert message.startswith(str(series))
    assert "IM0004.dcm" in message and "truncated or corrupt" in message


def test_folder_with_only_a_truncated_dicom_file(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path, _data()[:, :, :1], spacing_mm=SPACING)
    victim = tmp_path / "IM0000.dcm"
    victim.write_bytes(victim.read_bytes()[:400])
    with pytest.raises(InputFileError, match=r"no DICOM series found \(1 DICOM file could not be read.*IM0000.dcm\)"):
        load_dicom_series(tmp_path)


def test_multi_frame_file_without_per_frame_geometry_is_named(tmp_path):
    # SimpleITK writes a 3D image to one file as a multi-frame secondary capture.
    img = sitk.GetImageFromArray(np.ascontiguousarray(_data().transpose(2, 1, 0)).astype(np.uint16))
    sitk.WriteImage(img, str(tmp_path / "volume.dcm"))
    with pytest.raises(InputFileError) as info:
        load_dicom_series(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: holds no image series: volume.dcm (a secondary capture")


def test_single_slice_series_is_too_thin(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path, _data()[:, :, :1], spacing_mm=SPACING)
    with pytest.raises(InputFileError, match="too small|dimensions"):
        load_dicom_series(tmp_path)


def test_constant_dicom_fails_value_checks(tmp_path, write_dicom_series):
    write_dicom_series(tmp_path, np.full(SHAPE, 7, np.int16), spacing_mm=SPACING)
    with pytest.raises(InputFileError, match=r"constant \(every voxel is 7\)"):
        load_dicom_series(tmp_path)


def test_load_volume_dispatches_folders_to_dicom(tmp_path):
    with pytest.raises(InputFileError, match="no DICOM series found"):
        load_volume(tmp_path)
