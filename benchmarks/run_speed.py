"""Speed and peak memory of the whole ``b12brain run``, this tree against a baseline revision (2 CPU cores).

Usage::

    python benchmarks/run_speed.py [--baseline REV] [--repeats 3] [--segmenter learned|classical]

Inputs are phantoms: a clinical 256×256×20 FLAIR (0.9×0.9×6 mm), run without and with the T1
on its grid, and a 182×218×182 1 mm FLAIR. The baseline is the package source of git revision
REV (default c40daf1), extracted with ``git archive`` into a temporary folder and removed
afterwards; both trees run with the same Python environment, each with ``PYTHONPATH`` on its
own ``src``. Each ``b12brain run`` is a fresh process (as a user runs it), pinned to 2 cores
with thread pools capped at 2; the inputs and the baseline and current runs alternate within
each repeat, so that a change in machine load hits them all. Prints, per input, the median of the repeats for each tree, the ratio
current/baseline and the peak resident memory, then the ratio with-T1/without-T1 of each
tree, and the median time of each pipeline stage of the current tree.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset  # noqa: E402
from _phantoms import clinical_scans, research_flair, write  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).with_name("b12brain")
DEFAULT_BASELINE = "c40daf1"

_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
    "stderr=sys.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
_WITHOUT_T1, _WITH_T1, _RESEARCH = "clinical 256x256x20 (6 mm)", "clinical + T1", "research 182x218x182 (1 mm)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="REV", help="git revision (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--segmenter", default="learned")
    args = parser.parse_args(argv)
    pin = ["taskset", "-c", CORES] if has_taskset() else []
    with tempfile.TemporaryDirectory(prefix="b12brain-run-speed-") as tmp:
        work = Path(tmp)
        trees = {"baseline": _extract(args.baseline, work / "baseline"), "current": REPO / "src"}
        envs = {name: _env(src) for name, src in trees.items()}
        flair, t1 = clinical_scans(seed=0)
        inputs = {
            _WITHOUT_T1: [str(write(flair, work / "clinical.nii.gz"))],
            _WITH_T1: [str(work / "clinical.nii.gz"), str(write(t1, work / "clinical_t1.nii.gz"))],
            _RESEARCH: [str(write(research_flair(seed=0), work / "research.nii.gz"))],
        }
        seconds: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], list[float]] = {}
        stages: dict[str, list[dict[str, float]]] = {}
        for i in range(args.repeats):
            # Inputs and trees alternate within each repeat, so that a change in load hits all of them.
            for k, (name, scans) in enumerate(inputs.items()):
                for tree in trees:
                    out = work / f"out-{k}-{i}-{tree}"
                    command = pin + [str(BIN), "run", "--quiet", "--flair", scans[0], "--out", str(out),
                                     "--segmenter", args.segmenter]
                    if len(scans) > 1:
                        command += ["--t1", scans[1]]
                    wall, peak = _timed(command, envs[tree])
                    seconds.setdefault((name, tree), []).append(wall)
                    peaks.setdefault((name, tree), []).append(peak)
                    if tree == "current":
                        stages.setdefault(name, []).append(json.loads((out / "summary.json").read_text())["seconds_by_stage"])
                    print(f"  {name:28s} {tree:8s} run {i + 1}: {wall:6.1f} s", file=sys.stderr, flush=True)
    _print_table(args, pin, seconds, peaks, stages, list(inputs))
    return 0


def _extract(revision: str, folder: Path) -> Path:
    """The ``src`` folder of ``revision``, written under ``folder`` (nothing in the repository changes)."""
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"run_speed: cannot read revision {revision!r}: {err.stderr.decode().strip()}") from err
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def _env(src: Path) -> dict[str, str]:
    """Environment that runs the package in ``src`` on 2 threads; checked before any timing."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2",
               ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="2")
    found = subprocess.run([sys.executable, "-c", "import b12brain; print(b12brain.__file__)"], env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"run_speed: PYTHONPATH={src} still imports b12brain from {found}")
    return env


def _print_table(
    args: argparse.Namespace,
    pin: list[str],
    seconds: dict[tuple[str, str], list[float]],
    peaks: dict[tuple[str, str], list[float]],
    stages: dict[str, list[dict[str, float]]],
    names: list[str],
) -> None:
    median = {key: statistics.median(values) for key, values in seconds.items()}
    print(f"b12brain run, {args.segmenter} segmenter, median of {args.repeats} runs, cores {CORES if pin else 'all'}; "
          f"baseline {args.baseline}, current {_describe_head()}")
    print(f"{'input':30s} {'baseline s':>10s} {'current s':>10s} {'cur/base':>9s} {'peak MB base':>13s} {'peak MB cur':>12s}")
    for name in names:
        base, cur = median[(name, "baseline")], median[(name, "current")]
        print(f"{name:30s} {base:10.2f} {cur:10.2f} {cur / base:9.2f} "
              f"{max(peaks[(name, 'baseline')]):13.0f} {max(peaks[(name, 'current')]):12.0f}")
    print(f"{'with-T1 / without-T1':30s} {median[(_WITH_T1, 'baseline')] / median[(_WITHOUT_T1, 'baseline')]:10.2f} "
          f"{median[(_WITH_T1, 'current')] / median[(_WITHOUT_T1, 'current')]:10.2f}")
    print("stages of the current tree (median s):")
    for name in names:
        keys = stages[name][0]
        text = ", ".join(f"{k.split(' (')[0]} {statistics.median(s[k] for s in stages[name]):.1f}" for k in keys)
        print(f"  {name:28s} {text}")


def _describe_head() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return done.stdout.strip() or "working tree"


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
