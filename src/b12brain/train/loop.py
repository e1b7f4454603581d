"""Seeded training of :class:`UNet2D` on a :class:`SliceSampler`, validated on whole phantom
volumes through the inference path of ``segment.slices`` and scored with ``score_masks``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi
from torch import nn

from b12brain.evaluate import score_masks
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.preprocess.orient import to_canonical
from b12brain.segment.slices import from_model_grid, normalise_flair, to_model_grid
from b12brain.train.augment import AugmentConfig
from b12brain.train.data import SliceSampler, SliceSet
from b12brain.types import BoolArray, FloatArray, Volume

Progress = Callable[[str], None]

#: Probability cuts tried on the validation scans at the end of training (:func:`tune_threshold`).
THRESHOLDS = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))  # 0.2 .. 0.8

#: In-plane area (pixels of the 1 mm model grid) under which a lesion counts as small for
#: :func:`lesion_weights`: 30 mm², a 6 mm disc, the section of a 0.05 mL lesion on a 2 mm slice.
SMALL_LESION_PX = 30.0

#: Validation phantoms (seed, load, slice_mm): seeds outside the training pools' 0..999999.
VALIDATION_PHANTOMS: tuple[tuple[int, str, float], ...] = (
    (2_000_001, "mild", 6.0),
    (2_000_002, "moderate", 3.0),
    (2_000_003, "severe", 5.0),
    (2_000_004, "moderate", 1.0),
    (2_000_005, "mild", 1.0),
    (2_000_006, "severe", 8.0),
)


@dataclass(frozen=True)
class TrainConfig:
    """What to train (recorded in the model's JSON sidecar)."""

    steps: int = 2000
    batch: int = 8
    width: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_every: int = 200
    threshold: float = 0.5  # for validation during training; the exported cut is tuned
    device: str = "auto"
    threads: int = 0  # 0: torch's default
    workers: int = 0  # batch-making processes (0: in the training process)
    crop_hw: tuple[int, int] = (192, 224)
    lesion_share: float = 2 / 3
    amp: bool = True  # bfloat16 autocast on CUDA (CPU steps stay float32)
    max_minutes: float = 0.0  # > 0: stop (validate, keep the best) once training took this long
    # > 0: lesion-wise weighting, see lesion_weights (0: the plain loss of release 2)
    small_lesion_weight: float = 0.0
    small_lesion_px: float = SMALL_LESION_PX


@dataclass(frozen=True, eq=False)
class ValidationScan:
    """A canonical FLAIR with its brain mask and true lesion mask."""

    flair: Volume
    brain: BoolArray
    lesion: BoolArray
    name: str


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_model`: best validation Dice and the history of log rows."""

    best_dice: float
    best_step: int
    best_scores: dict[str, dict[str, float]]
    seconds_per_step: float
    history: list[dict[str, float]] = field(default_factory=list)
    threshold: float = 0.5
    dice_by_threshold: dict[float, float] = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def validation_scans(specs: tuple[tuple[int, str, float], ...] = VALIDATION_PHANTOMS) -> list[ValidationScan]:
    """The fixed validation phantoms on their canonical grids."""
    out = []
    for seed, load, slice_mm in specs:
        ph = make_phantom(PhantomConfig(seed=seed, lesion_load=load, slice_mm=slice_mm))  # type: ignore[arg-type]
        flair, _ = to_canonical(ph.flair)
        out.append(
            ValidationScan(
                flair,
                to_canonical(ph.brain)[0].data.astype(bool),
                to_canonical(ph.lesion)[0].data.astype(bool),
                f"{load}-{slice_mm:g}mm",
            )
        )
    return out


@torch.no_grad()
def predict_volume(model: nn.Module, flair: Volume, brain: BoolArray, device: torch.device, *, batch: int = 16) -> FloatArray:
    """Lesion probability on ``flair``'s (canonical) grid: the inference path of ``segment.slices``."""
    stacks, grid = to_model_grid(normalise_flair(flair.data, brain), flair.spacing_mm)
    model.eval()
    out = np.empty((stacks.shape[0], *stacks.shape[2:]), np.float32)
    for i in range(0, len(stacks), batch):
        x = torch.from_numpy(stacks[i : i + batch]).to(device)
        out[i : i + batch] = torch.sigmoid(model(x))[:, 0].float().cpu().numpy()
    return from_model_grid(out, grid)


def soft_dice_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE plus (1 - soft Dice) over the whole batch (empty slices do not divide by zero)."""
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum()
    dice = (2 * inter + 1.0) / (prob.sum() + target.sum() + 1.0)
    return F.binary_cross_entropy_with_logits(logits, target) + (1 - dice)


def lesion_weights(target: npt.NDArray[np.float32], weight: float, small_px: float = SMALL_LESION_PX) -> npt.NDArray[np.float32]:
    """Per-pixel loss weights that make small lesions count: each lesion (8-connected
    component of a sample's target) of area ``A`` pixels, with a one-pixel ring around it, gets
    ``1 + weight * min(1, small_px / A)``; the rest 1.

    Soft Dice and BCE over a batch are ruled by the lesion volume, so a network trained on them
    can miss a 3-voxel lesion at almost no cost; this weighting makes a lesion of a few pixels
    weigh about as much as a large one (as lesion-wise recall counts it).

    Examples
    --------
    >>> t = np.zeros((1, 1, 40, 40), np.float32); t[0, 0, 2:4, 2:4] = 1; t[0, 0, 10:30, 10:30] = 1
    >>> w = lesion_weights(t, 4.0)
    >>> float(w[0, 0, 2, 2]), round(float(w[0, 0, 20, 20]), 2), float(w[0, 0, 39, 39])
    (5.0, 1.3, 1.0)
    """
    out = np.ones(target.shape, dtype=np.float32)
    for index in np.ndindex(target.shape[:-2]):
        labels, n = ndi.label(target[index] >= 0.5, structure=np.ones((3, 3), bool))
        if n == 0:
            continue
        area = np.bincount(labels.ravel(), minlength=n + 1).astype(np.float32)
        boost = np.ones(n + 1, np.float32)
        boost[1:] += np.float32(weight) * np.minimum(1.0, np.float32(small_px) / area[1:])
        # The ring: each background pixel next to a lesion takes the largest boost around it.
        grown = ndi.grey_dilation(boost[labels] - 1.0, size=(3, 3)) + 1.0
        out[index] = np.where(labels > 0, boost[labels], grown)
    return out


def weighted_soft_dice_bce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """:func:`soft_dice_bce` with per-pixel weights in both terms (weights of 1 give the same value)."""
    prob = torch.sigmoid(logits)
    inter = (weight * prob * target).sum()
    dice = (2 * inter + 1.0) / ((weight * prob).sum() + (weight * target).sum() + 1.0)
    bce = (weight * F.binary_cross_entropy_with_logits(logits, target, reduction="none")).sum() / weight.sum()
    return bce + (1 - dice)


def validate(model: nn.Module, scans: list[ValidationScan], device: torch.device, threshold: float) -> dict[str, dict[str, float]]:
    """Scores (``SegmentationScores`` fields) of each validation scan."""
    out = {}
    for scan in scans:
        pred = predict_volume(model, scan.flair, scan.brain, device) >= threshold
        out[scan.name] = {k: float(v) for k, v in asdict(score_masks(scan.lesion, pred, scan.flair.affine)).items()}
    return out


def tune_threshold(
    model: nn.Module, scans: list[ValidationScan], device: torch.device, thresholds: tuple[float, ...] = THRESHOLDS
) -> tuple[float, dict[float, float]]:
    """The cut of ``thresholds`` with the best mean validation Dice (ties: the one nearest 0.5),
    and the mean Dice of every cut."""
    probs = [predict_volume(model, scan.flair, scan.brain, device) for scan in scans]
    dice = {}
    for t in thresholds:
        dice[t] = float(np.mean([_dice(scan.lesion, p >= t) for scan, p in zip(scans, probs)]))
    best = max(thresholds, key=lambda t: (round(dice[t], 4), -abs(t - 0.5)))
    return best, dice


def _dice(truth: BoolArray, pred: BoolArray) -> float:
    total = int(truth.sum()) + int(pred.sum())
    return 1.0 if total == 0 else 2.0 * int((truth & pred).sum()) / total


class _BatchStream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """Endless batches of a :class:`SliceSampler`; each loader worker seeds its own. With
    ``config.small_lesion_weight`` each batch also carries its :func:`lesion_weights`."""

    def __init__(self, pool: list[SliceSet], config: TrainConfig, augment: AugmentConfig | None) -> None:
        self.pool, self.config, self.augment = pool, config, augment

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        info = torch.utils.data.get_worker_info()
        seed = self.config.seed if info is None else (self.config.seed, info.id)
        c = self.config
        sampler = SliceSampler(self.pool, crop_hw=c.crop_hw, lesion_share=c.lesion_share, augment=self.augment, seed=seed)
        while True:
            x, y = sampler.batch(c.batch)
            if c.small_lesion_weight > 0:
                w = lesion_weights(y, c.small_lesion_weight, c.small_lesion_px)
                yield torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w)
            else:
                yield torch.from_numpy(x), torch.from_numpy(y)


def batches(pool: list[SliceSet], config: TrainConfig, augment: AugmentConfig | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Training batches ``(x, y)`` of ``pool``, or ``(x, y, weights)`` with
    ``config.small_lesion_weight`` (seeded: the same pool, config and worker count give the
    same batches): made in this process, or by ``config.workers`` loader processes in turn."""
    stream = _BatchStream(pool, config, augment)
    if config.workers == 0:
        return iter(stream)
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=config.workers, pin_memory=torch.cuda.is_available(), prefetch_factor=4, persistent_workers=True
    )
    return iter(loader)


def train_model(
    model: nn.Module,
    data: Iterator[tuple[torch.Tensor, ...]],
    config: TrainConfig,
    *,
    val_scans: list[ValidationScan] | None = None,
    checkpoint: Path | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``model`` for ``config.steps`` AdamW steps on ``data`` (see :func:`batches`);
    validate every ``val_every`` steps and at the end, keeping the best-mean-Dice weights in
    ``checkpoint`` (and in ``model`` on return), then tune the threshold on them."""
    say = progress or (lambda _line: None)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(config.steps, 1), pct_start=0.1)
    best: tuple[float, int, dict[str, dict[str, float]]] = (-1.0, 0, {})
    best_state: dict[str, Any] | None = None
    history: list[dict[str, float]] = []
    torch.backends.cudnn.benchmark = device.type == "cuda"  # fixed crop size: tuned kernels pay off
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=config.amp and device.type == "cuda")
    t_start, losses, step = time.perf_counter(), [], 0
    for step in range(1, config.steps + 1):
        model.train()
        batch = next(data)
        if config.small_lesion_weight > 0 and len(batch) < 3:
            raise ValueError("config.small_lesion_weight is set but the batches carry no weights; make them with batches()")
        x, y = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
        with autocast:
            logits = model(x)
        if len(batch) > 2:  # lesion-wise weights (config.small_lesion_weight), made with the batch
            loss = weighted_soft_dice_bce(logits.float(), y, batch[2].to(device, non_blocking=True))
        else:
            loss = soft_dice_bce(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        t_train = time.perf_counter() - t_start  # wall time: batch making included
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"step {step}: loss is {losses[-1]}")
        out_of_time = config.max_minutes > 0 and t_train > 60 * config.max_minutes
        if out_of_time:
            say(f"step {step} of {config.steps}: the time limit of {config.max_minutes} min is reached; stopping")
        last = step == config.steps or out_of_time
        if val_scans and (step % config.val_every == 0 or last):
            scores = validate(model, val_scans, device, config.threshold)
            dice = float(np.mean([s["dice"] for s in scores.values()]))
            row = {"step": step, "loss": float(np.mean(losses[-config.val_every :])), "val_dice": dice, "s_per_step": t_train / step}
            history.append(row)
            per = " ".join(f"{k}={v['dice']:.3f}" for k, v in scores.items())
            say(f"step {step} loss {row['loss']:.4f} val_dice {dice:.4f} ({per}) {row['s_per_step']:.3f} s/step")
            if dice > best[0]:
                best = (dice, step, scores)
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                if checkpoint is not None:
                    _save_checkpoint(best_state, config, step, dice, checkpoint)
        elif step % 10 == 0 or step == 1:
            say(f"step {step} loss {np.mean(losses[-10:]):.4f} {t_train / step:.3f} s/step")
        if last:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    threshold, by_threshold = config.threshold, dict[float, float]()
    if val_scans:
        threshold, by_threshold = tune_threshold(model, val_scans, device)
        say(f"threshold {threshold} (validation Dice {by_threshold[threshold]:.4f}; at {config.threshold}: {by_threshold.get(config.threshold, float('nan')):.4f})")
    model.cpu().eval()
    seconds = (time.perf_counter() - t_start) / max(step, 1)
    return TrainResult(best[0], best[1], best[2], seconds, history, threshold, by_threshold)


def _save_checkpoint(state: dict[str, Any], config: TrainConfig, step: int, dice: float, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": state, "config": asdict(config), "step": step, "val_dice": dice}, tmp)
    tmp.replace(path)


def overfit_losses(model: nn.Module, x: npt.NDArray[np.float32], y: npt.NDArray[np.float32], steps: int, *, lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Losses of ``steps`` AdamW steps on one fixed batch (a check that the model can learn)."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    out = []
    for _ in range(steps):
        loss = soft_dice_bce(model(xt), yt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        out.append(float(loss.detach()))
    return out
