"""Shared test builders: small synthetic NIfTI files and DICOM series written to tmp_path.

The builders are plain functions exposed as fixtures (``tests`` is not a package, so test
modules should not import this file): one fixture per builder, or all of them at once as
``builders``, e.g.::

    def test_x(tmp_path, write_nifti, affine_mm, blob):
        path = write_nifti(tmp_path, blob, affine_mm(blob.shape), "flair.nii.gz")
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage as ndi

#: Shape and voxel size of the default synthetic scan: small, but passes every input check.
BLOB_SHAPE = (64, 64, 40)
BLOB_SPACING_MM = 2.0
#: A fixed study UID root for generated DICOM (2.25 = UUID-derived, always valid syntax).
_UID_ROOT = "2.25.1234567890"


#: Folders whose conftest builds a session-scoped run that several of their files share.
_ONE_WORKER_FOLDERS = ("tests/report/", "tests/pacs/", "tests/study/")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which `make test` runs with -n 2 --dist loadfile
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadfile``, with each folder of :data:`_ONE_WORKER_FOLDERS` sent whole to one worker.

    Each test file runs on one worker, so its module-scoped fixtures (a pipeline run asserted on
    by many tests) are built once; so are the session-scoped runs of those folders. (xdist's own
    ``xdist_group`` marks do not reach the scheduler under pytest 9, which no longer lets a
    plugin rename a test.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class _FolderOrFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((folder for folder in _ONE_WORKER_FOLDERS if path.startswith(folder)), path)

    return _FolderOrFileScheduling(config, log)


def make_blob(shape: Sequence[int] = BLOB_SHAPE, *, seed: int = 0) -> npt.NDArray[np.float32]:
    """A smooth, non-constant head-like image: a bright ellipsoid on a dark background.

    Values run 0-1000 so the same array can be stored as int16 DICOM without rescaling.
    """
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    r2 = sum((g / 0.7) ** 2 for g in grids)
    rng = np.random.default_rng(seed)
    blob = 800.0 * np.exp(-2.0 * r2) + 100.0 * (grids[0] + 1.0) + rng.uniform(0, 5, size=tuple(shape))
    return np.round(blob).astype(np.float32)


def affine_mm(shape: Sequence[int], spacing_mm: float | Sequence[float] = BLOB_SPACING_MM) -> npt.NDArray[np.float64]:
    """A RAS+ diagonal affine with the grid centred on the world origin."""
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
    dims = np.ones(3)
    dims[: min(3, len(shape))] = np.asarray(shape[:3], dtype=float)  # a 2D image has one slice
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -spacing * (dims - 1) / 2.0
    return affine


def write_nifti(
    folder: Path,
    data: npt.ArrayLike,
    affine: npt.ArrayLike | None = None,
    name: str = "flair.nii.gz",
    *,
    dtype: npt.DTypeLike | None = None,
) -> Path:
    """Write ``data`` as ``folder/name`` with both sform and qform set; return the path.

    ``affine`` defaults to :func:`affine_mm` for the data's shape. The qform is set too, so
    a test that corrupts one of them must corrupt the other (or zero its code) itself.
    """
    data = np.asarray(data if dtype is None else np.asarray(data).astype(dtype))
    affine = affine_mm(data.shape) if affine is None else np.asarray(affine, dtype=np.float64)
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    path = Path(folder) / name
    nib.save(img, str(path))
    return path


def patch_nifti_header(path: Path, **fields: object) -> Path:
    """Overwrite NIfTI-1 header fields in place, byte for byte, without nibabel "fixing" them.

    ``nib.save`` recomputes pixdim/sform/qform from the affine, so a corrupt header cannot be
    written through it; this edits the 348-byte header of an existing file instead (gzip
    streams are decompressed and written back). Example:
    ``patch_nifti_header(p, pixdim=[1, 2, 2, 0, 1, 1, 1, 1])``.
    """
    path = Path(path)
    raw = path.read_bytes()
    zipped = path.name.endswith(".gz")
    if zipped:
        raw = gzip.decompress(raw)
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw[:348]), check=False)
    for key, value in fields.items():
        header[key] = value
    raw = header.binaryblock + raw[348:]
    path.write_bytes(gzip.compress(raw) if zipped else raw)
    return path


def write_dicom_series(
    folder: Path,
    data: npt.ArrayLike,
    *,
    spacing_mm: Sequence[float] = (1.0, 1.0, 2.0),
    origin_lps: Sequence[float] = (0.0, 0.0, 0.0),
    direction: npt.ArrayLike = np.eye(3),
    series_uid: str = f"{_UID_ROOT}.1",
    description: str = "AX FLAIR",
    skip_slices: Sequence[int] = (),
    prefix: str = "IM",
    extra_tags: Mapping[str, str] | None = None,
) -> Path:
    """Write ``data`` (X, Y, Z) as a classic single-frame MR DICOM series, one file per slice.

    Follows SimpleITK's "DICOM series from array" example: each slice carries its own
    ImagePositionPatient (0020|0032) and the common ImageOrientationPatient (0020|0037),
    SeriesInstanceUID (0020|000e) and SliceThickness (0018|0050).

    Parameters
    ----------
    data : (X, Y, Z) array
        Voxel values; stored as int16 (so keep them integer and within ±32767).
    spacing_mm, origin_lps, direction
        SimpleITK (LPS) geometry: voxel sizes, position of voxel (0, 0, 0), and a 3×3 matrix
        whose columns are the index axes' direction cosines.
    skip_slices
        Slice indices not to write (to make a series with missing slices).
    extra_tags
        More header elements, ``{"gggg|eeee": value}`` (e.g. ``{"0010|0010": "DOE^JANE"}``),
        written on every slice after the defaults (so they may replace them).
    """
    import SimpleITK as sitk

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    array = np.asarray(data)
    img = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)).astype(np.int16))
    img.SetSpacing([float(s) for s in spacing_mm])
    img.SetOrigin([float(o) for o in origin_lps])
    rotation = np.asarray(direction, dtype=float).reshape(3, 3)
    img.SetDirection(rotation.ravel().tolist())
    iop = "\\".join(f"{v:.8f}" for v in (*rotation[:, 0], *rotation[:, 1]))
    common = [
        ("0008|0060", "MR"),
        ("0008|0008", "ORIGINAL\\PRIMARY\\M\\NONE"),
        ("0008|0020", "20240101"),
        ("0008|0030", "120000"),
        ("0008|0021", "20240101"),
        ("0008|0031", "120000"),
        ("0008|0070", "B12BRAIN TEST"),
        ("0018|5100", "HFS"),
        ("0020|0011", "3"),
        ("0020|000d", f"{_UID_ROOT}.99"),
        ("0020|000e", series_uid),
        ("0008|103e", description),
        ("0020|0037", iop),
        ("0018|0050", f"{float(spacing_mm[2]):.6f}"),
        ("0018|0088", f"{float(spacing_mm[2]):.6f}"),
        *(extra_tags or {}).items(),
    ]
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(array.shape[2]):
        if k in skip_slices:
            continue
        slice_k = img[:, :, k]
        for tag, value in common:
            slice_k.SetMetaData(tag, value)
        position = img.TransformIndexToPhysicalPoint((0, 0, k))
        slice_k.SetMetaData("0020|0032", "\\".join(f"{p:.6f}" for p in position))
        slice_k.SetMetaData("0020|0013", str(k + 1))
        slice_k.SetMetaData("0008|0018", f"{series_uid}.{k + 1}")
        writer.SetFileName(str(folder / f"{prefix}{k:04d}.dcm"))
        writer.Execute(slice_k)
    return folder


def recode_dicom_series(source: Path, folder: Path, transfer_syntax: str) -> Path:
    """Copy a classic series into ``folder`` with its pixel data in another transfer syntax.

    JPEG 2000 (lossless) is encoded with pylibjpeg-openjpeg, JPEG-LS with pyjpegls, RLE and
    deflate with pydicom itself.
    """
    import pydicom
    from pydicom import uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(source).glob("*.dcm")):
        ds = pydicom.dcmread(path)
        if transfer_syntax == uid.JPEG2000Lossless:
            from openjpeg import encode
            from pydicom.encaps import encapsulate

            ds.PixelData = encapsulate([encode(ds.pixel_array, photometric_interpretation=2, codec_format=0)])
            ds["PixelData"].VR = "OB"
            ds.file_meta.TransferSyntaxUID = transfer_syntax
        elif transfer_syntax == uid.DeflatedExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = transfer_syntax
        else:
            plugin = "pyjpegls" if transfer_syntax == uid.JPEGLSLossless else "pydicom"
            ds.compress(transfer_syntax, encoding_plugin=plugin)
        ds.save_as(folder / path.name, enforce_file_format=True)
    return folder


def write_enhanced_series(source: Path, folder: Path, *, sop_class: str | None = None) -> Path:
    """Convert a classic series into one Legacy Converted Enhanced MR file (highdicom) in ``folder``.

    ``sop_class`` relabels it (e.g. Enhanced MR Image Storage: the same functional groups, under
    the class current Siemens XA and Philips scanners write; not a complete Enhanced MR object).
    """
    import highdicom
    import pydicom

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    legacy = [pydicom.dcmread(p) for p in sorted(Path(source).glob("*.dcm"))]
    for ds in legacy:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID  # SimpleITK's files keep it in the meta only
    enhanced = highdicom.legacy.LegacyConvertedEnhancedMRImage(
        legacy_datasets=legacy, series_instance_uid=highdicom.UID(), series_number=9,
        sop_instance_uid=highdicom.UID(), instance_number=1,
    )
    if sop_class is not None:
        enhanced.SOPClassUID = enhanced.file_meta.MediaStorageSOPClassUID = sop_class
    enhanced.save_as(folder / "enhanced.dcm")
    return folder


def sha256_of(path: Path) -> str:
    """Hash of a file, or of every file under a folder (names and bytes), to prove it unchanged."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def write_run_folder(
    folder: Path,
    flair: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    affine: npt.ArrayLike | None = None,
    classes: dict[int, str] | None = None,
    sidecar: dict[str, object] | None = None,
    settings: dict[str, object] | None = None,
    schema: str = "1.3",
    subject: dict[str, object] | None = None,
    caps_lining: npt.ArrayLike | None = None,
) -> Path:
    """A minimal ``b12brain run`` output folder (what ``b12brain followup`` reads); return it.

    The FLAIR goes beside the folder (``<folder>_flair.nii.gz``, recorded with its SHA-256 in
    ``summary.json``); ``lesion_labels.nii.gz`` holds ``labels`` and ``lesions.csv`` one row per
    id (volume from its voxels, class from ``classes``, default deep); ``caps_lining_mask.nii.gz``
    holds ``caps_lining`` (default none); ``sidecar`` is written as
    ``flair.json`` and ``subject`` as ``summary.json``'s ``subject`` record (schema 1.6) when given.
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True)
    labels = np.asarray(labels, dtype=np.uint16)
    affine = affine_mm(labels.shape) if affine is None else np.asarray(affine, dtype=np.float64)
    flair_path = write_nifti(folder.parent, np.asarray(flair, dtype=np.float32), affine, f"{folder.name}_flair.nii.gz")
    write_nifti(folder, labels, affine, "lesion_labels.nii.gz")
    caps = np.zeros(labels.shape, dtype=np.uint8) if caps_lining is None else np.asarray(caps_lining, dtype=np.uint8)
    write_nifti(folder, caps, affine, "caps_lining_mask.nii.gz")
    voxel_mm = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    rows = ["id,volume_ml,voxels,lesion_class"]
    for lesion_id in np.unique(labels[labels > 0]).tolist():
        voxels = int((labels == lesion_id).sum())
        rows.append(f"{lesion_id},{voxels * float(np.prod(voxel_mm)) / 1000.0:.6f},{voxels},"
                    f"{(classes or {}).get(lesion_id, 'deep')}")
    (folder / "lesions.csv").write_text("\n".join(rows) + "\n")
    summary = {
        "schema_version": schema,
        "software": {"name": "b12brain", "version": "test"},
        "inputs": [{"role": "flair", "path": str(flair_path.absolute()), "sha256": hashlib.sha256(flair_path.read_bytes()).hexdigest(),
                    "shape": list(labels.shape), "voxel_mm": voxel_mm.round(4).tolist()}],
        "settings": {"segmenter": "classical", "threshold": 0.5, "min_lesion_ml": 0.03} | (settings or {}),
        "caps_lining": {"count": int(ndi.label(caps)[1]), "ml": float(caps.sum() * np.prod(voxel_mm) / 1000.0)},
    } | ({"subject": subject} if subject is not None else {})
    (folder / "summary.json").write_text(json.dumps(summary))
    if sidecar is not None:
        (folder / "flair.json").write_text(json.dumps(sidecar))
    return folder


@pytest.fixture(name="write_run_folder")
def _write_run_folder_fixture() -> Callable[..., Path]:
    return write_run_folder


@pytest.fixture
def blob() -> npt.NDArray[np.float32]:
    """A 64×64×40 smooth synthetic scan (use with :func:`affine_mm`, 2 mm voxels)."""
    return make_blob()


@pytest.fixture(name="write_nifti")
def _write_nifti_fixture() -> Callable[..., Path]:
    return write_nifti


@pytest.fixture(name="write_dicom_series")
def _write_dicom_series_fixture() -> Callable[..., Path]:
    return write_dicom_series


@pytest.fixture(name="recode_dicom_series")
def _recode_dicom_series_fixture() -> Callable[..., Path]:
    return recode_dicom_series


@pytest.fixture(name="write_enhanced_series")
def _write_enhanced_series_fixture() -> Callable[..., Path]:
    return write_enhanced_series


@pytest.fixture(name="affine_mm")
def _affine_mm_fixture() -> Callable[..., npt.NDArray[np.float64]]:
    return affine_mm


@pytest.fixture(name="patch_nifti_header")
def _patch_nifti_header_fixture() -> Callable[..., Path]:
    return patch_nifti_header


@pytest.fixture
def builders() -> SimpleNamespace:
    """All builders of this module in one object (``builders.write_nifti(...)``, ...)."""
    return SimpleNamespace(
        BLOB_SHAPE=BLOB_SHAPE,
        BLOB_SPACING_MM=BLOB_SPACING_MM,
        make_blob=make_blob,
        affine_mm=affine_mm,
        write_nifti=write_nifti,
        patch_nifti_header=patch_nifti_header,
        write_dicom_series=write_dicom_series,
        recode_dicom_series=recode_dicom_series,
        write_enhanced_series=write_enhanced_series,
        sha256_of=sha256_of,
    )


@pytest.fixture(name="sha256_of")
def _sha256_fixture() -> Callable[[Path], str]:
    return sha256_of


TreeOf = Callable[[Path], dict[str, str]]


def _tree(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``, hidden ones too: file -> SHA-256, link -> target, folder -> 'dir'."""
    tree = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            tree[key] = "-> " + os.readlink(path)
        elif path.is_dir():
            tree[key] = "dir"
        else:
            tree[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tree


@pytest.fixture
def tree_of() -> TreeOf:
    """A snapshot of a folder tree, to show that nothing in it changed."""
    return _tree


def require_system_tool(executable: str, apt_package: str) -> str:
    """The path of ``executable``, installing Debian's ``apt_package`` first when it is missing.

    The install needs root and ``apt-get`` (as in CI); otherwise the calling test is skipped
    with the reason shown (``pytest -rs``). Used by the tests that render the report with
    poppler-utils and open it in Chromium.
    """
    import shutil

    found = shutil.which(executable)
    if found is None and _apt_install(apt_package):
        found = shutil.which(executable) or shutil.which(executable, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.skip(f"{executable} is missing and could not be installed (needs root and apt-get: "
                    f"apt-get install {apt_package})")
    return found


def require_pango() -> None:
    """Make WeasyPrint's system libraries (Pango) loadable, as :func:`require_system_tool` does."""
    import subprocess
    import sys

    def loads() -> bool:  # a fresh process: a failed import is not retried within one
        return subprocess.run([sys.executable, "-c", "import weasyprint"], capture_output=True).returncode == 0

    if not loads() and not (_apt_install("libpango-1.0-0 libpangoft2-1.0-0") and loads()):
        pytest.skip("WeasyPrint cannot load Pango and it could not be installed (needs root and apt-get: "
                    "apt-get install libpango-1.0-0 libpangoft2-1.0-0)")


def _apt_install(packages: str) -> bool:
    """Install Debian ``packages`` (space-separated) when running as root with apt-get; whether it ran.

    One install at a time: pytest-xdist workers (``make test``) wait on a lock file rather than
    fail on dpkg's own lock, which would skip their test.
    """
    import fcntl
    import shutil
    import tempfile

    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    with open(Path(tempfile.gettempdir()) / "b12brain-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return _apt_get_install(packages)


def _apt_get_install(packages: str) -> bool:
    """``apt-get install``, after ``apt-get update`` when the first try fails; whether it worked."""
    import subprocess

    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages.split()]
    if subprocess.run(install, env=env, check=False, capture_output=True, timeout=900).returncode == 0:
        return True
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True, timeout=900)
    return subprocess.run(install, env=env, check=False, capture_output=True, timeout=900).returncode == 0


@pytest.fixture(name="require_system_tool")
def _require_system_tool_fixture() -> Callable[[str, str], str]:
    return require_system_tool


@pytest.fixture(name="pango", scope="session")
def _pango_fixture() -> None:
    """WeasyPrint can load Pango (installed with apt when root), else the test is skipped."""
    require_pango()


@pytest.fixture(name="session_builders", scope="session")
def _session_builders_fixture() -> SimpleNamespace:
    """The DICOM builders for session-scoped fixtures (a run shared by several tests)."""
    return SimpleNamespace(write_dicom_series=write_dicom_series, write_enhanced_series=write_enhanced_series)


@pytest.fixture(name="dicom_tool", scope="session")
def _dicom_tool_fixture() -> Callable[[str, str], str]:
    return require_system_tool
