"""Tests of the learned (ONNX) segmenter with hand-built ONNX models; no torch anywhere.

The "threshold model" is a 1×1 convolution that reads the centre slice of each stack:
``logit = GAIN × (normalised FLAIR − CUT)``, so its probability is above 0.5 exactly where
the FLAIR is brighter than CUT × the brain's median, a known answer for every voxel.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from scipy import ndimage as ndi

from b12brain.anatomy.localise import Anatomy, TissueLevels
from b12brain.errors import ConfigError, ModelError
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, run_pipeline
from b12brain.segment import SEGMENTERS, get_segmenter
from b12brain.segment.learned import (
    LearnedSegmenter,
    checksum_path,
    read_threshold,
    write_checksum,
)
from b12brain.types import Volume

CUT, GAIN = 1.3, 12.0
WM, CSF, BLOB, OUTSIDE = 100.0, 30.0, 200.0, 300.0


def save_model(
    path: Path, *, channels: int = 3, rank: int = 4, outputs: int = 1, batch: int | str = "batch", checksum: bool = True
) -> Path:
    """Write the threshold model (or a malformed variant) and its ``.sha256``; return its path."""
    shape: list[int | str] = [batch, channels, "height", "width"][:rank]
    nodes, initialisers = [], []
    if rank == 4:
        weight = np.zeros((1, channels, 1, 1), np.float32)
        weight[0, channels // 2] = GAIN
        initialisers = [
            helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.ravel()),
            helper.make_tensor("b", TensorProto.FLOAT, [1], [-GAIN * CUT]),
        ]
        nodes.append(helper.make_node("Conv", ["stacks", "w", "b"], ["logits"]))
        out_shape: list[int | str] = [batch, 1, "height", "width"]
    else:
        nodes.append(helper.make_node("Identity", ["stacks"], ["logits"]))
        out_shape = shape
    names = ["logits"]
    for k in range(1, outputs):
        nodes.append(helper.make_node("Identity", ["logits"], [f"extra{k}"]))
        names.append(f"extra{k}")
    graph = helper.make_graph(
        nodes,
        "threshold",
        [helper.make_tensor_value_info("stacks", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, out_shape) for n in names],
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    if checksum:
        write_checksum(path)
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("model") / "threshold.onnx")


def scene(shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]) -> tuple[Volume, Anatomy, np.ndarray]:
    """A box brain of white matter with a CSF box, a bright white-matter blob and a bright
    region outside the brain; returns the FLAIR, its anatomy and the blob mask."""
    x, y, z = shape
    brain = np.zeros(shape, bool)
    brain[4 : x - 4, 4 : y - 4, 1 : z - 1] = True
    ventricles = np.zeros(shape, bool)
    ventricles[x // 2 - 5 : x // 2 + 5, y // 2 - 5 : y // 2 + 5, z // 3 : 2 * z // 3] = True
    blob = np.zeros(shape, bool)
    thick = max(1, round(9.0 / spacing_mm[2]))  # ~9 mm: at least one whole slice
    blob[10:20, 10:20, z // 2 : z // 2 + thick] = True
    rng = np.random.default_rng(0)
    image = np.where(brain, WM, 0.0) + rng.normal(0.0, 3.0, shape) * brain
    image[ventricles] = CSF
    image[blob] = BLOB
    image[0:3, :, :] = OUTSIDE  # bright scalp/fat: nothing outside the brain is lesion
    affine = np.diag([*spacing_mm, 1.0])
    anatomy = Anatomy(
        brain=brain,
        parenchyma=brain & ~ventricles,
        wm=(brain & ~ventricles).astype(np.float32),
        gm=np.zeros(shape, np.float32),
        ventricles=ventricles,
        cortex=np.zeros(shape, bool),
        infratentorial=np.zeros(shape, bool),
        levels=TissueLevels(wm=WM, wm_sd=3.0, gm=WM, csf=CSF),
        alignment=None,  # type: ignore[arg-type]  # not used by the segmenter
    )
    return Volume(image.astype(np.float32), affine, "synthetic"), anatomy, blob


@pytest.mark.parametrize(
    ("shape", "spacing_mm"),
    [((48, 52, 40), (1.0, 1.0, 1.0)), ((60, 64, 12), (0.9, 0.9, 6.0))],
    ids=["1mm", "thick-6mm"],
)
def test_threshold_model_finds_the_bright_blob(model_path: Path, shape, spacing_mm) -> None:  # type: ignore[no-untyped-def]
    flair, anatomy, blob = scene(shape, spacing_mm)
    segmenter = LearnedSegmenter.from_file(model_path)
    p = segmenter.predict(flair, anatomy, None)
    assert p.dtype == np.float32 and p.shape == flair.shape
    assert p.min() >= 0.0 and p.max() <= 1.0
    # The blob's interior (in-plane resampling blurs only its rim) is lesion ...
    core = ndi.binary_erosion(blob, np.ones((3, 3, 1), bool))
    assert p[core].min() > 0.9
    assert p[blob].mean() > 0.8
    # ... nothing away from it is, and nothing outside the brain at all (the scalp is bright).
    away = ~ndi.binary_dilation(blob, np.ones((5, 5, 1), bool))
    assert p[away].max() < 0.5
    assert not p[~anatomy.brain].any()
    assert segmenter.name == "learned" and segmenter.threshold == 0.5


def test_batch_size_does_not_change_the_answer(model_path: Path, tmp_path: Path) -> None:
    flair, anatomy, _ = scene((48, 52, 10), (1.0, 1.0, 1.0))
    reference = LearnedSegmenter.from_file(model_path).predict(flair, anatomy, None)
    for batch in (1, 3, 64):
        p = LearnedSegmenter(model_path=model_path, batch_slices=batch).predict(flair, anatomy, None)
        np.testing.assert_array_equal(p, reference)
    # A model exported with a fixed batch of 4 (10 slices: the last batch is padded).
    fixed = save_model(tmp_path / "fixed.onnx", batch=4)
    np.testing.assert_array_equal(LearnedSegmenter.from_file(fixed).predict(flair, anatomy, None), reference)


def test_rerunning_some_slices_matches_a_whole_run(model_path: Path) -> None:
    # The self-check's path: a scan changed on slices 3-4 is re-predicted on them and their
    # neighbours only, the rest taken from the first prediction.
    flair, anatomy, _ = scene((60, 64, 12), (0.9, 0.9, 6.0))
    segmenter = LearnedSegmenter.from_file(model_path)
    before = segmenter.predict(flair, anatomy, None)
    changed = flair.data.copy()
    changed[30:36, 40:46, 3:5] *= 1.6
    again = flair.with_data(changed)
    whole = segmenter.predict(again, anatomy, None)
    part = segmenter.predict(again, anatomy, None, slices=[2, 3, 4, 5], base=before)
    assert whole[31:35, 41:45, 3:5].min() > 0.5 and before[30:36, 40:46, 3:5].max() < 0.5
    np.testing.assert_allclose(part, whole, atol=0.02)
    untouched = [0, 1, 6, 7, 8, 9, 10, 11]
    np.testing.assert_array_equal(part[:, :, untouched], before[:, :, untouched])


def test_session_is_loaded_once_per_file(model_path: Path) -> None:
    a = LearnedSegmenter(model_path=model_path).load()
    b = LearnedSegmenter.from_file(model_path).load()
    assert a is b


def test_threshold_sidecar(tmp_path: Path) -> None:
    path = save_model(tmp_path / "m.onnx")
    assert read_threshold(path) == 0.5
    # The export's metadata file (b12brain.train.export): other keys, no threshold yet.
    (tmp_path / "m.json").write_text(json.dumps({"onnx": "m.onnx", "opset": 17}))
    assert read_threshold(path) == 0.5
    (tmp_path / "m.json").write_text(json.dumps({"onnx": "m.onnx", "threshold": 0.35}))
    assert LearnedSegmenter.from_file(path).threshold == 0.35
    for bad in ('{"threshold": 1.5}', '{"threshold": "0.4"}', "not json", "[0.4]", '{"threshold": true}'):
        (tmp_path / "m.json").write_text(bad)
        with pytest.raises(ModelError, match=r"m\.json: "):
            read_threshold(path)


def test_checksum_mismatch_names_the_file(tmp_path: Path) -> None:
    path = save_model(tmp_path / "tampered.onnx")
    checksum_path(path).write_text("0" * 64 + "  tampered.onnx\n")
    with pytest.raises(ModelError, match=r"tampered\.onnx: SHA-256 [0-9a-f]{64} does not match 0{64}"):
        LearnedSegmenter.from_file(path)


def test_missing_model_or_checksum(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nowhere\.onnx: model file not found"):
        LearnedSegmenter.from_file(tmp_path / "nowhere.onnx")
    path = save_model(tmp_path / "unsigned.onnx", checksum=False)
    with pytest.raises(ModelError, match=r"unsigned\.onnx\.sha256: checksum file missing"):
        LearnedSegmenter.from_file(path)


def test_not_an_onnx_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a protobuf")
    write_checksum(path)
    with pytest.raises(ModelError, match=r"garbage\.onnx: onnxruntime cannot load it"):
        LearnedSegmenter.from_file(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"channels": 1}, r"shape \['batch', 1, 'height', 'width'\], expected \[batch, 3"),
     ({"rank": 3}, r"shape \['batch', 3, 'height'\], expected"),
     ({"outputs": 2}, r"1 inputs and 2 outputs")],
    ids=["one-channel", "rank-3", "two-outputs"],
)
def test_wrong_model_signature(tmp_path: Path, options: dict[str, int], message: str) -> None:
    path = save_model(tmp_path / "wrong.onnx", **options)
    with pytest.raises(ModelError, match=message):
        LearnedSegmenter.from_file(path)


def test_registry(model_path: Path) -> None:
    assert "learned" in SEGMENTERS
    assert get_segmenter("classical").name == "classical"
    assert isinstance(get_segmenter("learned", model=model_path), LearnedSegmenter)
    with pytest.raises(ConfigError, match="takes no model file"):
        get_segmenter("classical", model=model_path)


def test_missing_packaged_weights_point_to_the_alternatives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from b12brain.segment import learned

    monkeypatch.setattr(learned, "PACKAGED_MODEL", tmp_path / "wmh_unet.onnx")
    with pytest.raises(ModelError, match="no trained weights shipped at .*use --segmenter classical or --model PATH"):
        get_segmenter("learned")


def test_bright_regions_away_from_white_matter_are_not_lesions(model_path: Path) -> None:
    flair, anatomy, blob = scene((48, 52, 40), (1.0, 1.0, 1.0))
    # The atlas says the blob's corner of the brain is not white matter (an orbit, a sulcus):
    wm = anatomy.wm.copy()
    wm[4:26, 4:26, :] = 0.0
    away = replace(anatomy, wm=wm)
    segmenter = LearnedSegmenter.from_file(model_path)
    assert segmenter.predict(flair, anatomy, None)[blob].mean() > 0.8
    assert not segmenter.predict(flair, away, None)[blob].any()
    # A region that reaches white matter anywhere stays whole, its part outside included.
    wm[18:26, 4:26, :] = 1.0
    touching = replace(anatomy, wm=wm.copy())
    assert segmenter.predict(flair, touching, None)[blob].mean() > 0.8


@pytest.mark.slow
def test_pipeline_with_learned_segmenter(model_path: Path, tmp_path: Path) -> None:
    phantom = make_phantom(PhantomConfig(seed=3, lesion_load="moderate", slice_mm=6.0))
    model = tmp_path / "model.onnx"
    model.write_bytes(model_path.read_bytes())
    write_checksum(model)
    (tmp_path / "model.json").write_text('{"threshold": 0.6}')
    result = run_pipeline(phantom.flair, config=PipelineConfig(segmenter="learned", model=model))
    assert result.segmenter == "learned" and result.threshold == 0.6
    assert result.lesion_probability.shape == phantom.flair.shape == result.lesion_mask.shape
    assert result.lesion_probability.dtype == np.float32
    assert not result.lesion_probability[~result.brain].any()
    truth = phantom.lesion.data > 0
    found = result.lesion_mask
    assert found.sum() > 0 and result.burden.lesion_count > 0
    # A bare intensity cut finds phantom lesions (they are bright) but little else in white matter.
    # Measured: precision 0.92, recall 0.53 (seed 3, moderate load).
    assert (found & truth).sum() / found.sum() > 0.7
    assert (found & truth).sum() / truth.sum() > 0.3
