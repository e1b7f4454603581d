"""Speed-up of the participant level on Dask: the same phantom cohort on 1 and on 2 local workers.

Usage::

    python benchmarks/cohort_engine.py [--subjects 20] [--repeats 1] [--segmenter classical]

Makes ``--subjects`` subjects of one phantom FLAIR (128 x 128 x 16 voxels, 1.8 x 1.8 x 6 mm,
moderate lesion load; the test phantom of tests/cohort) and runs the participant level into a
fresh output folder on a local cluster of 1 worker (the baseline), then of 2 workers, one
thread per worker, the process pinned to cores 0 and 1. Prints per cluster the median wall
seconds of ``--repeats`` runs (cluster start included), the seconds per scan and the speed-up
over 1 worker, with the load average of the machine before and after (the speed-up needs two
free cores). Acceptance: 2 workers at least 1.6 times as fast as 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from b12brain.cohort.bids_index import index_bids
from b12brain.cohort.engine import ClusterOptions, run_scans
from b12brain.io import save_nifti
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig


def make_cohort(root: Path, subjects: int) -> None:
    flair = make_phantom(PhantomConfig(seed=1, lesion_load="moderate", slice_mm=6.0)).flair
    top = flair.shape[2] - 16
    data = np.ascontiguousarray(flair.data[::2, ::2, top:])
    affine = flair.affine @ np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 1, top], [0, 0, 0, 1]], dtype=float)
    first = root / "sub-000" / "anat" / "sub-000_FLAIR.nii.gz"
    first.parent.mkdir(parents=True)
    save_nifti(data, affine, first)
    for i in range(1, subjects):
        anat = root / f"sub-{i:03d}" / "anat"
        anat.mkdir(parents=True)
        shutil.copyfile(first, anat / f"sub-{i:03d}_FLAIR.nii.gz")
    (root / "dataset_description.json").write_text('{"Name": "phantoms", "BIDSVersion": "1.10.0"}')


def run_once(root: Path, out: Path, workers: int, segmenter: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    index = index_bids(root)
    start = time.perf_counter()
    outcomes = run_scans(index.jobs, out, PipelineConfig(segmenter=segmenter),
                         ClusterOptions(workers=workers, threads_per_worker=1), sources={}, stream=None)
    seconds = time.perf_counter() - start
    failed = [o for o in outcomes if o.status != "ok"]
    if failed:
        sys.exit(f"{len(failed)} scans failed, e.g. {failed[0].key}: {failed[0].error}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--segmenter", default="classical")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {0, 1})  # the workers inherit it
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "ds", Path(tmp) / "out"
        make_cohort(root, args.subjects)
        load_before = os.getloadavg()[0]
        rows = {}
        for workers in (1, 2):
            rows[workers] = statistics.median(run_once(root, out, workers, args.segmenter) for _ in range(args.repeats))
        load_after = os.getloadavg()[0]
    print(f"{args.subjects} phantom scans, {args.segmenter} segmenter, one thread per worker, median of "
          f"{args.repeats} runs; load average (1 min) {load_before:.1f} before, {load_after:.1f} after, "
          f"on {os.cpu_count()} cores")
    print(f"{'workers':>7s} {'wall s':>8s} {'s/scan':>7s} {'speed-up':>9s}")
    for workers, seconds in rows.items():
        print(f"{workers:7d} {seconds:8.1f} {seconds / args.subjects:7.2f} {rows[1] / seconds:9.2f}")


if __name__ == "__main__":
    main()
