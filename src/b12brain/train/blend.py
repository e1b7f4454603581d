"""``python -m b12brain.train.blend``: the weights half-way between a fine-tuning's start and end.

Fine-tuning on new phantoms teaches the network what they show, and can cost it some of what it
did well on real scans unlike any phantom. Averaging the weights it started from with those it
reached (weight-space ensembling, WiSE-FT: Wortsman et al., CVPR 2022) keeps most of both at no
cost at run time: the blend is one network of the same size. Both models are ONNX exports of
one :class:`~b12brain.train.model.UNet2D`; each is read in its folded form
(:func:`~b12brain.train.unfuse.load_onnx_weights`), where averaging the convolutions and
shifts averages the two networks layer by layer. The blend's threshold is tuned on the
validation phantoms, as training does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from b12brain.io.manifest import file_sha256
from b12brain.segment.learned import threshold_path
from b12brain.train.export import export_onnx
from b12brain.train.loop import VALIDATION_PHANTOMS, tune_threshold, validation_scans
from b12brain.train.model import UNet2D
from b12brain.train.unfuse import load_onnx_weights

#: Share of the fine-tuned weights in the blend (WiSE-FT's default).
ALPHA = 0.5


def blend_onnx(start: Path | str, tuned: Path | str, *, alpha: float = ALPHA, width: int = 16) -> UNet2D:
    """The network ``(1 - alpha) * start + alpha * tuned`` (weights of two ONNX exports).

    Raises
    ------
    ValueError
        A file is not an ONNX export of a width-``width`` UNet2D, or ``alpha`` is outside [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha {alpha} is outside [0, 1]")
    models = []
    for path in (start, tuned):
        model = UNet2D(width=width)
        load_onnx_weights(model, path)
        models.append(model.state_dict())
    first, second = models
    blended = {k: (1.0 - alpha) * v + alpha * second[k] if v.is_floating_point() else v for k, v in first.items()}
    model = UNet2D(width=width)
    model.load_state_dict(blended)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m b12brain.train.blend", description=__doc__.split("\n\n")[0])
    p.add_argument("start", type=Path, help="ONNX the fine-tuning started from (its --init)")
    p.add_argument("tuned", type=Path, help="ONNX the fine-tuning exported")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--alpha", type=float, default=ALPHA, help="share of the fine-tuned weights (default %(default)s)")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--val-phantoms", type=int, default=len(VALIDATION_PHANTOMS), help="validation phantoms used (the first N)")
    p.add_argument("--name", default="b12brain_wmh_unet2d")
    args = p.parse_args(argv)
    for path in (args.start, args.tuned):
        if not path.is_file():
            p.error(f"{path}: not found; give an ONNX export")
    try:
        sources = {"start": _record(args.start), "tuned": _record(args.tuned)}
        model = blend_onnx(args.start, args.tuned, alpha=args.alpha, width=args.width)
    except ValueError as err:
        p.error(str(err))
    scans = validation_scans(VALIDATION_PHANTOMS[: args.val_phantoms])
    threshold, dice = tune_threshold(model, scans, torch.device("cpu"))
    meta = {
        "threshold": threshold,  # read by segment.learned
        "dice_by_threshold": dice,
        "blend": {"alpha": args.alpha, **sources},
        "best_val_dice": dice[threshold],
    }
    exported = export_onnx(model, args.out, args.name, metadata=meta)
    print(f"exported {exported.onnx_path} (sha256 {exported.sha256[:12]}...): alpha {args.alpha}, "
          f"threshold {threshold}, validation Dice {dice[threshold]:.4f}")  # fmt: skip
    return 0


def _record(path: Path) -> dict[str, Any]:
    """A model file, its SHA-256 and its training record (the JSON sidecar, when there is one).

    Raises
    ------
    ValueError
        The sidecar is there but is not readable JSON.
    """
    sidecar = threshold_path(path)
    try:
        training = json.loads(sidecar.read_text()) if sidecar.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{sidecar}: not a readable JSON training record ({err}); fix or remove it") from None
    return {"file": str(path), "sha256": file_sha256(path), "training": training}


if __name__ == "__main__":
    sys.exit(main())
