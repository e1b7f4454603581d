"""Speed and peak memory of the whole ``b12brain run`` on 2 CPU cores.

Usage::

    python benchmarks/run_speed.py [--repeats 3] [--segmenter learned|classical]

Inputs are phantoms: a clinical 256×256×20 FLAIR (0.9×0.9×7 mm) and a 182×218×182 1 mm FLAIR.
Each ``b12brain run`` is a fresh process (as a user runs it), pinned to 2 cores with thread
pools capped at 2. The baseline, timed in the same run, is the I/O floor: a process that only
reads the FLAIR and writes it back with nibabel. Prints one row per input with the median of
the repeats, the ratio to the baseline, the median time of each pipeline stage and the peak
resident memory.
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
from _phantoms import clinical_flair, research_flair, write  # noqa: E402

BIN = Path(sys.executable).with_name("b12brain")
_IO_FLOOR = "import nibabel as nib, sys; im = nib.load(sys.argv[1]); nib.save(nib.Nifti1Image(im.get_fdata(), im.affine), sys.argv[2])"


_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
    "stderr=sys.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--segmenter", default="learned")
    args = parser.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2",
               ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="2")
    pin = ["taskset", "-c", CORES] if has_taskset() else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = {
            "clinical 256x256x20 (7 mm)": write(clinical_flair(seed=0), work / "clinical.nii.gz"),
            "research 182x218x182 (1 mm)": write(research_flair(seed=0), work / "research.nii.gz"),
        }
        for name, flair in inputs.items():
            floor = [_timed(pin + [sys.executable, "-c", _IO_FLOOR, str(flair), str(work / "copy.nii.gz")], env)[0]
                     for _ in range(args.repeats)]
            runs, stages, peaks = [], [], []
            for i in range(args.repeats):
                out = work / f"out-{flair.name.split('.')[0]}-{i}"
                seconds, peak_mb = _timed(pin + [str(BIN), "run", "--quiet", "--flair", str(flair), "--out", str(out),
                                                 "--segmenter", args.segmenter], env)
                runs.append(seconds)
                peaks.append(peak_mb)
                stages.append(json.loads((out / "summary.json").read_text())["seconds_by_stage"])
            stage_medians = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
            rows.append((name, statistics.median(floor), statistics.median(runs), max(peaks), stage_medians))
    print(f"b12brain run, {args.segmenter} segmenter, median of {args.repeats}, cores {CORES if pin else 'all'}")
    print(f"{'input':30s} {'I/O floor s':>11s} {'run s':>7s} {'x floor':>8s} {'peak MB':>8s}  stages (median s)")
    for name, floor_s, run_s, peak, stage_medians in rows:
        stage_text = ", ".join(f"{k.split(' (')[0]} {v:.1f}" for k, v in stage_medians.items())
        print(f"{name:30s} {floor_s:11.2f} {run_s:7.2f} {run_s / floor_s:8.1f} {peak:8.0f}  {stage_text}")
    return 0


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured by a fresh wrapper process so
    that each figure belongs to that command alone."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}\n{done.stderr}")
    seconds = time.perf_counter() - start
    return seconds, int(done.stdout.strip().splitlines()[-1]) / 1024.0


if __name__ == "__main__":
    sys.exit(main())
