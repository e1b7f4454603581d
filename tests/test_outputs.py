"""Tests of the output writer: checksums, summary.json (no NaN), all-or-nothing output folders."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import scipy
import SimpleITK

from b12brain.errors import OutputError
from b12brain.io import load_volume
from b12brain.outputs import LESION_COLUMNS, RESULT_LIBRARIES, file_sha256, summarise, write_outputs
from b12brain.pipeline import PipelineConfig, PipelineResult
from b12brain.quantify import measure_lesions, set_apart_caps_and_lining, summarise_burden
from b12brain.types import Volume

SHAPE = (16, 16, 8)


def _result(flair: Volume, *, brain_ml: float = 0.0) -> PipelineResult:
    """A hand-made result: two lesions (one touching the ventricles) and a lining of the
    ventricles (3 mm thick, 12 mm long); no brain volume -> NaN %."""
    mask = np.zeros(SHAPE, bool)
    mask[3:6, 3:6, 2:4] = True
    mask[12, 12, 5] = True
    ventricles = np.zeros(SHAPE, bool)
    ventricles[7:9, 7:9, 3:5] = True
    mask[6, 6, 3] = True  # joins the first lesion and touches the ventricles
    mask[9, 6:10, 3] = True  # lines the ventricles
    empty = np.zeros(SHAPE, bool)
    places = {"ventricles": ventricles, "cortex": empty, "infratentorial": empty}
    lesion_mask, caps_mask, caps = set_apart_caps_and_lining(mask, flair.affine, **places)
    lesions, labels = measure_lesions(lesion_mask, flair.affine, **places)
    burden = summarise_burden(lesions, brain_ml=brain_ml, intracranial_ml=0.0, ventricle_ml=0.032, caps_lining=caps)
    return PipelineResult(
        flair=flair,
        t1=None,
        config=PipelineConfig(),
        segmenter="classical",
        threshold=0.5,
        min_lesion_ml=0.03,
        lesion_probability=np.where(mask, 0.9, 0.01).astype(np.float32),
        lesion_mask=labels > 0,
        lesion_labels=labels,
        ventricles=ventricles,
        brain=np.ones(SHAPE, bool),
        lesions=lesions,
        caps_lining=caps,
        caps_lining_mask=caps_mask,
        burden=burden,
        seconds_by_stage={"load": 0.1},
    )


@pytest.fixture
def flair_file(tmp_path: Path, write_nifti: Callable[..., Path], affine_mm: Callable[..., np.ndarray]) -> Path:
    data = np.random.default_rng(0).uniform(50, 150, SHAPE).astype(np.float32)
    # 48 mm per axis: enough to pass the input checks.
    return write_nifti(tmp_path, data, affine_mm(SHAPE, (3.0, 3.0, 6.0)), "flair.nii.gz")


# --- file_sha256 ---------------------------------------------------------------------------


def test_file_sha256_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    content = bytes(range(256)) * 5000  # > 1 MiB: read in several blocks
    path.write_bytes(content)
    assert file_sha256(path) == hashlib.sha256(content).hexdigest()
    assert file_sha256(str(path)) == file_sha256(path)


def _make_series(folder: Path, order: list[str]) -> Path:
    files = {"IM0001.dcm": b"slice one", "IM0002.dcm": b"slice two", "sub/IM0003.dcm": b"slice three"}
    for name in order:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(files[name])
    return folder


def test_file_sha256_of_a_folder_ignores_creation_order(tmp_path: Path) -> None:
    a = _make_series(tmp_path / "a", ["IM0001.dcm", "IM0002.dcm", "sub/IM0003.dcm"])
    b = _make_series(tmp_path / "b", ["sub/IM0003.dcm", "IM0002.dcm", "IM0001.dcm"])
    assert file_sha256(a) == file_sha256(b)
    assert len(file_sha256(a)) == 64


def test_file_sha256_of_a_folder_changes_with_one_byte(tmp_path: Path) -> None:
    folder = _make_series(tmp_path / "s", ["IM0001.dcm", "IM0002.dcm", "sub/IM0003.dcm"])
    before = file_sha256(folder)
    (folder / "sub/IM0003.dcm").write_bytes(b"slice thrEe")
    assert file_sha256(folder) != before
    (folder / "sub/IM0003.dcm").write_bytes(b"slice three")
    assert file_sha256(folder) == before
    (folder / "IM0002.dcm").rename(folder / "IM0009.dcm")  # same bytes, other name
    assert file_sha256(folder) != before


def test_file_sha256_of_different_folders_differs(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "a").write_bytes(b"xby")  # stream: "a" + "xby"
    two = tmp_path / "two"
    two.mkdir()
    (two / "a").write_bytes(b"x")  # stream: "a" + "x" + "b" + "y"
    (two / "b").write_bytes(b"y")
    assert file_sha256(one) != file_sha256(two)


# --- summary.json --------------------------------------------------------------------------


def _no_nan(text: str) -> object:
    def refuse(constant: str) -> None:
        raise AssertionError(f"summary.json holds {constant}")

    return json.loads(text, parse_constant=refuse)


def test_summary_json_has_no_nan(tmp_path: Path, flair_file: Path) -> None:
    result = _result(load_volume(flair_file), brain_ml=0.0)
    assert np.isnan(result.burden.lesion_percent_of_brain)

    paths = write_outputs(result, tmp_path / "out")

    summary = _no_nan(paths["summary.json"].read_text())
    assert isinstance(summary, dict)
    assert summary["lesions"]["lesion_percent_of_brain"] is None
    assert summary["lesions"]["lesion_count"] == 2
    assert summary["lesions"]["count_by_class"]["periventricular"] == 1
    assert summary["lesions"]["count_by_class"]["deep"] == 1
    assert summary["caps_lining"]["count"] == 1 and summary["caps_lining"]["ml"] == pytest.approx(4 * 0.054)
    assert "Fazekas periventricular grade 1" in summary["caps_lining"]["rule"]
    assert summary["fazekas_estimate"]["periventricular"] >= 1
    assert "not read by a radiologist" in summary["fazekas_estimate"]["rule"]
    assert "not a diagnosis" in summary["disclaimer"]
    (flair_input,) = summary["inputs"]
    assert flair_input["role"] == "flair" and flair_input["sha256"] == file_sha256(flair_file)
    assert flair_input["voxel_mm"] == [3.0, 3.0, 6.0] and flair_input["shape"] == list(SHAPE)
    assert summary["outputs_grid"]["shape"] == list(SHAPE)


def test_summarise_is_the_written_summary(tmp_path: Path, flair_file: Path) -> None:
    result = _result(load_volume(flair_file), brain_ml=1200.0)
    summary = summarise(result)
    assert summary["settings"] == {"segmenter": "classical", "threshold": 0.5, "min_lesion_ml": 0.03, "refine_edges": True}
    assert summary["lesions"]["lesion_percent_of_brain"] == pytest.approx(100 * result.burden.lesion_ml / 1200.0, abs=1e-4)
    written = _no_nan((write_outputs(result, tmp_path / "out")["summary.json"]).read_text())
    assert isinstance(written, dict)
    summary.pop("created_utc"), written.pop("created_utc")
    assert written == json.loads(json.dumps(summary))


def test_summary_records_the_versions_of_the_libraries_that_shape_the_results(flair_file: Path) -> None:
    software = summarise(_result(load_volume(flair_file)))["software"]
    libraries = software["libraries"]
    assert set(libraries) == set(RESULT_LIBRARIES) >= {"numpy", "scipy", "SimpleITK", "nibabel", "onnxruntime"}
    # The versions of the libraries actually loaded, not of some other installation.
    assert libraries["numpy"] == np.__version__ and libraries["scipy"] == scipy.__version__
    assert libraries["nibabel"] == nib.__version__ and libraries["SimpleITK"] == SimpleITK.Version.VersionString()
    assert all(isinstance(version, str) and version[0].isdigit() for version in libraries.values()), libraries


def test_written_images_and_table_match_the_result(tmp_path: Path, flair_file: Path) -> None:
    flair = load_volume(flair_file)
    result = _result(flair)
    paths = write_outputs(result, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(paths)
    mask = nib.load(paths["lesion_mask.nii.gz"])
    assert np.array_equal(np.asarray(mask.dataobj), result.lesion_mask.astype(np.uint8))
    np.testing.assert_allclose(mask.affine, flair.affine, atol=1e-5)
    labels = np.asarray(nib.load(paths["lesion_labels.nii.gz"]).dataobj)
    assert np.array_equal(labels, result.lesion_labels)
    with paths["lesions.csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == LESION_COLUMNS
    assert [int(r["id"]) for r in rows] == [1, 2]
    assert [int(r["voxels"]) for r in rows] == [int((labels == 1).sum()), int((labels == 2).sum())]
    assert rows[1]["lesion_class"] == "deep"
    caps = np.asarray(nib.load(paths["caps_lining_mask.nii.gz"]).dataobj)
    assert caps.sum() == 4 and caps[9, 6:10, 3].all() and not (caps.astype(bool) & result.lesion_mask).any()
    # No staging folder is left beside the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flair.nii.gz", "out"]


# --- output folder safety ------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
def test_write_outputs_refuses_a_foreign_folder(
    tmp_path: Path, flair_file: Path, sha256_of: Callable[[Path], str], overwrite: bool
) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("my own notes")
    (out / "lesion_mask.nii.gz").write_bytes(b"not ours either")
    before = sha256_of(out)
    result = _result(load_volume(flair_file))

    with pytest.raises(OutputError) as err:
        write_outputs(result, out, overwrite=overwrite)

    assert err.value.path == str(out)
    assert sha256_of(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["lesion_mask.nii.gz", "notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flair.nii.gz", "results"]  # no staging left


def test_write_outputs_overwrites_its_own_previous_result(tmp_path: Path, flair_file: Path) -> None:
    result = _result(load_volume(flair_file))
    out = tmp_path / "out"
    write_outputs(result, out)
    with pytest.raises(OutputError):
        write_outputs(result, out)
    paths = write_outputs(result, out, overwrite=True)
    assert paths["summary.json"].is_file()
