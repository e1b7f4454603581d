"""The public API a researcher uses from a notebook: load, run, score, write.

Only documented entry points are used: ``b12brain.load_volume``, ``b12brain.phantom.make_phantom``,
``b12brain.pipeline.run_pipeline``, ``b12brain.evaluate.score_masks`` / ``evaluate_pair`` and
``b12brain.outputs.write_outputs``; results must be the documented frozen dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import b12brain
from b12brain.evaluate import SegmentationScores, evaluate_pair, score_masks
from b12brain.outputs import summarise, write_outputs
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, PipelineResult, run_pipeline
from b12brain.quantify import Burden, FazekasEstimate, Lesion

pytestmark = pytest.mark.slow

SEED = 11


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What a notebook session does: make a subject, save it, load it back, run, write."""
    folder = tmp_path_factory.mktemp("notebook")
    phantom = make_phantom(PhantomConfig(seed=SEED, lesion_load="mild", slice_mm=6.0))
    flair_path = b12brain.save_nifti(phantom.flair.data, phantom.flair.affine, folder / "flair.nii.gz")
    truth_path = b12brain.save_nifti(phantom.lesion.data, phantom.lesion.affine, folder / "truth.nii.gz", dtype=np.uint8)
    flair = b12brain.load_volume(flair_path)
    lines: list[str] = []
    result = run_pipeline(flair, config=PipelineConfig(min_lesion_ml=0.05), progress=lines.append)
    written = write_outputs(result, folder / "out")
    return {"phantom": phantom, "flair": flair, "flair_path": flair_path, "truth_path": truth_path,
            "result": result, "written": written, "lines": lines}


def test_top_level_exports() -> None:
    for name in ("load_volume", "save_nifti", "Volume", "B12BrainError", "InputFileError", "__version__"):
        assert name in b12brain.__all__ and hasattr(b12brain, name), name
    assert isinstance(b12brain.__version__, str) and b12brain.__version__


def test_load_volume_returns_a_volume(notebook: dict) -> None:
    flair, phantom = notebook["flair"], notebook["phantom"]
    assert isinstance(flair, b12brain.Volume)
    assert flair.shape == phantom.flair.shape
    assert flair.spacing_mm == pytest.approx(phantom.flair.spacing_mm, abs=1e-5)
    np.testing.assert_allclose(flair.affine, phantom.flair.affine, atol=1e-5)
    np.testing.assert_allclose(flair.data, phantom.flair.data, rtol=1e-6)
    assert flair.source == str(notebook["flair_path"])
    assert flair.voxel_volume_ml == pytest.approx(np.prod(flair.spacing_mm) / 1000.0)


def test_phantom_is_documented_dataclass(notebook: dict) -> None:
    phantom = notebook["phantom"]
    assert isinstance(phantom, Phantom) and dataclasses.is_dataclass(phantom)
    with pytest.raises(dataclasses.FrozenInstanceError):
        phantom.flair = phantom.t1  # type: ignore[misc]
    json.dumps(phantom.truth)  # JSON-able
    assert phantom.truth["lesion_ml"] > 0 and phantom.truth["seed"] == SEED


def test_run_pipeline_result_types(notebook: dict) -> None:
    result, flair = notebook["result"], notebook["flair"]
    assert isinstance(result, PipelineResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.lesions = []  # type: ignore[misc]
    assert result.flair is flair and result.t1 is None
    assert result.config == PipelineConfig(min_lesion_ml=0.05)
    assert result.lesion_mask.dtype == bool and result.lesion_mask.shape == flair.shape
    assert result.lesion_probability.dtype == np.float32
    assert 0.0 <= result.lesion_probability.min() and result.lesion_probability.max() <= 1.0
    assert np.array_equal(result.lesion_mask, result.lesion_labels > 0)
    assert all(isinstance(x, Lesion) for x in result.lesions)
    assert all(x.volume_ml >= 0.05 - 1e-9 for x in result.lesions)  # min_lesion_ml respected
    assert isinstance(result.burden, Burden) and isinstance(result.burden.fazekas, FazekasEstimate)
    assert result.burden.lesion_count == len(result.lesions) > 0
    assert result.class_map().dtype == np.uint8 and set(np.unique(result.class_map())) <= {0, 1, 2, 3, 4}
    assert set(result.seconds_by_stage) >= {"load", "quantification"}
    assert all(v >= 0 for v in result.seconds_by_stage.values())
    assert any("done in" in line for line in notebook["lines"])


def test_run_pipeline_from_a_path_equals_from_a_volume(notebook: dict) -> None:
    from_path = run_pipeline(notebook["flair_path"], config=PipelineConfig(min_lesion_ml=0.05))
    assert from_path.flair.source == str(notebook["flair_path"])
    np.testing.assert_array_equal(from_path.lesion_mask, notebook["result"].lesion_mask)
    assert from_path.burden.lesion_ml == notebook["result"].burden.lesion_ml


def test_score_masks_and_evaluate_pair_agree(notebook: dict) -> None:
    phantom, result, written = notebook["phantom"], notebook["result"], notebook["written"]
    scores = score_masks(phantom.lesion.data > 0, result.lesion_mask, phantom.flair.affine)
    assert isinstance(scores, SegmentationScores)
    from_files = evaluate_pair(notebook["truth_path"], written["lesion_mask.nii.gz"])
    assert from_files.dice == pytest.approx(scores.dice, abs=1e-9)
    assert from_files.pred_ml == pytest.approx(result.burden.lesion_ml, rel=1e-3)
    assert from_files.truth_ml == pytest.approx(phantom.truth["lesion_ml"], rel=1e-3)
    # Accuracy is judged in tests/test_pipeline_phantoms.py; here only that the lesions were found.
    assert scores.dice >= 0.5 and scores.lesion_recall > 0, scores


def test_config_is_validated() -> None:
    with pytest.raises(b12brain.B12BrainError, match="threshold"):
        PipelineConfig(threshold=1.5)
    with pytest.raises(b12brain.B12BrainError, match="min_lesion_ml"):
        PipelineConfig(min_lesion_ml=-1.0)


def test_write_outputs_returns_paths_and_summary_matches(notebook: dict) -> None:
    written, result = notebook["written"], notebook["result"]
    assert set(written) == {"lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz",
                            "caps_lining_mask.nii.gz", "lesions.csv", "summary.json", "qc_axial.png", "report.html", "report.pdf",
                            "b12brain-manifest.json"}
    assert all(isinstance(p, Path) and p.is_file() for p in written.values())
    on_disk = json.loads(written["summary.json"].read_text())
    in_memory = summarise(result)
    for key in ("schema_version", "software", "lesions", "caps_lining", "fazekas_estimate", "settings", "disclaimer"):
        assert on_disk[key] == json.loads(json.dumps(in_memory[key])), key
    labels = nib.load(written["lesion_labels.nii.gz"])
    np.testing.assert_array_equal(np.asarray(labels.dataobj), result.lesion_labels)


def test_errors_from_the_api_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.nii.gz"
    with pytest.raises(b12brain.InputFileError) as info:
        run_pipeline(missing)
    assert str(missing) in str(info.value)


def test_top_level_names_are_the_modules_functions() -> None:
    import b12brain
    from b12brain import evaluate, outputs, phantom, pipeline

    assert b12brain.run_pipeline is pipeline.run_pipeline
    assert b12brain.write_outputs is outputs.write_outputs
    assert b12brain.make_phantom is phantom.make_phantom
    assert b12brain.score_masks is evaluate.score_masks
    assert set(b12brain.__all__) >= {"run_pipeline", "make_phantom", "score_masks", "load_volume"}
    with pytest.raises(AttributeError):
        b12brain.no_such_name  # noqa: B018
