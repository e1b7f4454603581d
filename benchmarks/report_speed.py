"""Time that writing the report (report.html + report.pdf) adds to a ``b12brain run`` (2 CPU cores).

Usage::

    python benchmarks/report_speed.py [--repeats 5] [--research]

Makes the run folders once (``b12brain run --segmenter classical`` with the example labs and
answers) on a clinical 256×256×20 FLAIR (0.9×0.9×6 mm) and, with ``--research``, a 182×218×182
1 mm FLAIR. Then, per repeat, a fresh process pinned to 2 cores (thread pools capped at 2)
reads the run's FLAIR and label images (which a run already holds in memory) and imports
matplotlib (which a run has loaded for its QC image), starts the clock,
imports the report code (Jinja2, WeasyPrint: a run does not load them otherwise), renders
both files and stops the clock: the time a run spends on its report. Prints the median, the
minimum and the maximum of the repeats per input.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset  # noqa: E402
from _phantoms import clinical_scans, research_flair, write  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).with_name("b12brain")
_TIMED = """
import sys, tempfile, time
from pathlib import Path
import numpy as np, nibabel as nib
from b12brain.followup.register import load_checked_flair
from b12brain.followup.visits import read_visit
from datetime import date
run = Path(sys.argv[1])
flair = load_checked_flair(read_visit(run, visit_date=date.today()))
labels = np.asarray(nib.load(run / "lesion_labels.nii.gz").dataobj)
caps = np.asarray(nib.load(run / "caps_lining_mask.nii.gz").dataobj) > 0
import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot  # a run has drawn its QC image already
start = time.perf_counter()
from b12brain.report.build import LesionImages, write_report_files
with tempfile.TemporaryDirectory() as out:
    write_report_files(run, flair, LesionImages(labels, caps), Path(out))
print(time.perf_counter() - start)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--research", action="store_true", help="also a 1 mm research FLAIR (slower to set up)")
    args = parser.parse_args(argv)
    pin = ["taskset", "-c", CORES] if has_taskset() else []
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2",
               MKL_NUM_THREADS="2")
    examples = REPO / "examples"
    with tempfile.TemporaryDirectory(prefix="b12brain-report-speed-") as tmp:
        work = Path(tmp)
        flairs = {"clinical 256x256x20 (6 mm)": clinical_scans(seed=0)[0]}
        if args.research:
            flairs["research 182x218x182 (1 mm)"] = research_flair(seed=0)
        rows = []
        for n, (name, volume) in enumerate(flairs.items()):
            flair = write(volume, work / f"flair{n}.nii.gz")
            run = work / f"run{n}"
            subprocess.run([*pin, str(BIN), "run", "--flair", str(flair), "--out", str(run), "--segmenter",
                            "classical", "--labs", str(examples / "panel.json"), "--symptoms",
                            str(examples / "answers.json"), "--quiet"], check=True, env=env, stdout=subprocess.DEVNULL)
            seconds = [float(subprocess.run([*pin, sys.executable, "-c", _TIMED, str(run)], check=True, env=env,
                                            stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1])
                       for _ in range(args.repeats)]
            rows.append((name, statistics.median(seconds), min(seconds), max(seconds)))
    print(f"cores: {CORES if pin else 'all (taskset unavailable)'}; repeats: {args.repeats}")
    print(f"| input | report time, median (s) | min (s) | max (s) |\n|---|---|---|---|")
    for name, median, low, high in rows:
        print(f"| {name} | {median:.2f} | {low:.2f} | {high:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
