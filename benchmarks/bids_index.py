"""Time to index a large BIDS dataset: b12brain's index (bids2table) against PyBIDS.

Usage::

    python benchmarks/bids_index.py [--subjects 10000] [--repeats 3] [--pybids-subjects 1000]

Makes ``--subjects`` subjects of empty files in the BIDS layout (``sub-N/anat/sub-N_FLAIR.nii.gz``
and ``_T1w.nii.gz``, every tenth subject with two sessions) in a temporary folder, then prints
one row per indexer: the median wall and CPU seconds of ``--repeats`` runs (a fresh process
each, so no cache of an earlier run helps; CPU seconds show the cost on a loaded machine) and the ratio to bids2table's
own index of the same folder (the baseline: b12brain's index adds the jobs and the checks of
each subject). PyBIDS (``BIDSLayout(validate=False)``, if installed) runs on the first
``--pybids-subjects`` subjects only; its row extrapolates linearly. Acceptance: b12brain's
index of 10,000 subjects in at most 15 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_TIMED = {
    "bids2table.index_dataset (baseline)": "import bids2table; bids2table.index_dataset(ROOT)",
    "b12brain index_bids": "from b12brain.cohort.bids_index import index_bids; index_bids(ROOT)",
    "pybids BIDSLayout": "import bids; bids.BIDSLayout(ROOT, validate=False)",
}


def make_dataset(root: Path, subjects: int) -> None:
    """Empty files in the BIDS layout; every tenth subject has two sessions."""
    root.mkdir()
    (root / "dataset_description.json").write_text('{"Name": "benchmark", "BIDSVersion": "1.10.0"}')
    lines = ["participant_id\tage"]
    for i in range(subjects):
        label = f"sub-{i:05d}"
        lines.append(f"{label}\t70")
        for session in (("1", "2") if i % 10 == 0 else ("",)):
            folder = root / label / (f"ses-{session}" if session else "") / "anat"
            folder.mkdir(parents=True)
            prefix = label + (f"_ses-{session}" if session else "")
            for suffix in ("FLAIR", "T1w"):
                (folder / f"{prefix}_{suffix}.nii.gz").touch()
    (root / "participants.tsv").write_text("\n".join(lines) + "\n")


def time_in_fresh_process(statement: str, root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``statement`` in a new process."""
    code = (f"import time; ROOT = {str(root)!r}; t, c = time.perf_counter(), time.process_time(); {statement}; "
            "print(time.perf_counter() - t, time.process_time() - c)")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pybids-subjects", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        full, small = Path(tmp) / "full", Path(tmp) / "small"
        start = time.perf_counter()
        make_dataset(full, args.subjects)
        make_dataset(small, min(args.pybids_subjects, args.subjects))
        print(f"made {args.subjects} subjects in {time.perf_counter() - start:.1f} s; median of {args.repeats} runs")
        rows = []
        for name, statement in _TIMED.items():
            is_pybids = name.startswith("pybids")
            if is_pybids and args.pybids_subjects == 0:
                continue
            if is_pybids:
                try:
                    import bids  # noqa: F401
                except ImportError:
                    print(f"{name}: not installed, skipped")
                    continue
            root, n = (small, min(args.pybids_subjects, args.subjects)) if is_pybids else (full, args.subjects)
            runs = [time_in_fresh_process(statement, root) for _ in range(args.repeats)]
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            rows.append((name, n, wall, cpu, wall * args.subjects / n))
    baseline = rows[0][4]
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'indexer':40s} {'subjects':>8s} {'wall s':>7s} {'CPU s':>6s} {'wall s for all':>14s} {'ratio':>6s}")
    for name, n, wall, cpu, extrapolated in rows:
        print(f"{name:40s} {n:8d} {wall:7.2f} {cpu:6.2f} {extrapolated:14.1f} {extrapolated / baseline:6.2f}")


if __name__ == "__main__":
    main()
