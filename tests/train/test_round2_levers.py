"""Round-2 training levers (issue 19): lesion-wise loss weighting, scanner-style augmentation,
pool recipes, and the training command with all of them at tiny scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from b12brain.segment.slices import CLIP
from b12brain.train.augment import SCANNER_AUGMENT, AugmentConfig, augment_intensity, field_strength_look, motion_ghosts
from b12brain.train.cli import main as train_main
from b12brain.train.data import MIN_GAP_SLICE_MM, PoolRecipe, phantom_configs
from b12brain.train.loop import lesion_weights, soft_dice_bce, weighted_soft_dice_bce


def _two_lesions() -> np.ndarray:
    t = np.zeros((2, 1, 48, 48), np.float32)
    t[0, 0, 5:7, 5:7] = 1.0  # 4 pixels
    t[0, 0, 20:40, 20:40] = 1.0  # 400 pixels
    return t


def test_small_lesions_weigh_more_than_large_ones_and_the_rest_stays_one():
    t = _two_lesions()
    w = lesion_weights(t, 4.0, small_px=30.0)
    assert w[0, 0, 5, 5] == pytest.approx(5.0)  # 1 + 4 * min(1, 30/4)
    assert w[0, 0, 30, 30] == pytest.approx(1.0 + 4.0 * 30 / 400)
    assert w[0, 0, 4, 5] == pytest.approx(5.0)  # the one-pixel ring around the small lesion
    assert w[0, 0, 2, 45] == 1.0 and (w[1] == 1.0).all()  # far background, empty sample
    assert np.array_equal(lesion_weights(t, 0.0), np.ones_like(t))


def test_weighted_loss_with_unit_weights_is_the_plain_loss_and_counts_a_missed_small_lesion():
    t = torch.from_numpy(_two_lesions())
    logits = torch.where(t > 0, 4.0, -4.0)
    ones = torch.ones_like(t)
    assert float(weighted_soft_dice_bce(logits, t, ones)) == pytest.approx(float(soft_dice_bce(logits, t)), rel=1e-6)
    missed = logits.clone()
    missed[0, 0, 5:7, 5:7] = -4.0  # the 4-pixel lesion is missed
    w = torch.from_numpy(lesion_weights(t.numpy(), 4.0))
    plain_cost = float(soft_dice_bce(missed, t) - soft_dice_bce(logits, t))
    weighted_cost = float(weighted_soft_dice_bce(missed, t, w) - weighted_soft_dice_bce(logits, t, w))
    assert weighted_cost > 2 * plain_cost


def test_field_strength_looks_lower_or_raise_the_contrast_about_white_matter():
    x = np.ones((3, 32, 32), np.float32)
    x[:, 12:20, 12:20] = 2.0
    cfg = AugmentConfig(contrast_15t=(0.8, 0.8), contrast_3t=(1.2, 1.2))
    peaks = {round(float(np.median(field_strength_look(x, np.random.default_rng(s), cfg)[1, 14:18, 14:18])), 1) for s in range(12)}
    assert peaks == {1.8, 2.2}  # both looks occur; white matter (1) stays where it is
    assert all(abs(float(np.median(field_strength_look(x, np.random.default_rng(s), cfg))) - 1.0) < 0.05 for s in range(3))


def test_motion_ghosts_along_one_axis_keep_the_image_energy():
    x = np.zeros((3, 64, 64), np.float32)
    x[:, 24:40, 24:40] = 1.0
    y = motion_ghosts(x, np.random.default_rng(2), AugmentConfig(motion_lines=(0.3, 0.3), motion_shift_px=(2.0, 2.0)))
    assert np.sum(y**2) == pytest.approx(np.sum(x**2), rel=0.25)
    outside = y.copy()
    outside[:, 20:44, 20:44] = 0.0
    assert outside.max() > 0.02  # ghosts outside the object


def test_scanner_augment_keeps_the_normalised_range():
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(**SCANNER_AUGMENT)
    x = rng.uniform(0.0, 3.0, (3, 64, 64)).astype(np.float32)
    for _ in range(10):
        y = augment_intensity(x, rng, cfg)
        assert y.shape == x.shape and y.dtype == np.float32 and 0.0 <= y.min() and y.max() <= CLIP


def test_pool_recipe_adds_extras_without_changing_the_plain_pool():
    plain = phantom_configs(30, 0)
    rich = phantom_configs(30, 0, PoolRecipe(max_punctate=25, p_mimics=0.5, p_gap=1.0))
    assert [(c.seed, c.lesion_load, c.slice_mm) for c in plain] == [(c.seed, c.lesion_load, c.slice_mm) for c in rich]
    assert all(c.punctate_lesions == 0 and not c.mimics and c.slice_gap_mm == 0 for c in plain)
    assert all(0 <= c.punctate_lesions <= 25 for c in rich) and any(c.punctate_lesions > 10 for c in rich)
    assert 5 <= sum(c.mimics for c in rich) <= 25
    assert all((c.slice_gap_mm > 0) == (c.slice_mm >= MIN_GAP_SLICE_MM) for c in rich)
    assert all(c.slice_gap_mm <= 0.4 * c.slice_mm + 0.05 for c in rich)


def test_train_command_with_every_round2_lever(tmp_path):
    out = tmp_path / "run"
    args = ["--out", str(out), "--steps", "2", "--pool", "1", "--batch", "2", "--width", "4", "--crop", "64", "64",
            "--device", "cpu", "--val-every", "2", "--val-phantoms", "1", "--seed", "5",
            "--punctate", "10", "--mimics", "1", "--slice-gaps", "1", "--scanner-augment", "--small-lesion-weight", "4"]  # fmt: skip
    assert train_main(args) == 0
    meta = json.loads((out / "b12brain_wmh_unet2d.json").read_text())
    assert meta["pool_recipe"] == {"max_punctate": 10, "p_mimics": 1.0, "p_gap": 1.0}
    assert meta["augment"]["p_field"] == SCANNER_AUGMENT["p_field"]
    assert meta["train_config"]["small_lesion_weight"] == 4.0
    assert meta["pool"][0]["mimics"] is True
    assert (out / "b12brain_wmh_unet2d.onnx").stat().st_size > 10_000


@pytest.mark.parametrize(
    "extra, message",
    [(["--mimics", "1.5"], "--mimics"), (["--slice-gaps", "-0.1"], "--slice-gaps"), (["--punctate", "500"], "--punctate"),
     (["--small-lesion-weight", "-1"], "--small-lesion-weight")],
)  # fmt: skip
def test_train_command_refuses_bad_lever_values(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as info:
        train_main(["--out", str(tmp_path), *extra])
    assert info.value.code == 2 and message in capsys.readouterr().err


def _pool():
    from b12brain.train.data import SliceSet

    rng = np.random.default_rng(0)
    targets = np.zeros((4, 64, 64), np.uint8)
    targets[:, 10:12, 10:12] = 1
    targets[:, 30:50, 30:50] = 1
    return [SliceSet(rng.integers(0, 255, (4, 3, 64, 64), dtype=np.uint8), targets, "toy")]


@pytest.mark.parametrize("workers", [0, 1])
def test_weighted_batches_carry_their_weights_from_the_workers(workers):
    from b12brain.train.loop import TrainConfig, batches

    config = TrainConfig(batch=3, crop_hw=(64, 64), workers=workers, small_lesion_weight=4.0)
    x, y, w = next(batches(_pool(), config))
    assert x.shape == (3, 3, 64, 64) and w.shape == y.shape
    assert np.array_equal(w.numpy(), lesion_weights(y.numpy(), 4.0))
    assert len(next(batches(_pool(), TrainConfig(batch=3, crop_hw=(64, 64))))) == 2  # off: (x, y) as before


def test_weighting_without_weights_in_the_batches_is_refused():
    from b12brain.train.loop import TrainConfig, train_model
    from b12brain.train.model import UNet2D

    config = TrainConfig(steps=1, batch=2, width=4, device="cpu", crop_hw=(64, 64), small_lesion_weight=4.0)
    plain = iter([(torch.zeros(2, 3, 64, 64), torch.zeros(2, 1, 64, 64))])
    with pytest.raises(ValueError, match="carry no weights"):
        train_model(UNet2D(width=4), plain, config)
