"""Simulated cohorts with known effects of B12 on lesion burden (test data of the statistics).

The generative model (every draw from ``numpy.random.default_rng(seed)``; docs/cohort-statistics.md):

* age ~ Uniform(60, 90) years; sex male with probability 0.45.
* A latent B12 status s ~ N(0, 1) drives the markers (log-normal, canonical units):
  B12 = 320 exp(0.38 s) pmol/L; holoTC = 65 exp(0.5 (0.8 s + 0.6 e1)) pmol/L;
  MMA = 0.22 exp(0.4 (-0.6 s + 0.8 e2)) µmol/L; folate = 18 exp(0.45 e4) nmol/L;
  homocysteine = 12 exp(0.28 (-0.35 s - 0.35 e4 + 0.87 e3) + 0.01 (age - 75)) µmol/L;
  eGFR = N(95 - 0.8 (age - 60), 12) clipped to 15-130; cB12 from the four markers and age
  (:func:`b12brain.labs.cb12.compute_cb12`). e1-e4 are independent N(0, 1).
* Vascular risk factors: hypertension ~ Bernoulli(expit(0.05 (age - 75))), diabetes
  ~ Bernoulli(0.15), smoking ~ Bernoulli(0.2).
* z = (B12 - mean) / SD with the mean and SD of B12's log-normal distribution (the population's,
  given in ``truth``), so an effect is *per SD of B12*.
* Lesion volumes (mL): log(1 + periventricular) = 2.0 + b_pv z + 0.35 (age - 75)/10 + 0.1 male
  + 0.15 hypertension + 0.1 diabetes + 0.5 e_pv; log(1 + deep) = 1.4 + b_deep z
  + 0.3 (age - 75)/10 + 0.2 hypertension + 0.45 e_deep; the rare draw below 0 (about 1 in 500
  subjects) is set to 0 mL. Juxtacortical and infratentorial volumes are small, log-normal
  and unrelated to B12.
* Fazekas grades from latent variables with standard logistic noise u (the proportional-odds
  model): periventricular = b_fpv z + 0.6 (age - 75)/10 + 0.3 hypertension + u_pv, deep = b_fd z
  + 0.5 (age - 75)/10 + 0.3 hypertension + u_d, cut at -1, 1 and 2.8 into grades 0-3.
  The volume noise shares the grade's logistic draw (e_pv = 0.8 u_pv / (pi / sqrt 3) + 0.6 n,
  n ~ N(0, 1); likewise for deep), so a larger volume goes with a higher grade.
* With ``missing`` > 0 each B12, holoTC, MMA, homocysteine and folate value is removed with that
  probability (cB12 then missing too).

With age, sex and the vascular risk factors as covariates (rung 2 of the statistics), the linear
model on log(1 + mL) and the proportional-odds model hold the generative model's terms (the
linear model's errors are not normal, which its large-sample intervals tolerate; the rare volume
set to 0 is a tiny departure), so their 95 % intervals should cover b in about 95 % of cohorts
(per SD of the cohort's own B12: b x SD in the cohort / SD of the population).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from b12brain.errors import ConfigError
from b12brain.labs.cb12 import compute_cb12

#: The outcomes an effect can be set for, and the default effect per SD of B12: lower B12 with
#: more periventricular burden (the direction de Lau et al. 2009 report); none on deep burden.
DEFAULT_EFFECTS: dict[str, float] = {
    "periventricular_ml": -0.15,  # difference in log(1 + mL) per SD of B12
    "deep_ml": 0.0,
    "fazekas_periventricular": -0.35,  # log odds ratio per SD of B12
    "fazekas_deep": 0.0,
}
_B12_MEDIAN, _B12_LOG_SD = 320.0, 0.38
_FAZEKAS_CUTS = (-1.0, 1.0, 2.8)
_SHARED_NOISE = 0.8
_LOGISTIC_SD = math.pi / math.sqrt(3.0)
MAX_SUBJECTS = 1_000_000
#: Columns of the simulated table, in order (the cohort table contract).
TABLE_COLUMNS: tuple[str, ...] = (
    "participant_id", "session_id", "age", "sex", "b12", "holotc", "mma", "homocysteine", "folate", "egfr", "cb12",
    "periventricular_ml", "deep_ml", "juxtacortical_ml", "infratentorial_ml", "total_lesion_ml", "brain_ml",
    "fazekas_periventricular", "fazekas_deep", "hypertension", "diabetes", "smoking", "qc_flags", "self_check",
)


@dataclass(frozen=True)
class SimulationConfig:
    """A simulated cohort: ``n`` subjects, ``seed``, effects per SD of B12 by outcome
    (:data:`DEFAULT_EFFECTS` for those not given) and the share of B12-marker and folate values ``missing``."""

    n: int = 500
    seed: int = 0
    effects: Mapping[str, float] = field(default_factory=dict)
    missing: float = 0.0


@dataclass(frozen=True)
class SimulatedCohort:
    """The table (one row per subject, :data:`TABLE_COLUMNS`) and the truth it was drawn with."""

    table: pd.DataFrame
    truth: dict[str, Any]


def b12_population_moments() -> tuple[float, float]:
    """Mean and SD (pmol/L) of the simulated B12's log-normal distribution."""
    mean = _B12_MEDIAN * math.exp(_B12_LOG_SD**2 / 2.0)
    return mean, mean * math.sqrt(math.exp(_B12_LOG_SD**2) - 1.0)


def check_simulation(config: SimulationConfig) -> dict[str, float]:
    """The effects to simulate (defaults filled in).

    Raises
    ------
    ConfigError
        ``n`` outside 1-1,000,000, a negative seed, ``missing`` outside 0-0.9, an unknown
        outcome or a non-finite effect.
    """
    if isinstance(config.n, bool) or not isinstance(config.n, int) or not 1 <= config.n <= MAX_SUBJECTS:
        raise ConfigError(f"n: {config.n!r} is not a whole number of subjects from 1 to {MAX_SUBJECTS:,}")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise ConfigError(f"seed: {config.seed!r} must be a non-negative integer")
    if not (math.isfinite(config.missing) and 0.0 <= config.missing <= 0.9):
        raise ConfigError(f"missing: {config.missing!r} is not a share from 0 to 0.9")
    for outcome, value in config.effects.items():
        if outcome not in DEFAULT_EFFECTS:
            raise ConfigError(f"effect: unknown outcome {outcome!r}; use one of {', '.join(DEFAULT_EFFECTS)}")
        if not math.isfinite(value) or abs(value) > 5.0:
            raise ConfigError(f"effect: {outcome}={value!r} is not a number from -5 to 5")
    return DEFAULT_EFFECTS | dict(config.effects)


def simulate_cohort(config: SimulationConfig) -> SimulatedCohort:
    """Draw a cohort table with known effects of B12 (the module docstring gives the model).

    Raises
    ------
    ConfigError
        As :func:`check_simulation`.

    Examples
    --------
    >>> cohort = simulate_cohort(SimulationConfig(n=5, seed=3))
    >>> cohort.table.shape, cohort.truth["effects_per_sd_b12"]["fazekas_periventricular"]
    ((5, 24), -0.35)
    """
    effects = check_simulation(config)
    rng = np.random.default_rng(config.seed)
    n = config.n
    age = rng.uniform(60.0, 90.0, n)
    male = rng.random(n) < 0.45
    s, e1, e2, e3, e4 = rng.standard_normal((5, n))
    b12 = _B12_MEDIAN * np.exp(_B12_LOG_SD * s)
    holotc = 65.0 * np.exp(0.5 * (0.8 * s + 0.6 * e1))
    mma = 0.22 * np.exp(0.4 * (-0.6 * s + 0.8 * e2))
    folate = 18.0 * np.exp(0.45 * e4)
    hcy = 12.0 * np.exp(0.28 * (-0.35 * s - 0.35 * e4 + 0.87 * e3) + 0.01 * (age - 75.0))
    egfr = np.clip(rng.normal(95.0 - 0.8 * (age - 60.0), 12.0), 15.0, 130.0)
    hypertension = rng.random(n) < expit(0.05 * (age - 75.0))
    diabetes = rng.random(n) < 0.15
    smoking = rng.random(n) < 0.2
    mean, sd = b12_population_moments()
    z = (b12 - mean) / sd
    age10 = (age - 75.0) / 10.0
    u_pv, u_deep = rng.logistic(size=(2, n))
    n_pv, n_deep = rng.standard_normal((2, n))
    shared = math.sqrt(1.0 - _SHARED_NOISE**2)
    e_pv = _SHARED_NOISE * u_pv / _LOGISTIC_SD + shared * n_pv
    e_deep = _SHARED_NOISE * u_deep / _LOGISTIC_SD + shared * n_deep
    pv = np.expm1(2.0 + effects["periventricular_ml"] * z + 0.35 * age10 + 0.1 * male + 0.15 * hypertension
                  + 0.1 * diabetes + 0.5 * e_pv).clip(0.0)
    deep = np.expm1(1.4 + effects["deep_ml"] * z + 0.3 * age10 + 0.2 * hypertension + 0.45 * e_deep).clip(0.0)
    fz_pv = np.digitize(effects["fazekas_periventricular"] * z + 0.6 * age10 + 0.3 * hypertension + u_pv, _FAZEKAS_CUTS)
    fz_deep = np.digitize(effects["fazekas_deep"] * z + 0.5 * age10 + 0.3 * hypertension + u_deep, _FAZEKAS_CUTS)
    juxta = np.expm1(rng.normal(0.2, 0.3, n).clip(0.0))
    infra = np.expm1(rng.normal(0.1, 0.2, n).clip(0.0))
    brain = rng.normal(1150.0 - 4.0 * (age - 75.0) + 100.0 * male, 80.0)
    labs = {"b12": b12.round(0), "holotc": holotc.round(0), "mma": mma.round(3), "homocysteine": hcy.round(1),
            "folate": folate.round(1)}
    if config.missing > 0.0:
        for name, values in labs.items():
            values[rng.random(n) < config.missing] = np.nan
    volumes = {"periventricular_ml": pv, "deep_ml": deep, "juxtacortical_ml": juxta, "infratentorial_ml": infra}
    volumes = {k: v.round(3) for k, v in volumes.items()}
    table = pd.DataFrame({
        "participant_id": [f"sub-{i + 1:0{max(4, len(str(n)))}d}" for i in range(n)],
        "session_id": "",
        "age": age.round(1),
        "sex": np.where(male, "male", "female"),
        **labs,
        "egfr": egfr.round(0),
        "cb12": compute_cb12(labs["b12"], labs["holotc"], labs["mma"], labs["homocysteine"], age.round(1)).round(3),
        **volumes,
        "total_lesion_ml": sum(volumes.values()).round(3),  # type: ignore[union-attr]
        "brain_ml": brain.round(1),
        "fazekas_periventricular": fz_pv,
        "fazekas_deep": fz_deep,
        "hypertension": hypertension.astype(int),
        "diabetes": diabetes.astype(int),
        "smoking": smoking.astype(int),
        "qc_flags": "",
        "self_check": "",
    }, columns=list(TABLE_COLUMNS))
    truth = {
        "n": n, "seed": config.seed, "missing": config.missing,
        "effects_per_sd_b12": effects,
        "effect_scales": {"periventricular_ml": "difference in log(1 + mL)", "deep_ml": "difference in log(1 + mL)",
                          "fazekas_periventricular": "log odds ratio", "fazekas_deep": "log odds ratio"},
        "b12_population_mean_pmol_l": round(mean, 6), "b12_population_sd_pmol_l": round(sd, 6),
        "fazekas_cuts": list(_FAZEKAS_CUTS),
        "model": " ".join((__doc__ or "").split()),
    }
    return SimulatedCohort(table, truth)
