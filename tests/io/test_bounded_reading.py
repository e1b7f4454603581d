"""Bounded reading: memory and work are capped before untrusted data is unpacked.

The bomb cases run the load in a child process that reports its own peak resident memory,
so a reader that allocates what a lying header (or gzip stream) promises fails the test.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from b12brain.errors import ConfigError, HeaderError, InputFileError
from b12brain.io import load_volume
from b12brain.io.bounded import CHUNK_BYTES, read_head, read_span
from b12brain.io.validate import DEFAULT_MAX_VOXELS, MAX_VOXELS_ENV, max_voxels

#: Peak resident memory a refused bomb may cost, in MB (interpreter and libraries included).
PEAK_MB_LIMIT = 500

_CHILD = """
import json, resource, sys
from b12brain.errors import B12BrainError
from b12brain.io import load_volume
try:
    load_volume(sys.argv[1])
    outcome = "loaded"
except B12BrainError as err:
    outcome = str(err)
try:  # this process's own peak (ru_maxrss also counts the forked parent's pages on Linux)
    with open("/proc/self/status") as status:
        peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
except OSError:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"outcome": outcome, "peak_mb": peak_mb}))
"""


def _load_in_child(path: Path) -> dict[str, object]:
    """Load ``path`` in a fresh interpreter; its outcome (error text) and peak RSS in MB."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _header(shape: tuple[int, ...], dtype: type, spacing: float = 1.0) -> nib.Nifti1Header:
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_zooms((spacing,) * len(shape))
    affine = np.diag([spacing, spacing, spacing, 1.0])
    header.set_sform(affine, code=1)
    header.set_qform(affine, code=1)
    header.set_xyzt_units("mm")
    header["vox_offset"] = 352
    return header


def _gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)


def test_gzip_bomb_stops_at_the_cap_with_bounded_memory(tmp_path, blob):
    # A valid 64×64×40 float32 image followed by 2 GiB of zeros (32 gzip members of 64 MiB):
    # a 2 MB file that a whole-file reader unpacks in full.
    image = _header(blob.shape, np.float32, 2.0).binaryblock + bytes(4) + blob.tobytes(order="F")
    zeros = _gzip_member(bytes(64 << 20))
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(_gzip_member(image) + zeros * 32)
    assert path.stat().st_size < 3 << 20

    result = _load_in_child(path)

    assert str(path) in result["outcome"] and "unpacks to more than" in result["outcome"], result
    assert result["peak_mb"] <= PEAK_MB_LIMIT, result


def test_gzip_bomb_with_an_honest_huge_header_is_refused_before_unpacking(tmp_path):
    # The tester's case: 2 MB .nii.gz that unpacks to 2.1 GB of float64 (1024×512×512).
    path = tmp_path / "huge.nii.gz"
    header = _header((1024, 512, 512), np.float64, 0.5)
    path.write_bytes(_gzip_member(header.binaryblock + bytes(4)) + _gzip_member(bytes(64 << 20)) * 32)

    result = _load_in_child(path)

    assert "dimensions (1024, 512, 512) are too large" in str(result["outcome"]), result
    assert result["peak_mb"] <= PEAK_MB_LIMIT, result


@pytest.mark.parametrize("name", ["claims_huge.nii", "claims_huge.nii.gz"])
def test_truncated_file_claiming_a_big_volume_is_refused_before_allocating(tmp_path, name):
    # 1 KB on disk; the header describes 500³ int16 voxels (250 MB, under the voxel ceiling).
    raw = _header((500, 500, 500), np.int16, 0.4).binaryblock + bytes(4) + bytes(range(256)) * 3
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)

    result = _load_in_child(path)

    assert "is truncated or corrupt: its header describes int16 voxels 500×500×500" in str(result["outcome"]), result
    assert result["peak_mb"] <= PEAK_MB_LIMIT, result


def test_dicom_series_whose_header_claims_a_huge_matrix_is_refused_before_reading_pixels(tmp_path, write_dicom_series):
    # The tester's case: a 1 MB series whose slices claim 1024×1024 (×250 slices).
    folder = write_dicom_series(tmp_path / "dicom", np.ones((8, 8, 250), np.int16), spacing_mm=(1.0, 1.0, 1.0))
    for path in sorted(folder.iterdir()):
        dataset = pydicom.dcmread(path)
        dataset.Rows = dataset.Columns = 1024
        dataset.save_as(path)

    result = _load_in_child(folder)

    assert "holds 128 bytes of pixel data, but Rows × Columns × BitsAllocated (1024×1024×16 bit) needs 2,097,152" in str(
        result["outcome"]
    ), result
    assert result["peak_mb"] <= PEAK_MB_LIMIT, result


def test_voxel_ceiling_applies_to_dicom_before_pixels_are_read(tmp_path, write_dicom_series, blob):
    folder = write_dicom_series(tmp_path / "dicom", blob.astype(np.int16), spacing_mm=(2.0, 2.0, 2.0))
    with pytest.raises(HeaderError, match=r"dimensions \(64, 64, 40\) are too large \(163,840 voxels\).*1,000 in all"):
        load_volume(folder, max_voxels=1000)
    assert load_volume(folder).shape == (64, 64, 40)


def test_voxel_ceiling_from_the_environment_and_its_errors(tmp_path, monkeypatch, write_nifti, blob):
    path = write_nifti(tmp_path, blob)
    assert max_voxels() == DEFAULT_MAX_VOXELS == 512**3
    monkeypatch.setenv(MAX_VOXELS_ENV, "100000")
    with pytest.raises(HeaderError, match=rf"163,840 voxels\).*100,000 in all.*{MAX_VOXELS_ENV}"):
        load_volume(path)
    assert load_volume(path, max_voxels=200_000).shape == blob.shape  # the argument wins
    monkeypatch.setenv(MAX_VOXELS_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{MAX_VOXELS_ENV}='lots' is not a positive whole number"):
        load_volume(path)
    with pytest.raises(ConfigError, match="max_voxels='0'"):
        load_volume(path, max_voxels=0)


def test_nii_shorter_than_its_header_says_names_the_sizes(tmp_path, write_nifti, blob):
    path = write_nifti(tmp_path, blob, name="x.nii")
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])
    with pytest.raises(InputFileError, match=rf"from byte 352 \({len(raw):,} bytes in all\), the file holds {len(raw) - 10:,}"):
        load_volume(path)


def test_read_span_keeps_only_the_asked_bytes_across_chunks_and_gzip_members(tmp_path):
    content = np.random.default_rng(0).bytes(2 * CHUNK_BYTES + 123)
    path = tmp_path / "x.bin.gz"
    cut = CHUNK_BYTES + 7
    path.write_bytes(gzip.compress(content[:cut]) + gzip.compress(content[cut:]) + bytes(64))  # + zero padding
    offset, size = CHUNK_BYTES - 5, CHUNK_BYTES + 50  # spans chunk and member boundaries; 78 bytes left over
    assert bytes(read_span(path, offset, size)) == content[offset : offset + size]
    assert read_head(path, 10) == content[:10]
    plain = tmp_path / "x.bin"
    plain.write_bytes(content)
    assert bytes(read_span(plain, offset, size)) == content[offset : offset + size]
    assert len(read_span(plain, len(content) - 3, 10)) == 3  # short: the caller reports it


def test_read_span_refuses_a_cut_off_or_corrupt_gzip_stream(tmp_path):
    packed = gzip.compress(np.random.default_rng(1).bytes(100_000))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[:-4])  # all the data, but the size trailer cut off
    with pytest.raises(InputFileError, match="cut off before its end"):
        read_span(path, 0, 100_000)
    broken = bytearray(packed)
    broken[len(broken) // 2 : len(broken) // 2 + 32] = bytes(32)
    path.write_bytes(bytes(broken))
    with pytest.raises(InputFileError, match="truncated or corrupt"):
        read_span(path, 0, 100_000)
    with pytest.raises(zlib.error):  # the damage is real
        zlib.decompress(bytes(broken), 16 + zlib.MAX_WBITS)
