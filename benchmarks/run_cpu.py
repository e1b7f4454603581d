"""CPU seconds of the main thread in each phase of ``b12brain run``, this tree against a baseline revision.

Usage::

    python benchmarks/run_cpu.py [--baseline REV] [--repeats 3] [--input clinical|research]

Wall-clock time on a shared machine counts the waits for a core that other jobs hold; the CPU
time of the thread that does the run's serial work does not, so it shows where a run's time
goes even under load. The main thread's CPU is close to a run's wall-clock time on an idle
machine: its work is serial, and work on other threads (N4's and onnxruntime's workers, the
warm-up thread of ``b12brain run``) overlaps it. Each repeat is a fresh process pinned to 2
cores, this tree and the baseline (``git archive`` of REV) alternating. Prints, per tree, the
median of the repeats for: start-up (imports, reading the scan), the pipeline, the outputs
(QC image, report, files), the main thread in all, and the whole process (all threads).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset  # noqa: E402
from _phantoms import clinical_scans, research_flair, write  # noqa: E402
from run_speed import _env, _extract  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
_PHASES = ("start-up", "pipeline", "outputs", "main thread", "process")
_TIMED = """
import json, sys, time
import b12brain.outputs, b12brain.pipeline
from b12brain.cli.main import main

spent = {}

def timed(module, name, phase):
    function = getattr(module, name)
    def wrapper(*args, **kwargs):
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[phase] = time.thread_time() - start
    setattr(module, name, wrapper)

timed(b12brain.pipeline, "run_pipeline", "pipeline")
timed(b12brain.outputs, "write_outputs", "outputs")
code = main(sys.argv[1:])
spent["main thread"] = time.thread_time()
spent["start-up"] = spent["main thread"] - spent["pipeline"] - spent["outputs"]
spent["process"] = time.process_time()
print(json.dumps(spent))
sys.exit(code)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="3edbc92", metavar="REV", help="git revision (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input", choices=("clinical", "research"), default="clinical")
    args = parser.parse_args(argv)
    pin = ["taskset", "-c", CORES] if has_taskset() else []
    with tempfile.TemporaryDirectory(prefix="b12brain-run-cpu-") as tmp:
        work = Path(tmp)
        volume = clinical_scans(seed=0)[0] if args.input == "clinical" else research_flair(seed=0)
        flair = write(volume, work / "flair.nii.gz")
        trees = {"baseline": _extract(args.baseline, work / "baseline"), "current": REPO / "src"}
        envs = {tree: _env(src) for tree, src in trees.items()}
        spent: dict[str, list[dict[str, float]]] = {tree: [] for tree in trees}
        for i in range(args.repeats):
            for tree, src in trees.items():
                command = [*pin, sys.executable, "-c", _TIMED, "run", "--quiet", "--flair", str(flair),
                           "--out", str(work / f"out-{tree}-{i}")]
                done = subprocess.run(command, env=envs[tree], capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"run_cpu: {tree} run failed:\n{done.stderr}")
                spent[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"  {tree:8s} run {i + 1}: main thread {spent[tree][-1]['main thread']:.2f} s CPU",
                      file=sys.stderr, flush=True)
    print(f"b12brain run, {args.input} FLAIR, learned segmenter, CPU seconds (median of {args.repeats}), "
          f"cores {CORES if pin else 'all'}; baseline {args.baseline}")
    print(f"| phase | baseline {args.baseline} | current | current / baseline |\n|---|---|---|---|")
    for phase in _PHASES:
        base, cur = (statistics.median(s[phase] for s in spent[tree]) for tree in trees)
        print(f"| {phase} | {base:.2f} | {cur:.2f} | {cur / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
