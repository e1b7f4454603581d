"""Speed and peak memory of the learned segmenter alone (no preprocessing, no anatomy).

Usage::

    python benchmarks/segment_speed.py [--repeats 3] [--model PATH] [--device cpu|cuda]

Inputs are the phantoms of ``run_speed.py``: a clinical 256×256×20 FLAIR (0.9×0.9×7 mm) and
a 182×218×182 1 mm FLAIR, with their true brain masks. What is timed is what the ``learned``
segmenter does in ``b12brain run``: normalise, cut into model-grid slices, run the network,
map back to the scan's grid.

* ``--device cpu`` (default): ``LearnedSegmenter`` with onnxruntime's CPU provider, in a fresh
  process pinned to 2 cores (thread pools capped at 2); the baseline in the same run is the
  same work with a network that returns its input (the model-grid floor).
* ``--device cuda``: the same network (``UNet2D`` of the model's width, its weights
  irrelevant to speed) through torch on the GPU, float32; needs the ``train`` extra. The
  numpy steps around the network stay on the CPU, as in ``b12brain run``.

Prints one row per input: median seconds of the repeats (after one warm-up), the ratio to the
baseline, slices per second and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset
from _phantoms import clinical_flair, research_flair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the packaged one)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: time one input in this process
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(_time_one(args.one, args.model, args.device, args.repeats)))
        return 0
    rows = []
    for name in ("clinical", "research"):
        rows.append((name, _in_fresh_process(name, args)))
    where = f"onnxruntime CPU, cores {CORES}" if args.device == "cpu" else "torch CUDA float32"
    print(f"learned segmentation alone ({where}), median of {args.repeats} after a warm-up")
    print(f"{'input':30s} {'floor s':>8s} {'segment s':>10s} {'x floor':>8s} {'slices/s':>9s} {'peak MB':>8s}")
    for name, r in rows:
        label = "clinical 256x256x20 (7 mm)" if name == "clinical" else "research 182x218x182 (1 mm)"
        print(f"{label:30s} {r['floor_s']:8.2f} {r['seconds']:10.2f} {r['seconds'] / r['floor_s']:8.1f} "
              f"{r['slices'] / r['seconds']:9.1f} {r['peak_mb']:8.0f}")  # fmt: skip
    return 0


def _in_fresh_process(name: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", name, "--repeats", str(args.repeats), "--device", args.device]
    if args.model is not None:
        command += ["--model", str(args.model)]
    env = dict(os.environ)
    if args.device == "cpu":
        env.update(OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
        if has_taskset():
            command = ["taskset", "-c", CORES, *command]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark failed for {name}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _time_one(name: str, model: Path | None, device: str, repeats: int) -> dict[str, float]:
    from b12brain.preprocess.orient import to_canonical
    from b12brain.segment.slices import from_model_grid, normalise_flair, to_model_grid

    flair = clinical_flair(seed=0) if name == "clinical" else research_flair(seed=0)
    flair, _ = to_canonical(flair)
    brain = normalise_flair(flair.data, np.ones(flair.shape, bool)) > 0.3  # head: the timing does not depend on it
    anatomy = SimpleNamespace(brain=brain, wm=brain.astype(np.float32))

    def floor() -> None:
        stacks, grid = to_model_grid(normalise_flair(flair.data, brain), flair.spacing_mm)
        from_model_grid(stacks[:, 1], grid)

    if device == "cpu":
        from b12brain.segment.learned import LearnedSegmenter

        segmenter = LearnedSegmenter.from_file(model, providers=("CPUExecutionProvider",))

        def work() -> None:
            segmenter.predict(flair, anatomy)  # type: ignore[arg-type]
    else:
        import torch

        from b12brain.train.loop import predict_volume
        from b12brain.train.model import UNet2D

        width = 16
        if model is not None and model.with_suffix(".json").is_file():
            width = json.loads(model.with_suffix(".json").read_text())["train_config"]["width"]
        net = UNet2D(width=width).to("cuda").eval()

        from b12brain.segment.learned import restrict_to_white_matter

        def work() -> None:
            probability = predict_volume(net, flair, brain, torch.device("cuda"), batch=64)
            torch.cuda.synchronize()
            restrict_to_white_matter(probability, anatomy.wm, flair.spacing_mm)

    floor_s = _median_seconds(floor, repeats)
    seconds = _median_seconds(work, repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"floor_s": floor_s, "seconds": seconds, "slices": float(flair.shape[2]), "peak_mb": peak_mb}


def _median_seconds(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up: model load, first allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
