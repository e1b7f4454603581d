"""The pipeline answers on the input's own grid, whatever its orientation.

One 6 mm phantom is stored three ways: as generated (RAS), as LPS (array axes 0 and 1 flipped,
affine changed so that every voxel keeps its world position) and oblique (the affine rotated
by 17 degrees about a tilted axis, voxel array unchanged). Each file is run through
``run_pipeline(path)`` and written with ``write_outputs``: the masks must lie on that file's
grid (shape, sform and qform), and the three answers must agree on a common grid.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from b12brain.io import load_volume
from b12brain.outputs import write_outputs
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, PipelineResult, run_pipeline
from b12brain.quantify import measure_lesions, summarise_burden
from b12brain.types import Volume

pytestmark = pytest.mark.slow

SEED = 11
MIN_AGREEMENT_DICE = 0.95


def _flip_xy(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Affine of ``data[::-1, ::-1, :]`` that keeps each voxel's world position."""
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[0, 3], flip[1, 3] = shape[0] - 1, shape[1] - 1
    return affine @ flip


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    angle = np.deg2rad(degrees)
    rot = np.eye(4)
    rot[:3, :3] = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    return rot


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _write(folder: Path, data: np.ndarray, affine: np.ndarray, name: str) -> Path:
    img = nib.Nifti1Image(np.asarray(data, np.float32), affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    path = folder / name
    nib.save(img, str(path))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, PipelineResult, dict[str, Path]]]:
    folder = tmp_path_factory.mktemp("orientation")
    phantom = make_phantom(PhantomConfig(seed=SEED, lesion_load="moderate", slice_mm=6.0))
    data, affine = phantom.flair.data, phantom.flair.affine
    assert "".join(nib.aff2axcodes(affine)) == "RAS"
    oblique = _rotation(np.array([0.3, 1.0, 0.6]), 17.0) @ affine
    inputs = {
        "ras": _write(folder, data, affine, "ras.nii.gz"),
        "lps": _write(folder, data[::-1, ::-1, :], _flip_xy(affine, data.shape), "lps.nii.gz"),
        "oblique": _write(folder, data, oblique, "oblique.nii.gz"),
    }
    assert "".join(nib.aff2axcodes(nib.load(inputs["lps"]).affine)) == "LPS"
    out = {}
    for name, path in inputs.items():
        result = run_pipeline(path)
        out[name] = (path, result, write_outputs(result, folder / f"out_{name}"))
    return out


@pytest.mark.parametrize("name", ["ras", "lps", "oblique"])
def test_outputs_on_the_inputs_own_grid(runs: dict, name: str) -> None:
    path, result, written = runs[name]
    source = nib.load(path)
    assert result.flair.shape == source.shape
    np.testing.assert_array_equal(result.flair.affine, source.affine)
    for array in (result.lesion_mask, result.lesion_probability, result.lesion_labels, result.ventricles, result.brain):
        assert array.shape == source.shape
    for key in ("lesion_mask.nii.gz", "lesion_prob.nii.gz", "lesion_labels.nii.gz"):
        image = nib.load(written[key])
        assert image.shape == source.shape, key
        np.testing.assert_allclose(image.get_sform(), source.get_sform(), atol=1e-5, err_msg=key)
        np.testing.assert_allclose(image.get_qform(), source.get_qform(), atol=1e-4, err_msg=key)
        assert "".join(nib.aff2axcodes(image.affine)) == "".join(nib.aff2axcodes(source.affine))
    written_mask = np.asarray(nib.load(written["lesion_mask.nii.gz"]).dataobj) > 0
    np.testing.assert_array_equal(written_mask, result.lesion_mask)


def test_lps_agrees_with_ras(runs: dict) -> None:
    ras, lps = runs["ras"][1], runs["lps"][1]
    back = lambda a: a[::-1, ::-1, :]  # noqa: E731 - LPS array back onto the RAS array
    lesion_dice = _dice(ras.lesion_mask, back(lps.lesion_mask))
    ventricle_dice = _dice(ras.ventricles, back(lps.ventricles))
    print(f"\nLPS vs RAS: lesion Dice {lesion_dice:.4f}, ventricle Dice {ventricle_dice:.4f}, "
          f"{lps.burden.lesion_ml:.2f} vs {ras.burden.lesion_ml:.2f} mL")
    assert lesion_dice >= MIN_AGREEMENT_DICE
    assert ventricle_dice >= MIN_AGREEMENT_DICE
    assert lps.burden.lesion_ml == pytest.approx(ras.burden.lesion_ml, rel=0.05)


def test_oblique_agrees_with_ras(runs: dict) -> None:
    ras, oblique = runs["ras"][1], runs["oblique"][1]
    lesion_dice = _dice(ras.lesion_mask, oblique.lesion_mask)
    ventricle_dice = _dice(ras.ventricles, oblique.ventricles)
    print(f"\noblique vs RAS: lesion Dice {lesion_dice:.4f}, ventricle Dice {ventricle_dice:.4f}, "
          f"{oblique.burden.lesion_ml:.2f} vs {ras.burden.lesion_ml:.2f} mL")
    assert lesion_dice >= MIN_AGREEMENT_DICE
    assert ventricle_dice >= MIN_AGREEMENT_DICE
    assert oblique.burden.lesion_ml == pytest.approx(ras.burden.lesion_ml, rel=0.05)


def test_lesion_classes_agree_across_orientations(runs: dict) -> None:
    ras, lps, oblique = (runs[k][1] for k in ("ras", "lps", "oblique"))
    for other, back in ((lps, lambda a: a[::-1, ::-1, :]), (oblique, lambda a: a)):
        both = ras.lesion_mask & back(other.lesion_mask)
        same = both & (ras.class_map() == back(other.class_map()))
        assert same.sum() >= 0.95 * both.sum()


@pytest.mark.parametrize("forms", ["sform+qform", "qform only"])
def test_written_mask_keeps_the_inputs_exact_affine(tmp_path: Path, forms: str) -> None:
    """1 x 1 x 1 mm oblique grid: lesion_mask.nii.gz carries the input's sform, qform and shape."""
    shape = (48, 52, 44)
    affine = _rotation(np.array([1.0, -0.4, 0.7]), 19.0) @ np.array(
        [[1.0, 0, 0, -10.3], [0, 1.0, 0, -12.7], [0, 0, 1.0, -8.1], [0, 0, 0, 1]]
    )
    rng = np.random.default_rng(SEED)
    data = rng.uniform(100, 200, shape).astype(np.float32)
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1 if forms == "sform+qform" else 0)
    path = tmp_path / "flair.nii.gz"
    nib.save(image, str(path))
    source = nib.load(path)

    result = _fabricated_result(load_volume(path))
    written = write_outputs(result, tmp_path / "out")
    mask = nib.load(written["lesion_mask.nii.gz"])
    assert mask.shape == source.shape
    np.testing.assert_allclose(mask.get_qform(), source.get_qform(), atol=1e-6)
    if forms == "sform+qform":
        # The float32 sform is carried over bit for bit.
        np.testing.assert_array_equal(mask.get_sform(), source.get_sform())
        np.testing.assert_array_equal(mask.affine, source.affine)
    else:
        # Only a qform in the input: the output has only that qform too (its header is kept).
        np.testing.assert_allclose(mask.affine, source.affine, atol=1e-6)
    assert int(mask.header["qform_code"]) == 1
    assert int(mask.header["sform_code"]) == int(source.header["sform_code"])
    np.testing.assert_array_equal(np.asarray(mask.dataobj) > 0, result.lesion_mask)


def _fabricated_result(flair: Volume) -> PipelineResult:
    """A small PipelineResult on ``flair``'s grid (two cubic lesions), without running the pipeline."""
    shape = flair.shape
    mask = np.zeros(shape, bool)
    mask[10:14, 12:16, 15:19] = True
    mask[30:33, 34:37, 25:28] = True
    ventricles = np.zeros(shape, bool)
    ventricles[20:26, 20:26, 18:24] = True
    empty = np.zeros(shape, bool)
    lesions, labels = measure_lesions(mask, flair.affine, ventricles=ventricles, cortex=empty, infratentorial=empty)
    voxel_ml = flair.voxel_volume_ml
    burden = summarise_burden(lesions, brain_ml=mask.size * voxel_ml, intracranial_ml=mask.size * voxel_ml,
                              ventricle_ml=ventricles.sum() * voxel_ml)
    return PipelineResult(
        flair=flair, t1=None, config=PipelineConfig(), segmenter="classical", threshold=0.5, min_lesion_ml=0.03,
        lesion_probability=mask.astype(np.float32), lesion_mask=mask, lesion_labels=labels,
        ventricles=ventricles, brain=np.ones(shape, bool), lesions=lesions, burden=burden,
        caps_lining=[], caps_lining_mask=np.zeros(shape, bool),
    )
