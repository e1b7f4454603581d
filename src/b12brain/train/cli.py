"""``python -m b12brain.train``: build the pool, train, validate, export ONNX."""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from b12brain.train.augment import SCANNER_AUGMENT, AugmentConfig
from b12brain.train.data import (
    PoolRecipe,
    SliceSampler,
    SliceSet,
    build_pool,
    exclude_site,
    load_pool,
    phantom_configs,
    real_slice_sets,
)
from b12brain.train.export import export_onnx
from b12brain.train.loop import (
    VALIDATION_PHANTOMS,
    TrainConfig,
    batches,
    train_model,
    validation_scans,
)
from b12brain.train.model import UNet2D, count_parameters
from b12brain.train.unfuse import load_onnx_weights, recalibrate_batch_norms

#: Samples whose activations set the batch-norm statistics of weights read from ONNX (--init).
CALIBRATION_SAMPLES = 64


def _get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m b12brain.train", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="output folder (checkpoint, ONNX, log)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--pool", type=int, default=24, help="number of training phantoms")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--max-slices", type=int, default=40, help="samples kept per scan")
    p.add_argument("--crop", type=int, nargs=2, default=(192, 224), metavar=("H", "W"))
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    p.add_argument("--workers", type=int, default=0, help="batch-making processes (0: none)")
    p.add_argument("--jobs", type=int, default=1, help="processes that make the pools")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop training after this long (0: never)")
    p.add_argument("--no-amp", action="store_true", help="float32 steps on CUDA too (default: bfloat16 autocast)")
    p.add_argument("--cache", type=Path, default=None, help="folder for the pools' .npz caches")
    p.add_argument(
        "--real", type=Path, default=None,
        help="real scans: DIR/<site>/<subject>/{flair,lesion}.nii.gz, or a real-*.npz pool made from one",
    )  # fmt: skip
    p.add_argument("--real-slices", type=int, default=120, help="samples kept per real scan")
    p.add_argument("--exclude-site", default=None, help="leave this site of --real out")
    p.add_argument("--val-phantoms", type=int, default=len(VALIDATION_PHANTOMS), help="validation phantoms used (the first N)")
    p.add_argument("--prepare-only", action="store_true", help="build (and cache) the pools, then stop")
    p.add_argument(
        "--init", type=Path, default=None,
        help="start from these weights (fine-tuning) instead of random ones: an earlier run's best.pt, or an "
        "exported .onnx of the same width such as the shipped src/b12brain/resources/wmh_unet.onnx",
    )  # fmt: skip
    p.add_argument("--name", default="b12brain_wmh_unet2d")
    round2 = p.add_argument_group("round-2 levers (all off by default: the recipe of release 2)")
    round2.add_argument("--punctate", type=int, default=0, metavar="N",
                        help="each phantom gets 0..N punctate lesions (1.5-3.5 mm, under 0.05 mL)")
    round2.add_argument("--mimics", type=float, default=0.0, metavar="P",
                        help="share of phantoms with normal FLAIR signal that is not lesion (ependymal rim, "
                        "corticospinal tracts, fornix, perivascular spaces)")
    round2.add_argument("--slice-gaps", type=float, default=0.0, metavar="P",
                        help="share of 2D phantoms (>= 3 mm) acquired with gaps of 10-40 %% of the slice thickness")
    round2.add_argument("--scanner-augment", action="store_true",
                        help="1.5T/3T looks, motion ghosts and resampled exports in augmentation")
    round2.add_argument("--small-lesion-weight", type=float, default=0.0, metavar="W",
                        help="lesion-wise loss weighting: a lesion of A pixels weighs 1 + W*min(1, 30/A)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _get_parser()
    args = parser.parse_args(argv)
    if args.real is not None and not (args.real.is_dir() or (args.real.suffix == ".npz" and args.real.is_file())):
        parser.error(f"--real {args.real}: not found; give a folder <site>/<subject>/flair.nii.gz or a real-*.npz pool")
    if args.exclude_site is not None and args.real is None:
        parser.error("--exclude-site needs --real (the site is left out of the real scans)")
    if not 0 <= args.punctate <= 200:
        parser.error(f"--punctate {args.punctate}: give 0 to 200 lesions")
    for option, share in (("--mimics", args.mimics), ("--slice-gaps", args.slice_gaps)):
        if not 0.0 <= share <= 1.0:
            parser.error(f"{option} {share}: give a share from 0 to 1")
    if args.small_lesion_weight < 0:
        parser.error(f"--small-lesion-weight {args.small_lesion_weight}: give 0 (off) or more")
    torch.manual_seed(args.seed)
    model = UNet2D(width=args.width)
    if args.init is not None and not args.init.is_file():
        parser.error(f"--init {args.init}: not found; give the best.pt that an earlier run wrote, or an exported .onnx")
    from_onnx = args.init is not None and args.init.suffix == ".onnx"
    if from_onnx:
        try:
            load_onnx_weights(model, args.init)
        except ValueError as err:
            parser.error(f"--init {err}; give an ONNX export of a width-{args.width} UNet2D")
    elif args.init is not None:
        try:
            model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True)["state_dict"])
        except (OSError, KeyError, RuntimeError, pickle.UnpicklingError):
            parser.error(f"--init {args.init}: not a checkpoint of a width-{args.width} UNet2D; "
                         f"give the best.pt of a run with --width {args.width}")  # fmt: skip
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "train.log").open("a")

    def say(line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        print(stamped, flush=True)
        log.write(stamped + "\n")
        log.flush()

    say("command: python -m b12brain.train " + " ".join(sys.argv[1:] if argv is None else argv))
    config = TrainConfig(
        steps=args.steps, batch=args.batch, width=args.width, lr=args.lr, seed=args.seed,
        val_every=args.val_every, device=args.device, threads=args.threads, workers=args.workers,
        crop_hw=tuple(args.crop), amp=not args.no_amp, max_minutes=args.max_minutes,
        small_lesion_weight=args.small_lesion_weight,
    )  # fmt: skip
    recipe = PoolRecipe(max_punctate=args.punctate, p_mimics=args.mimics, p_gap=args.slice_gaps)
    augment = AugmentConfig(**SCANNER_AUGMENT) if args.scanner_augment else AugmentConfig()  # type: ignore[arg-type]
    if config.threads:
        torch.set_num_threads(config.threads)
    configs = phantom_configs(args.pool, args.seed, recipe)
    pool = build_pool(configs, max_slices=args.max_slices, cache_dir=args.cache, jobs=args.jobs, progress=say)
    real: list[SliceSet] = []
    if args.real is not None:
        try:
            if args.real.suffix == ".npz":
                real = load_pool(args.real)
            else:
                real = real_slice_sets(args.real, max_slices=args.real_slices, cache_dir=args.cache, jobs=args.jobs, progress=say)
            real = exclude_site(real, args.exclude_site)
        except (FileNotFoundError, KeyError, ValueError) as err:
            log.close()
            parser.error(f"--real {args.real}: {err}")
        say(f"real: training on {len(real)} scans: {', '.join(s.source for s in real)}")
    if args.prepare_only:
        log.close()
        return 0
    pool += real
    sampler = SliceSampler(pool, crop_hw=config.crop_hw, augment=augment, seed=args.seed)
    say(f"pool: {len(pool)} scans, {len(sampler.lesion_index)} lesion / {len(sampler.other_index)} other slices")
    val = validation_scans(VALIDATION_PHANTOMS[: args.val_phantoms])
    if from_onnx:
        # Batch-norm statistics of this pool's batches (a stream of their own: training's is unchanged).
        calibration, _ = SliceSampler(pool, crop_hw=config.crop_hw, augment=augment, seed=(args.seed, 1)).batch(CALIBRATION_SAMPLES)
        recalibrate_batch_norms(model, calibration)
    if args.init is not None:
        say(f"init: weights of {args.init}")
    say(f"model: UNet2D width {args.width}, {count_parameters(model)} parameters, torch {torch.__version__}")
    result = train_model(model, batches(pool, config, augment), config, val_scans=val, checkpoint=out / "best.pt", progress=say)
    meta = {
        "threshold": result.threshold,  # read by segment.learned: the best cut on the validation phantoms
        "dice_by_threshold": result.dice_by_threshold,
        "train_config": asdict(config),
        "pool": [asdict(c) for c in configs],
        "pool_recipe": asdict(recipe),
        "augment": asdict(augment),
        "init": None if args.init is None else str(args.init),
        "real": None if args.real is None else {"scans": [s.source for s in real], "exclude_site": args.exclude_site},
        "best_val_dice": result.best_dice,
        "best_step": result.best_step,
        "val_scores": result.best_scores,
        "seconds_per_step": result.seconds_per_step,
        "history": result.history,
        "parameters": count_parameters(model),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    exported = export_onnx(model, out, args.name, metadata=meta)
    say(f"exported {exported.onnx_path} ({exported.size_bytes / 1e6:.1f} MB, sha256 {exported.sha256[:12]}..., "
        f"max |onnx - torch| {exported.max_abs_diff:.2e}); best val Dice {result.best_dice:.4f} at step {result.best_step}")  # fmt: skip
    (out / "result.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    log.close()
    return 0
