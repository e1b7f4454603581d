"""NIfTI reading/writing: round trip, atomic writes, headers refused as stored."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from b12brain.errors import HeaderError, InputFileError
from b12brain.io import load_volume, save_nifti


def test_save_then_load_round_trip_on_an_oblique_grid(tmp_path, blob):
    angle = 0.25
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([1.5, 2.0, 2.5])
    affine[:3, 3] = [-40.0, 12.5, 3.0]
    path = save_nifti(blob, affine, tmp_path / "x.nii.gz")
    volume = load_volume(path)
    np.testing.assert_array_equal(volume.data, blob)
    np.testing.assert_allclose(volume.affine, affine, atol=1e-5)
    np.testing.assert_allclose(volume.spacing_mm, (1.5, 2.0, 2.5), rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["x.nii.gz"]  # no temporary file left behind


@pytest.mark.parametrize(("pixdim", "expected"), [([1, 2, 0, 2], r"pixdim\[2\] is 0"), ([1, 2, 2, -2], r"pixdim\[3\] is -2")])
def test_bad_pixdim_is_refused_even_with_a_valid_sform(tmp_path, capfd, blob, write_nifti, patch_nifti_header, pixdim, expected):
    # nibabel would silently set 0 to 1 and -2 to 2 (logging to stderr); the file is corrupt.
    path = patch_nifti_header(write_nifti(tmp_path, blob), pixdim=[*pixdim, 1, 1, 1, 1])
    logger_state = nib.imageglobals.logger.disabled
    with pytest.raises(HeaderError, match=expected):
        load_volume(path)
    assert capfd.readouterr().err == ""
    assert nib.imageglobals.logger.disabled == logger_state


def test_uncompressed_and_int16_files_load_as_float32(tmp_path, blob, write_nifti, affine_mm):
    path = write_nifti(tmp_path, blob, affine_mm(blob.shape), "x.nii", dtype=np.int16)
    volume = load_volume(path)
    assert volume.data.dtype == np.float32
    np.testing.assert_array_equal(volume.data, blob)


def test_empty_mask_is_accepted_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "empty_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 8), np.uint8), np.diag([3.0, 3.0, 6.0, 1.0])), path)
    with pytest.raises(InputFileError, match="empty"):
        load_volume(path)
    assert load_volume(path, allow_constant=True).data.max() == 0
