"""Do the cohort statistics' 95 % intervals cover the true effect? (seeded simulated cohorts)

Usage::

    python benchmarks/cohort_stats_coverage.py [--repetitions 500] [--n 500] [--seed 0] [--workers 2]

Each repetition draws a cohort with :func:`b12brain.cohort.simulate.simulate_cohort` (seed
``seed + repetition``; effects per SD of B12: periventricular volume -0.15 in log(1 + mL),
periventricular Fazekas -0.35 in log odds, none on deep volume or deep Fazekas) and runs
:func:`b12brain.cohort.stats.cohort_statistics` on its B12, outcome and covariate columns.
Rung 2 (age, sex, vascular risk factors) is read, the rung that holds every covariate of the
generative model: leaving out a covariate does not bias a linear model when the covariate is
unrelated to B12, but it does shrink a logistic-type model's coefficient (non-collapsibility).

The true effect per SD of a cohort's own B12 is b x SD(cohort) / SD(population) (the analysis
standardises by the cohort's SD). Printed: per outcome, coverage of the 95 % CI and the share
of repetitions with p < 0.05 (the power for a real effect, the false-positive rate for a null one).
Goals: coverage 93-97 % for the linear and the ordinal model; a null effect significant in <= 7 %.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

from b12brain.cohort.simulate import DEFAULT_EFFECTS, SimulationConfig, b12_population_moments, simulate_cohort
from b12brain.cohort.stats import cohort_statistics
from b12brain.cohort.stats_table import prepare_cohort

_COLUMNS = ["participant_id", "age", "sex", "b12", "periventricular_ml", "deep_ml", "fazekas_periventricular",
            "fazekas_deep", "hypertension", "diabetes", "smoking"]
_RUNG = "2: + vascular risk factors"


def one_repetition(args: tuple[int, int]) -> list[tuple[str, float, float, float, float, float]]:
    """(outcome, truth, estimate on the model's scale, CI low, CI high, p) of one cohort."""
    seed, n = args
    table = simulate_cohort(SimulationConfig(n=n, seed=seed)).table[_COLUMNS]
    effects = cohort_statistics(prepare_cohort(table)).effects
    rows = effects[(effects["contrast"] == "per SD") & (effects["adjustment"] == _RUNG)]
    _, sd_population = b12_population_moments()
    out = []
    for row in rows.itertuples():
        truth = DEFAULT_EFFECTS[row.outcome] * row.exposure_sd / sd_population
        est, lo, hi = row.estimate, row.ci_low, row.ci_high
        if row.model.startswith("proportional"):  # odds ratios -> log odds
            est, lo, hi = math.log(est), math.log(lo), math.log(hi)
        out.append((row.outcome, truth, est, lo, hi, row.p_value))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=500)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    jobs = [(args.seed + r, args.n) for r in range(args.repetitions)]
    with ProcessPoolExecutor(args.workers) as pool:
        results = [row for rows in pool.map(one_repetition, jobs, chunksize=5) for row in rows]
    print(f"{args.repetitions} cohorts of {args.n} subjects, seeds {args.seed}-{args.seed + args.repetitions - 1}, "
          f"rung '{_RUNG}', {time.perf_counter() - start:.0f} s")
    print(f"{'outcome':<26}{'model':<20}{'true b/SD':>10}{'mean est':>10}{'coverage %':>12}{'p<0.05 %':>10}  goal")
    for outcome, effect in DEFAULT_EFFECTS.items():
        rows = np.array([r[1:] for r in results if r[0] == outcome], dtype=np.float64)
        truth, est, lo, hi, p = rows.T
        covered = 100.0 * np.mean((lo <= truth) & (truth <= hi))
        significant = 100.0 * np.mean(p < 0.05)
        model = "proportional odds" if outcome.startswith("fazekas") else "linear log(1+mL)"
        goal = "coverage 93-97" + (", p<0.05 <= 7" if effect == 0 else "")
        ok = 93.0 <= covered <= 97.0 and (effect != 0 or significant <= 7.0)
        print(f"{outcome:<26}{model:<20}{effect:>10.3f}{np.mean(est):>10.3f}{covered:>12.1f}{significant:>10.1f}  "
              f"{goal}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
