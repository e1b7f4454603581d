"""Speed of the cohort statistics on a simulated cohort of 10,000 subjects (2 CPU cores).

Usage::

    python benchmarks/cohort_stats_speed.py [--n 10000] [--repeats 3] [--seed 0]

The cohort comes from :func:`b12brain.cohort.simulate.simulate_cohort` (5 % of lab values
missing), written as TSV. Timed, median of ``--repeats`` runs, with a 1,000-subject baseline
in the same run and the ratio to it:

1. *statistics*: :func:`~b12brain.cohort.stats_table.prepare_cohort` and
   :func:`~b12brain.cohort.stats.cohort_statistics` on the table (5 markers x 4 outcomes x
   3 adjustment rungs x per SD, quintiles, trend: 180 models). Goal: <= 10 s for 10,000 subjects.
2. *whole command*: ``b12brain cohort stats`` as a library call (read TSV, statistics, figures,
   HTML, files), for information.

Wall-clock and CPU seconds are printed (CPU time does not count waiting on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import pandas as pd

from b12brain.cohort.simulate import SimulationConfig, simulate_cohort
from b12brain.cohort.stats import cohort_statistics
from b12brain.cohort.stats import run_cohort_stats
from b12brain.cohort.stats_table import prepare_cohort


def _timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    print(f"{'step':<16}{'subjects':>10}{'wall s':>9}{'cpu s':>9}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, run in (("statistics", _statistics), ("whole command", _command)):
            base = None
            for n in (1_000, args.n):
                table = simulate_cohort(SimulationConfig(n=n, seed=args.seed, missing=0.05)).table
                path = Path(tmp) / f"cohort_{n}.tsv"
                table.to_csv(path, sep="\t", index=False)
                wall, cpu = _timed(lambda: run(table, path, Path(tmp)), args.repeats)
                base = base or wall
                goal = "  goal <= 10 s: " + ("met" if wall <= 10.0 else "NOT met") if label == "statistics" and n == args.n else ""
                print(f"{label:<16}{n:>10,}{wall:>9.2f}{cpu:>9.2f}{wall / base:>8.2f}{goal}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def _statistics(table: pd.DataFrame, path: Path, tmp: Path) -> object:
    return cohort_statistics(prepare_cohort(table))


_runs = iter(range(1_000_000))


def _command(table: pd.DataFrame, path: Path, tmp: Path) -> object:
    return run_cohort_stats(path, tmp / f"out{next(_runs)}")


if __name__ == "__main__":
    main()
