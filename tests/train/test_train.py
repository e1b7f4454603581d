"""Training side of the learned segmenter: samples, U-Net, a few steps, ONNX export."""

from __future__ import annotations

import copy
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
from b12brain.train.augment import augment_intensity
from b12brain.train.cli import main as train_main
from b12brain.train.data import SliceSet, decode, exclude_site, load_pool, perturb_brain, save_pool
from b12brain.train.unfuse import load_onnx_weights, recalibrate_batch_norms
from b12brain.train.loop import (
    ValidationScan,
    batches,
    overfit_losses,
    predict_volume,
    tune_threshold,
    validation_scans,
)
from b12brain.types import Volume

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


def test_pool_is_the_same_made_in_parallel(pool):
    configs = [PhantomConfig(seed=11, lesion_load="moderate", slice_mm=6.0), PhantomConfig(seed=12, lesion_load="severe", slice_mm=7.0)]
    parallel = build_pool(configs, max_slices=12, jobs=2)
    assert [s.source for s in parallel] == [s.source for s in pool]
    assert all(np.array_equal(a.stacks, b.stacks) and np.array_equal(a.targets, b.targets) for a, b in zip(parallel, pool))


def test_pool_holds_model_grid_slices(pool):
    for s in pool:
        n, c, h, w = s.stacks.shape
        assert c == CHANNELS and h % 16 == 0 and w % 16 == 0 and 0 < n <= 12
        assert s.targets.shape == (n, h, w) and set(np.unique(s.targets)) <= {0, 1}
        assert s.targets.any()  # moderate and severe phantoms have lesion slices
        assert s.stacks.dtype == np.uint8
        # Normalised by the brain median: white matter, the bulk of the brain, decodes near 1.
        centre = decode(s.stacks[:, 1])
        assert 0.8 < float(np.median(centre[centre > 0.6])) < 1.25


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
    stored = [bytes(decode(t)) for t in s.stacks]
    assert all(bytes(xi) in stored for xi in x)
    assert all(y[i, 0].sum() == s.targets[stored.index(bytes(x[i]))].sum() for i in range(3))


def test_sharpening_keeps_the_normalised_range_and_adds_edges():
    step = np.zeros((3, 32, 32), np.float32)
    step[:, :, 16:] = 2.0
    step[:, :, :16] = 1.0
    cfg = AugmentConfig(gamma=(1.0, 1.0), contrast=(1.0, 1.0), p_noise=0.0, p_blur=0.0, p_sharpen=1.0, sharpen_amount=(1.0, 1.0))
    out = augment_intensity(step, np.random.default_rng(0), cfg)
    assert 0.0 <= out.min() and out.max() <= 4.0
    assert out[1, 10, 16] > 2.05 and out[1, 10, 15] < 0.95  # overshoot on both sides of the edge
    assert np.allclose(out[:, :, [0, 31]], step[:, :, [0, 31]], atol=0.01)  # flat parts unchanged


def test_exclude_site_leaves_one_site_out_and_refuses_unknown_sites():
    def fake(source):
        return SliceSet(np.zeros((1, 3, 16, 16), np.uint8), np.zeros((1, 16, 16), np.uint8), source)

    pool = [fake("siteA/1"), fake("siteA/2"), fake("siteB/1"), fake("siteAB/1")]
    assert [s.source for s in exclude_site(pool, "siteA")] == ["siteB/1", "siteAB/1"]
    assert len(exclude_site(pool, None)) == 4
    with pytest.raises(ValueError, match="siteC"):
        exclude_site(pool, "siteC")


def test_batches_are_seeded_with_and_without_workers(pool):
    config = TrainConfig(batch=3, crop_hw=(64, 64), seed=4)
    a = [next(batches(pool, config))[0] for _ in range(2)]
    assert torch.equal(a[0], a[1])  # a fresh stream starts again
    with_workers = TrainConfig(batch=3, crop_hw=(64, 64), seed=4, workers=2)
    w1, w2 = batches(pool, with_workers), batches(pool, with_workers)
    first = [next(w1)[0] for _ in range(4)]
    second = [next(w2)[0] for _ in range(4)]
    assert all(torch.equal(p, q) for p, q in zip(first, second))
    assert not torch.equal(first[0], first[1])  # the two workers draw different streams


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
    torch.manual_seed(0)
    model = UNet2D(width=8)
    config = TrainConfig(steps=6, batch=4, width=8, device="cpu", lr=1e-3, crop_hw=(64, 64))
    result = train_model(model, batches(pool, config), config)
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


class _Oracle(torch.nn.Module):
    """Probability 0.45 where the normalised FLAIR is bright (> 1.5), 0.1 elsewhere."""

    def forward(self, x):
        return torch.logit(0.1 + 0.35 * (x[:, 1:2] > 1.5).float())


def test_threshold_is_tuned_to_the_best_validation_dice():
    flair = np.ones((32, 32, 4), np.float32)
    flair[8:16, 8:16, 1:3] = 2.0
    truth = np.zeros(flair.shape, bool)
    truth[8:16, 8:20, 1:3] = True  # a part of the lesion is not bright
    scans = [ValidationScan(Volume(flair, np.eye(4), "toy"), np.ones(flair.shape, bool), truth, "toy")]
    best, dice = tune_threshold(_Oracle(), scans, torch.device("cpu"), thresholds=(0.05, 0.3, 0.4, 0.5))
    assert dice[0.5] == 0.0  # nothing is lesion
    assert dice[0.05] < dice[0.3] == dice[0.4] == pytest.approx(2 * 128 / (128 + 192))  # all brain at 0.05
    assert best == 0.4  # the best Dice; of a tie, the cut nearest 0.5


def test_train_command_trains_and_exports_a_model(tmp_path):
    out = tmp_path / "run"
    args = ["--out", str(out), "--steps", "3", "--pool", "1", "--batch", "2", "--width", "4", "--crop", "64", "64",
            "--device", "cpu", "--val-every", "3", "--val-phantoms", "1", "--cache", str(tmp_path / "cache"), "--seed", "3"]  # fmt: skip
    assert train_main(args) == 0
    meta = json.loads((out / "b12brain_wmh_unet2d.json").read_text())
    assert 0.2 <= meta["threshold"] <= 0.8 and meta["train_config"]["steps"] == 3
    assert len(meta["pool"]) == 1 and len(meta["history"]) == 1
    assert (out / "b12brain_wmh_unet2d.onnx").stat().st_size > 10_000
    assert "exported" in (out / "train.log").read_text()
    assert train_main([*args[:2], "--pool", "1", "--seed", "3", "--cache", str(tmp_path / "cache"), "--prepare-only"]) == 0
    assert "reading 1 phantoms" in (out / "train.log").read_text()  # the pool came from the cache


def test_train_command_fine_tunes_from_a_checkpoint(tmp_path, capsys):
    base = ["--steps", "2", "--pool", "1", "--batch", "2", "--width", "4", "--crop", "64", "64", "--device", "cpu",
            "--val-every", "2", "--val-phantoms", "1", "--cache", str(tmp_path / "cache"), "--seed", "3"]  # fmt: skip
    assert train_main(["--out", str(tmp_path / "a"), *base]) == 0
    first = torch.load(tmp_path / "a" / "best.pt", weights_only=True)["state_dict"]
    # At learning rate 0 the weights stay those of --init (only BatchNorm statistics move).
    assert train_main(["--out", str(tmp_path / "b"), *base, "--lr", "0", "--init", str(tmp_path / "a" / "best.pt")]) == 0
    second = torch.load(tmp_path / "b" / "best.pt", weights_only=True)["state_dict"]
    convs = [k for k in first if k.endswith("weight") and first[k].ndim == 4]
    assert convs and all(torch.equal(first[k], second[k]) for k in convs)
    assert json.loads((tmp_path / "b" / "result.json").read_text())["init"] == str(tmp_path / "a" / "best.pt")
    with pytest.raises(SystemExit) as exit_info:  # a checkpoint of another width
        train_main(["--out", str(tmp_path / "c"), *base[:7], "8", *base[8:], "--init", str(tmp_path / "a" / "best.pt")])
    assert exit_info.value.code == 2 and "not a checkpoint of a width-8 UNet2D" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    for init, problem in ((tmp_path / "absent.pt", "absent.pt: not found"), (tmp_path / "junk.pt", "junk.pt: not a checkpoint")):
        with pytest.raises(SystemExit) as exit_info:
            train_main(["--out", str(tmp_path / "d"), *base, "--init", str(init)])
        assert exit_info.value.code == 2 and problem in capsys.readouterr().err
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()  # refused before anything is written


def test_train_command_refuses_bad_real_data_with_exit_2(tmp_path, capsys):
    base = ["--out", str(tmp_path / "run"), "--pool", "0", "--prepare-only"]
    with pytest.raises(SystemExit) as exit_info:
        train_main([*base, "--real", str(tmp_path / "absent")])
    assert exit_info.value.code == 2 and "absent: not found" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything is written
    with pytest.raises(SystemExit) as exit_info:
        train_main([*base, "--exclude-site", "siteA"])
    assert exit_info.value.code == 2 and "--exclude-site needs --real" in capsys.readouterr().err
    not_a_pool = tmp_path / "real-x.npz"
    np.savez(not_a_pool, something=np.zeros(3))
    with pytest.raises(SystemExit) as exit_info:
        train_main([*base, "--real", str(not_a_pool)])
    assert exit_info.value.code == 2 and "real-x.npz" in capsys.readouterr().err
    pool = [SliceSet(np.zeros((1, 3, 16, 16), np.uint8), np.zeros((1, 16, 16), np.uint8), "siteA/1")]
    save_pool(pool, tmp_path / "real-ok.npz")
    with pytest.raises(SystemExit) as exit_info:
        train_main([*base, "--real", str(tmp_path / "real-ok.npz"), "--exclude-site", "siteB"])
    assert exit_info.value.code == 2 and "no scan of site 'siteB'" in capsys.readouterr().err


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


def test_onnx_weights_load_back_for_fine_tuning(tmp_path):
    torch.manual_seed(0)
    trained = UNet2D(width=4).eval()
    with torch.no_grad():  # batch norms with their own statistics, folded into the convolutions by the export
        for m in trained.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    onnx_path = export_onnx(trained, tmp_path, "shipped").onnx_path
    rng = np.random.default_rng(2)
    calibration = rng.uniform(0, 2, (16, CHANNELS, 48, 64)).astype(np.float32)
    model = UNet2D(width=4)
    load_onnx_weights(model, onnx_path)
    x = torch.from_numpy(rng.uniform(0, 2, (4, CHANNELS, 48, 64)).astype(np.float32))
    with torch.no_grad():
        want = trained(x)
        assert (model.eval()(x) - want).abs().max() < 1e-4  # evaluation mode: the exported network itself
        uncalibrated = copy.deepcopy(model).train()(x)  # a copy: training mode moves the statistics
        recalibrate_batch_norms(model, calibration)
        assert (model.eval()(x) - want).abs().max() < 1e-4  # still the same function
        calibrated = model.train()(x)  # batch statistics instead of the calibrated ones: close
    assert (calibrated - want).abs().mean() < 0.1 * want.abs().mean() < (uncalibrated - want).abs().mean()
    with pytest.raises(ValueError, match="the network needs"):
        load_onnx_weights(UNet2D(width=8), onnx_path)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx: not an ONNX model"):
        load_onnx_weights(UNet2D(width=4), tmp_path / "junk.onnx")


def test_train_command_fine_tunes_from_an_onnx_export(tmp_path, capsys):
    base = ["--steps", "2", "--pool", "1", "--batch", "2", "--width", "4", "--crop", "64", "64", "--device", "cpu",
            "--val-every", "2", "--val-phantoms", "1", "--cache", str(tmp_path / "cache"), "--seed", "3"]  # fmt: skip
    torch.manual_seed(0)
    onnx_path = export_onnx(UNet2D(width=4).eval(), tmp_path, "start").onnx_path
    assert train_main(["--out", str(tmp_path / "a"), *base, "--lr", "0", "--init", str(onnx_path)]) == 0
    tuned = UNet2D(width=4)
    tuned.load_state_dict(torch.load(tmp_path / "a" / "best.pt", weights_only=True)["state_dict"])
    x = torch.from_numpy(np.random.default_rng(1).uniform(0, 2, (2, CHANNELS, 64, 64)).astype(np.float32))
    import onnxruntime as ort

    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        got = tuned.eval()(x).numpy()
    # At learning rate 0 only the batch-norm statistics move (two steps of momentum 0.1).
    assert np.abs(got - want).mean() < 0.2 * np.abs(want).mean()
    assert "init: weights of" in (tmp_path / "a" / "train.log").read_text()
    with pytest.raises(SystemExit) as exit_info:  # an export of another width
        train_main(["--out", str(tmp_path / "b"), *base[:7], "8", *base[8:], "--init", str(onnx_path)])
    assert exit_info.value.code == 2 and "give an ONNX export of a width-8 UNet2D" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()  # refused before anything is written
