"""Where the test suite spends its time: wall and CPU seconds per test, as a pytest plugin.

Wall time depends on what else the machine runs; CPU time (this process and the children it
waited for: Chromium, Orthanc, ``b12brain`` subprocesses) does much less, so two runs made
under different loads are compared by CPU seconds and by each test's share of the total.
Each test's time covers its setup (fixtures it is the first to use), call and teardown.

Record a run (the JSON holds one row per test)::

    PYTHONPATH=src:benchmarks python -m pytest -p suite_times --suite-times=before.json

Compare two records (the slowest ``--top`` tests of either, then the totals)::

    python benchmarks/suite_times.py before.json after.json --top 60
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--suite-times", metavar="JSON", help="write each test's wall and CPU seconds to JSON")


class _Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.start = (time.perf_counter(), _cpu_s())

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        wall, cpu = time.perf_counter(), _cpu_s()
        yield
        self.rows.append({"test": item.nodeid, "wall_s": time.perf_counter() - wall, "cpu_s": _cpu_s() - cpu})
        self._write()  # after every test, so that a run stopped early still tells where it spent its time

    def _write(self) -> None:
        wall, cpu = time.perf_counter() - self.start[0], _cpu_s() - self.start[1]
        record = {"session_wall_s": wall, "session_cpu_s": cpu, "cores": os.cpu_count(),
                  "load_1min": os.getloadavg()[0], "tests": self.rows}
        tmp = self.path.with_name(self.path.name + ".partial")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(self.path)


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--suite-times")
    if target:
        worker = os.environ.get("PYTEST_XDIST_WORKER")  # under pytest-xdist: one record per worker
        path = Path(target) if worker is None else Path(target).with_suffix(f".{worker}.json")
        config.pluginmanager.register(_Recorder(path), "suite_times_recorder")


def _load(path: str) -> dict[str, Any]:
    """One record, or the records of an xdist run's workers (``X.gw0.json``, ``X.gw1.json``... for ``X.json``)."""
    given = Path(path)
    parts = [given] if given.exists() else sorted(given.parent.glob(f"{given.stem}.gw*.json"))
    if not parts:
        raise SystemExit(f"{path}: no such record (nor {given.stem}.gw*.json beside it)")
    records = [json.loads(part.read_text()) for part in parts]
    tests = [row for record in records for row in record["tests"]]
    return {"tests": tests, "by_test": {row["test"]: row for row in tests},
            "worker_cpu_s": [sum(row["cpu_s"] for row in record["tests"]) for record in records],
            "session_wall_s": max(record["session_wall_s"] for record in records),
            "load_1min": max(record["load_1min"] for record in records), "cores": records[0]["cores"]}


def main() -> None:
    """Print the slowest tests of two records side by side (CPU s, share of the total, wall s)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?")
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    runs = [_load(args.before)] + ([_load(args.after)] if args.after else [])
    totals = [sum(row["cpu_s"] for row in run["tests"]) for run in runs]
    slowest: dict[str, float] = {}
    for run in runs:
        for row in run["tests"]:
            slowest[row["test"]] = max(slowest.get(row["test"], 0.0), row["cpu_s"])
    names = sorted(slowest, key=slowest.__getitem__, reverse=True)[: args.top]
    header = "  ".join(f"{'cpu_s':>7} {'share':>6} {'wall_s':>7}" for _ in runs)
    print(f"{header}  test")
    for name in names:
        cells = []
        for run, total in zip(runs, totals):
            row = run["by_test"].get(name)
            cells.append(f"{row['cpu_s']:7.1f} {100 * row['cpu_s'] / total:5.1f}% {row['wall_s']:7.1f}" if row
                         else f"{'-':>7} {'-':>6} {'-':>7}")
        print("  ".join(cells), name)
    for label, run, total in zip(("before", "after"), runs, totals):
        workers = run["worker_cpu_s"]
        print(f"{label}: {len(run['tests'])} tests, CPU {total:.0f} s in tests"
              + (f" ({' + '.join(f'{w:.0f}' for w in workers)} s on {len(workers)} workers)" if len(workers) > 1 else "")
              + f", wall {run['session_wall_s']:.0f} s (load up to {run['load_1min']:.1f}, {run['cores']} cores)")
    if len(runs) == 2:
        print(f"after/before CPU in tests: {totals[1] / totals[0]:.2f}; busiest worker after / all CPU before: "
              f"{max(runs[1]['worker_cpu_s']) / totals[0]:.2f}")


if __name__ == "__main__":
    main()
