"""Speed of reading and interpreting a million random lab panels (2 CPU cores).

Usage::

    python benchmarks/labs_cohort.py [--rows 1000000] [--repeats 3] [--seed 0]

The panels are random but plausible (seeded numpy): every marker is drawn around a typical
value, given in a random accepted unit and spelling (pmol/L, pg/mL, ng/L; µmol/L, umol/l,
nmol/L; g/L, g/dL ...), 10-40% of each marker and of the other fields missing. The table is a
pandas DataFrame with one value column and one ``<marker>_unit`` column per marker.

Two tables are printed, each the median of ``--repeats`` runs with a 100,000-row baseline
from the same generator and the ratio to it:

1. ``interpret_cohort`` on the DataFrame (validation + rules). Goal: <= 10 s for 1M rows.
2. ``read_cohort`` of the same panels written as CSV files: as pandas writes them (UTF-8,
   comma) and as a European Excel export (Windows-1252, semicolon, decimal comma), wall-clock
   and CPU seconds (CPU time does not count waiting for a shared machine). Goal: <= 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Cap thread pools at 2 before numpy loads, as on the 2-core target machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np
import pandas as pd

from b12brain.labs import interpret_cohort, read_cohort
from b12brain.labs.units import MARKER_SPECS

# marker -> (median canonical value, log-normal sigma, unit spellings to draw from, fraction missing)
_MARKERS: dict[str, tuple[float, float, tuple[str, ...], float]] = {
    "b12": (280.0, 0.5, ("pmol/L", "pg/mL", "ng/L", "pg/ml", "PMOL/L"), 0.1),
    "holotc": (55.0, 0.6, ("pmol/L", "pmol/l"), 0.3),
    "mma": (0.25, 0.6, ("µmol/L", "umol/L", "μmol/l", "nmol/L"), 0.3),
    "homocysteine": (12.0, 0.4, ("µmol/L", "umol/l"), 0.3),
    "folate": (20.0, 0.5, ("nmol/L", "ng/mL", "ug/L"), 0.4),
    "egfr": (80.0, 0.3, ("mL/min/1.73m2", "mL/min/1.73 m²"), 0.3),
    "mcv": (92.0, 0.08, ("fL", "fl"), 0.3),
    "haemoglobin": (135.0, 0.12, ("g/L", "g/dL", "mmol/L"), 0.3),
}


def make_panels(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` random plausible panels as a DataFrame (the layout ``read_cohort`` accepts)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {"id": np.char.add("P", np.arange(n).astype(str)).astype(object)}
    for marker, (median, sigma, spellings, missing) in _MARKERS.items():
        spec = MARKER_SPECS[marker]
        lo, hi = spec.plausible
        canonical = np.clip(median * np.exp(sigma * rng.standard_normal(n)), lo * 1.5, hi / 1.5)
        pick = rng.integers(0, len(spellings), n)
        factors = np.array([spec.units[_unit(marker, s)] for s in spellings])
        values = np.round(canonical / factors[pick], 3)
        values[rng.random(n) < missing] = np.nan
        data[marker] = values
        data[f"{marker}_unit"] = np.array(spellings, dtype=object)[pick]
    data["age"] = np.where(rng.random(n) < 0.1, np.nan, np.round(rng.uniform(18, 95, n)))
    sex = rng.integers(0, 2, n)
    data["sex"] = np.array(["female", "male"], dtype=object)[sex]
    data["pregnant"] = (sex == 0) & (rng.random(n) < 0.03)
    data["anti_if_antibody"] = _choice(rng, n, ("positive", "negative", "not tested", None), (0.05, 0.15, 0.3, 0.5))
    data["diet"] = _choice(rng, n, ("omnivore", "vegetarian", "vegan", "low animal food", None), (0.5, 0.1, 0.05, 0.05, 0.3))
    data["gastric_surgery"] = _choice(rng, n, ("none", "gastrectomy", "bariatric", "ileal resection", None), (0.6, 0.02, 0.03, 0.01, 0.34))
    data["conditions"] = _choice(rng, n, ("", "hiv", "coeliac disease;type 1 diabetes", "pernicious anaemia", "myeloma"),
                                 (0.8, 0.05, 0.05, 0.05, 0.05))
    for field, share in (("metformin_years", 0.15), ("ppi_years", 0.2), ("h2_blocker_years", 0.05)):
        data[field] = np.where(rng.random(n) < share, np.round(rng.uniform(0, 15, n), 1), np.nan)
    for field in ("colchicine", "nitrous_oxide", "neurological_symptoms", "combined_oral_contraceptive"):
        data[field] = rng.random(n) < 0.05
    return pd.DataFrame(data)


def _unit(marker: str, spelling: str) -> str:
    from b12brain.labs.units import find_unit

    unit = find_unit(marker, spelling)
    assert unit is not None, spelling
    return unit


def _choice(rng: np.random.Generator, n: int, options: tuple[str | None, ...], p: tuple[float, ...]) -> np.ndarray:  # type: ignore[type-arg]
    return np.array(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def _median_seconds(frame: pd.DataFrame, repeats: int) -> tuple[float, float, int, int]:
    """Median wall-clock and CPU seconds of ``interpret_cohort(frame)``, good and rejected rows."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = interpret_cohort(frame)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), len(result.table), len(result.errors)


def _median_read(path: Path, repeats: int) -> tuple[float, float, int]:
    """Median wall-clock and CPU seconds of ``read_cohort(path)``, and the rows read."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        cohort = read_cohort(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), len(cohort.columns)


def _write_exports(frame: pd.DataFrame, folder: Path, name: str) -> dict[str, Path]:
    """The panels as pandas writes a CSV, and as a European Excel export."""
    plain = folder / f"{name}-utf8-comma.csv"
    frame.to_csv(plain, index=False)
    european = folder / f"{name}-cp1252-semicolon.csv"
    units = [c for c in frame.columns if c.endswith("_unit")]
    frame.assign(**{c: frame[c].str.replace("μ", "µ") for c in units}).to_csv(
        european, index=False, sep=";", decimal=",", encoding="cp1252")
    return {"UTF-8, comma": plain, "cp1252, semicolon, decimal comma": european}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 2:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    start = time.perf_counter()
    frame = make_panels(args.rows, args.seed)
    build_s = time.perf_counter() - start
    baseline = make_panels(args.baseline_rows, args.seed + 1)
    base_s, base_cpu, base_ok, base_bad = _median_seconds(baseline, args.repeats)
    full_s, full_cpu, full_ok, full_bad = _median_seconds(frame, args.repeats)

    print(f"interpret_cohort on random panels, median of {args.repeats}, {cores} cores, seed {args.seed}")
    print(f"{'panels':>10s} {'build s':>8s} {'wall s':>7s} {'CPU s':>6s} {'CPU x base':>10s} {'panels/CPU s':>12s} {'good':>9s} {'rejected':>9s}")
    print(f"{args.baseline_rows:10d} {'':>8s} {base_s:7.2f} {base_cpu:6.2f} {1.0:10.1f} {args.baseline_rows / base_cpu:12.0f} {base_ok:9d} {base_bad:9d}")
    print(f"{args.rows:10d} {build_s:8.2f} {full_s:7.2f} {full_cpu:6.2f} {full_cpu / base_cpu:10.1f} {args.rows / full_cpu:12.0f} {full_ok:9d} {full_bad:9d}")

    print(f"\nread_cohort of the panels as CSV files, median of {args.repeats}, {cores} cores")
    print(f"{'file':>34s} {'panels':>10s} {'MB':>6s} {'wall s':>7s} {'CPU s':>6s} {'CPU x base':>10s} {'read':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        small = _write_exports(baseline, Path(tmp), "baseline")
        large = _write_exports(frame, Path(tmp), "full")
        for kind in small:
            base_wall, base_cpu, base_read = _median_read(small[kind], args.repeats)
            wall, cpu, read = _median_read(large[kind], args.repeats)
            for n, path, w, c, r in ((args.baseline_rows, small[kind], base_wall, base_cpu, base_read),
                                     (args.rows, large[kind], wall, cpu, read)):
                size_mb = path.stat().st_size / 1e6
                print(f"{kind:>34s} {n:10d} {size_mb:6.0f} {w:7.2f} {c:6.2f} {c / base_cpu:10.1f} {r:9d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
