"""Random header fields and truncations written into a valid NIfTI.

* Library level (hypothesis, bounded and derandomised): loading never raises anything but a
  :class:`~b12brain.errors.B12BrainError`, and what loads is a finite float32 3D volume.
* CLI level (a seeded handful of the same kind of damage, on a small phantom with the classical
  segmenter): ``b12brain run`` never exits 1, and never exits 0 with a lesion volume more than
  :data:`LESION_ML_TOLERANCE` away from the clean input's unless summary.json records a QC warning.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from b12brain.cli.main import main
from b12brain.errors import B12BrainError
from b12brain.io import load_volume
from b12brain.phantom import PhantomConfig, make_phantom

#: A run on damaged input that is accepted without a warning must give the clean lesion volume
#: within this (mL): the damage then changed nothing that matters.
LESION_ML_TOLERANCE = 0.05

_F32 = st.one_of(st.floats(width=32), st.floats(-10.0, 10.0, width=32), st.sampled_from([0.0, -1.0, 1.0, 352.0, 1e30]))
_INT16 = st.integers(-(2**15), 2**15 - 1)
#: Header fields and the values hypothesis may write into them.
_FIELDS: dict[str, st.SearchStrategy[object]] = {
    "sizeof_hdr": st.sampled_from([0, 348, 540, 1 << 24, -348]),
    "magic": st.sampled_from([b"n+1", b"ni1", b"n+2", b"xyz", b""]),
    "dim": st.lists(st.one_of(st.integers(-2, 40), _INT16), min_size=8, max_size=8),
    "datatype": st.one_of(st.sampled_from([0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304]), _INT16),
    "bitpix": _INT16,
    "vox_offset": _F32,
    "scl_slope": _F32,
    "scl_inter": _F32,
    "pixdim": st.lists(_F32, min_size=8, max_size=8),
    "qform_code": st.one_of(st.integers(-1, 6), _INT16),
    "sform_code": st.one_of(st.integers(-1, 6), _INT16),
    "quatern_b": _F32,
    "quatern_c": _F32,
    "quatern_d": _F32,
    "qoffset_x": _F32,
    "qoffset_z": _F32,
    "srow_x": st.lists(_F32, min_size=4, max_size=4),
    "srow_z": st.lists(_F32, min_size=4, max_size=4),
    "xyzt_units": st.integers(0, 255),
}


def _clean_nifti_bytes() -> bytes:
    """A small valid image: 16×16×12 int16 at 4 mm (passes every input check)."""
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in (16, 16, 12)], indexing="ij")
    data = (800 * np.exp(-2 * sum(g**2 for g in grids)) + 50 * grids[0] + 100).astype(np.int16)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-30.0, -30.0, -22.0]
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    return img.to_bytes()


_CLEAN = _clean_nifti_bytes()


def _damaged(raw: bytes, fields: dict[str, object], truncate_at: int | None) -> bytes:
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw[:348]), check=False)
    for key, value in fields.items():
        header[key] = value
    out = header.binaryblock + raw[348:]
    return out if truncate_at is None else out[:truncate_at]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.dictionaries(st.sampled_from(sorted(_FIELDS)), st.just(None), max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({k: _FIELDS[k] for k in keys})
    ),
    truncate_at=st.one_of(st.none(), st.none(), st.integers(0, len(_CLEAN))),
    zipped=st.booleans(),
)
def test_damaged_headers_load_or_raise_a_b12brain_error(tmp_path_factory, fields, truncate_at, zipped):
    raw = _damaged(_CLEAN, fields, truncate_at)
    path = tmp_path_factory.getbasetemp() / ("fuzz.nii.gz" if zipped else "fuzz.nii")
    path.write_bytes(gzip.compress(raw, compresslevel=1) if zipped else raw)
    try:
        volume = load_volume(path)
    except B12BrainError as err:
        assert str(err).startswith(f"{path}: "), err
        event(type(err).__name__)  # --hypothesis-show-statistics shows the mix of outcomes
        return
    event("loaded")
    assert volume.data.dtype == np.float32 and volume.data.ndim == 3
    assert np.all(np.isfinite(volume.data)) and np.all(np.isfinite(volume.affine))


# ------------------------------------------------------------------------------ CLI sample

#: Damage the CLI sample draws from: plausible slips and outright corruption.
_CLI_POOL: list[tuple[str, object]] = [
    ("scl_slope", 2.0),
    ("scl_slope", 1e36),
    ("sform_code", 0),
    ("qform_code", 0),
    ("qoffset_x", 0.01),  # added to the stored value: qform within tolerance
    ("qoffset_x", 3.0),  # qform 3 mm away from the sform
    ("srow_x", 20.0),  # sform moved 20 mm (translation) away from the qform
    ("xyzt_units", 1),
    ("xyzt_units", 0),
    ("datatype", 9999),
    ("vox_offset", 0),
    ("pixdim", 0.0),
    ("truncate", 0.6),
]
_CLI_SEED = 37
_CLI_SAMPLE = [_CLI_POOL[i] for i in sorted(np.random.default_rng(_CLI_SEED).choice(len(_CLI_POOL), 5, replace=False))]


def _apply(path: Path, damage: tuple[str, object], out: Path) -> Path:
    field, value = damage
    raw = gzip.decompress(path.read_bytes())
    header = nib.Nifti1Header.from_fileobj(io.BytesIO(raw[:348]), check=False)
    if field == "truncate":
        raw = raw[: int(len(raw) * float(value))]  # type: ignore[arg-type]
    elif field == "qoffset_x":
        header["qoffset_x"] = float(header["qoffset_x"]) + float(value)  # type: ignore[arg-type]
    elif field == "srow_x":
        header["srow_x"][3] += float(value)  # type: ignore[arg-type]
    elif field == "pixdim":
        header["pixdim"][3] = value
    else:
        header[field] = value
    out.write_bytes(gzip.compress(header.binaryblock + raw[348:]))
    return out


def _run(flair: Path, out: Path) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = main(["run", "--flair", str(flair), "--out", str(out), "--segmenter", "classical", "--quiet"])
    return code, stderr.getvalue()


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The clean phantom FLAIR (qform 0.02 mm from the sform: within tolerance) and its run."""
    folder = tmp_path_factory.mktemp("clean")
    flair = make_phantom(PhantomConfig(seed=3, lesion_load="moderate", slice_mm=6.0)).flair
    img = nib.Nifti1Image(np.round(flair.data).astype(np.int16), flair.affine)
    img.set_sform(flair.affine, code=1)
    qform = flair.affine.copy()
    qform[0, 3] += 0.02
    img.set_qform(qform, code=1)
    img.header.set_xyzt_units("mm", "sec")
    path = folder / "flair.nii.gz"
    nib.save(img, path)
    code, stderr = _run(path, folder / "out")
    assert code == 0, stderr
    summary = json.loads((folder / "out" / "summary.json").read_text())
    return SimpleNamespace(path=path, out=folder / "out", summary=summary)


def test_clean_run_keeps_the_input_sform_and_qform_exactly(clean_run):
    source = nib.load(clean_run.path).header
    assert clean_run.summary["warnings"] == []
    assert clean_run.summary["lesions"]["lesion_ml"] > 1.0  # a sample with something to lose
    for name in ("lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz", "caps_lining_mask.nii.gz"):
        header = nib.load(clean_run.out / name).header
        for key in ("srow_x", "srow_y", "srow_z", "sform_code", "qform_code", "quatern_b", "quatern_c",
                    "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z"):
            assert np.array_equal(header[key], source[key]), (name, key)
        assert np.array_equal(header["pixdim"][:4], source["pixdim"][:4]), name


@pytest.mark.parametrize("damage", _CLI_SAMPLE, ids=[f"{f}={v}" for f, v in _CLI_SAMPLE])
def test_damaged_input_is_refused_warned_or_unchanged(clean_run, tmp_path, damage):
    flair = _apply(clean_run.path, damage, tmp_path / "flair.nii.gz")
    code, stderr = _run(flair, tmp_path / "out")
    assert code in (0, 2), stderr
    if code == 2:
        assert stderr.count("\n") == 1 and str(flair) in stderr and "Traceback" not in stderr, stderr
        assert not (tmp_path / "out").exists()
        return
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    change = abs(summary["lesions"]["lesion_ml"] - clean_run.summary["lesions"]["lesion_ml"])
    assert change <= LESION_ML_TOLERANCE or summary["warnings"], (damage, change, summary["warnings"])
    for warning in summary["warnings"]:
        assert f"QC warning: {warning['source']}: {warning['message']}" in stderr or warning["message"] in stderr
