"""``python -m b12brain.train``: build the pool, train, validate, export ONNX."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from b12brain.train.data import (
    SliceSampler,
    build_pool,
    phantom_configs,
    real_slice_sets,
)
from b12brain.train.export import export_onnx
from b12brain.train.loop import TrainConfig, train_model, validation_scans
from b12brain.train.model import UNet2D, count_parameters


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
    p.add_argument("--cache", type=Path, default=None, help="folder for the phantom pool .npz cache")
    p.add_argument("--real", type=Path, default=None, help="real data DIR/<site>/<subject>/{flair,lesion}.nii.gz")
    p.add_argument("--exclude-site", default=None, help="leave this site of --real out")
    p.add_argument("--name", default="b12brain_wmh_unet2d")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _get_parser().parse_args(argv)
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
        val_every=args.val_every, device=args.device, threads=args.threads,
    )  # fmt: skip
    if config.threads:
        torch.set_num_threads(config.threads)
    configs = phantom_configs(args.pool, args.seed)
    pool = build_pool(configs, max_slices=args.max_slices, cache_dir=args.cache, progress=say)
    if args.real is not None:
        pool += real_slice_sets(args.real, exclude_site=args.exclude_site, max_slices=args.max_slices, progress=say)
    sampler = SliceSampler(pool, crop_hw=tuple(args.crop), seed=args.seed)
    say(f"pool: {len(pool)} scans, {len(sampler.lesion_index)} lesion / {len(sampler.other_index)} other slices")
    val = validation_scans()
    torch.manual_seed(args.seed)
    model = UNet2D(width=args.width)
    say(f"model: UNet2D width {args.width}, {count_parameters(model)} parameters, torch {torch.__version__}")
    result = train_model(model, sampler, config, val_scans=val, checkpoint=out / "best.pt", progress=say)
    meta = {
        "threshold": config.threshold,  # read by segment.learned; a tuned cut is future work
        "train_config": asdict(config),
        "pool": [asdict(c) for c in configs],
        "real": None if args.real is None else {"root": str(args.real), "exclude_site": args.exclude_site},
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
