"""Training side of the learned segmenter: samples, U-Net, a few steps, ONNX export."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from b12brain.phantom import PhantomConfig
from b12brain.segment.slices import CHANNELS
from b12brain.train import (
    AugmentConfig,
    SliceSampler,
    TrainConfig,
    UNet2D,
    build_pool,
    export_onnx,
    lesion_targets,
    train_model,
)
from b12brain.train.data import load_pool, perturb_brain
from b12brain.train.loop import overfit_losses, predict_volume, validation_scans

CROP = (96, 128)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    configs = [PhantomConfig(seed=11, lesion_load="moderate", slice_mm=6.0), PhantomConfig(seed=12, lesion_load="severe", slice_mm=7.0)]
    cache = tmp_path_factory.mktemp("pool")
    built = build_pool(configs, max_slices=12, cache_dir=cache)
    files = list(cache.glob("pool-*.npz"))
    assert len(files) == 1
    again = load_pool(files[0])
    assert [s.source for s in again] == [s.source for s in built]
    assert all(np.array_equal(a.stacks, b.stacks) and np.array_equal(a.targets, b.targets) for a, b in zip(again, built))
    return built


def test_pool_holds_model_grid_slices(pool):
    for s in pool:
        n, c, h, w = s.stacks.shape
        assert c == CHANNELS and h % 16 == 0 and w % 16 == 0 and 0 < n <= 12
        assert s.targets.shape == (n, h, w) and set(np.unique(s.targets)) <= {0, 1}
        assert s.targets.any()  # moderate and severe phantoms have lesion slices
        assert 0.0 <= float(s.stacks.min()) and float(s.stacks.max()) <= 4.0


def test_batches_have_contract_shape_and_are_seeded(pool):
    a = SliceSampler(pool, crop_hw=CROP, lesion_share=2 / 3, seed=5)
    b = SliceSampler(pool, crop_hw=CROP, lesion_share=2 / 3, seed=5)
    x, y = a.batch(6)
    x2, y2 = b.batch(6)
    assert x.shape == (6, CHANNELS, *CROP) and x.dtype == np.float32
    assert y.shape == (6, 1, *CROP) and y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    x3, _ = SliceSampler(pool, crop_hw=CROP, seed=6).batch(6)
    assert not np.array_equal(x, x3)


@pytest.mark.parametrize("share, batch", [(2 / 3, 9), (1.0, 4), (0.25, 8)])
def test_lesion_slices_at_requested_share(pool, share, batch):
    sampler = SliceSampler(pool, crop_hw=CROP, lesion_share=share, seed=1)
    for _ in range(3):
        _, y = sampler.batch(batch)
        with_lesion = int(y.reshape(batch, -1).any(axis=1).sum())
        # Lesion picks keep a lesion voxel in the crop; others may hold lesion by chance.
        assert with_lesion >= round(share * batch)
    if share == 0.25:
        assert with_lesion < batch


def test_no_augmentation_gives_the_stored_slice(pool):
    s = pool[0]
    h, w = s.targets.shape[1:]
    sampler = SliceSampler([s], crop_hw=(h, w), augment=AugmentConfig(enabled=False), seed=0)
    x, y = sampler.batch(3)
    stored = {bytes(t.astype(np.float32)) for t in s.stacks}
    assert all(bytes(xi) in stored for xi in x)
    assert all(y[i, 0].sum() == s.targets[np.flatnonzero([bytes(t.astype(np.float32)) == bytes(x[i]) for t in s.stacks])[0]].sum() for i in range(3))


def test_lesion_targets_follow_the_in_plane_resampling():
    mask = np.zeros((40, 40, 4), bool)
    mask[10:20, 10:30, 2] = True  # 200 voxels of 0.5 x 0.5 mm = 50 mm²
    t = lesion_targets(mask, (0.5, 0.5, 5.0))
    assert t.shape == (4, 32, 32)
    assert t[2].sum() == 50 and t[[0, 1, 3]].sum() == 0


def test_perturbed_brain_mask_changes_but_stays_close():
    brain = np.zeros((40, 40, 20), bool)
    brain[8:32, 8:32, 4:16] = True
    rng = np.random.default_rng(0)
    masks = [perturb_brain(brain, (1.0, 1.0, 2.0), rng) for _ in range(5)]
    assert any(not np.array_equal(m, brain) for m in masks)
    for m in masks:
        dice = 2 * (m & brain).sum() / (m.sum() + brain.sum())
        assert dice > 0.6


def test_unet_keeps_the_spatial_size():
    net = UNet2D(width=8)
    assert tuple(net(torch.zeros(2, 3, 64, 96)).shape) == (2, 1, 64, 96)


def test_training_runs_and_overfits_one_batch(pool):
    sampler = SliceSampler(pool, crop_hw=(64, 64), seed=0)
    torch.manual_seed(0)
    model = UNet2D(width=8)
    result = train_model(model, sampler, TrainConfig(steps=6, batch=4, width=8, device="cpu", lr=1e-3))
    assert np.isfinite(result.seconds_per_step) and result.seconds_per_step > 0

    x, y = SliceSampler(pool, crop_hw=(64, 64), lesion_share=1.0, seed=3).batch(4)
    torch.manual_seed(0)
    losses = overfit_losses(UNet2D(width=8), x, y, 30, lr=1e-2)
    assert all(np.isfinite(losses))
    assert min(losses[-5:]) < 0.85 * losses[0], losses[::5]


def test_validation_predicts_whole_volumes_on_the_canonical_grid():
    scans = validation_scans(((2_000_001, "moderate", 8.0),))
    model = UNet2D(width=4).eval()
    prob = predict_volume(model, scans[0].flair, scans[0].brain, torch.device("cpu"))
    assert prob.shape == scans[0].flair.shape and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0


def test_onnx_export_matches_torch(tmp_path):
    torch.manual_seed(0)
    model = UNet2D(width=4).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, as after training
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    result = export_onnx(model, tmp_path, "tiny", metadata={"train_config": {"width": 4}})
    assert result.max_abs_diff < 1e-4
    data = result.onnx_path.read_bytes()
    assert (tmp_path / "tiny.onnx.sha256").read_text().strip() == hashlib.sha256(data).hexdigest() == result.sha256
    sidecar = json.loads((tmp_path / "tiny.json").read_text())
    assert sidecar["sha256"] == result.sha256 and sidecar["opset"] == 17 and sidecar["train_config"] == {"width": 4}

    import onnxruntime as ort

    session = ort.InferenceSession(str(result.onnx_path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(0, 3, (3, 3, 48, 80)).astype(np.float32)  # other batch and size
    got = session.run(None, {"input": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert got.shape == (3, 1, 48, 80)
    assert np.abs(got - want).max() < 1e-4
