"""What a T1 costs a run: ``b12brain run`` on a clinical FLAIR with and without its T1.

Usage::

    python benchmarks/t1_cost.py [--repeats 3] [--segmenter learned|classical]

Input: a 256×256×20 phantom FLAIR (0.9×0.9×7 mm) and its T1 on the same grid, written as
NIfTI. Each run is a fresh ``b12brain run`` process pinned to 2 cores (thread pools capped at 2),
the two kinds alternating. Baseline: the run without a T1, timed in the same session. Prints the
median wall time of each, their ratio, and the median time of each pipeline stage (the T1 is
checked in the scan-check stage; it is no longer registered).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset  # noqa: E402
from _phantoms import clinical_flair_and_t1, write  # noqa: E402

BIN = Path(sys.executable).with_name("b12brain")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--segmenter", default="learned")
    args = parser.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2",
               ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="2")
    pin = ["taskset", "-c", CORES] if has_taskset() else []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flair, t1 = clinical_flair_and_t1(seed=0)
        paths = {"flair": write(flair, work / "flair.nii.gz"), "t1": write(t1, work / "t1.nii.gz")}
        kinds = ("without T1 (baseline)", "with T1")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        stages: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        for repeat in range(args.repeats):
            for kind, extra in zip(kinds, ([], ["--t1", str(paths["t1"])]), strict=True):
                out = work / f"out-{repeat}-{len(extra)}"
                command = [str(BIN), "run", "--flair", str(paths["flair"]), *extra, "--out", str(out),
                           "--segmenter", args.segmenter, "--quiet"]
                start = time.perf_counter()
                subprocess.run(pin + command, check=True, env=env, stdout=subprocess.DEVNULL)
                times[kind].append(time.perf_counter() - start)
                stages[kind].append(json.loads((out / "summary.json").read_text())["seconds_by_stage"])
    base = statistics.median(times["without T1 (baseline)"])
    cores = f"pinned to cores {CORES}" if pin else "not pinned (no taskset)"
    print(f"256x256x20 clinical FLAIR, segmenter {args.segmenter}, median of {args.repeats} runs, {cores}")
    names = list(dict.fromkeys(name for runs in stages.values() for run in runs for name in run))
    print("| run | wall s | ratio to baseline | " + " | ".join(f"{n} s" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for kind in kinds:
        median = statistics.median(times[kind])
        cells = [f"{statistics.median(run.get(n, 0.0) for run in stages[kind]):.2f}" for n in names]
        print(f"| {kind} | {median:.2f} | {median / base:.3f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
