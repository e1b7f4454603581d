"""Associations of B12 status with white-matter lesion burden in a cohort (statsmodels).

The analysis design follows de Lau et al. 2009 (J Neurol Neurosurg Psychiatry 80:149; Rotterdam
Scan Study): each marker of B12 status (total B12, holoTC, MMA, homocysteine and cB12) against
periventricular and deep lesion burden, per standard deviation of the marker and by quintile
with a test for trend, adjusted in a ladder. Research and decision-support software: an
association in a cohort says nothing about one person.

Models (each fitted to the participants with every variable it uses; the others are counted as
excluded from it):

* **linear**: ordinary least squares of log(1 + volume in mL) on the marker and the covariates;
  the estimate is the difference in log(1 + mL) (exp(estimate) is the ratio of 1 + volume).
* **proportional odds**: ordered logit of the Fazekas grade (0-3) on the same terms
  (:class:`~b12brain.cohort.stats_ordinal.LogitOrderedModel`); the estimate is the odds ratio of
  a higher grade.

Contrasts: *per SD* (the marker divided by its standard deviation in the model's participants,
SD with n - 1), *quintiles* (five groups of equal size by rank in the model's participants,
Q2-Q5 against Q1) and *trend* (the quintile number 1-5 as one numeric term; its p is the test
for trend). Estimates are per SD *higher* value: poorer B12 status is lower B12, holoTC and
cB12 but higher MMA and homocysteine. Intervals are 95 % Wald intervals, p two-sided Wald.

Adjustment ladder: 1 age and sex; 2 adds the vascular risk factors present (hypertension,
diabetes, smoking); 3 adds homocysteine and folate (those present, never the exposure itself).
A rung is fitted when it adds a variable; further covariates join every rung.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from threadpoolctl import threadpool_limits

from b12brain.cohort.stats_ordinal import LogitOrderedModel
from b12brain.cohort.stats_table import (
    EXPOSURES,
    GRADE_OUTCOMES,
    OUTCOMES,
    VASCULAR,
    CohortData,
    VariableQuality,
    prepare_cohort,
)
from b12brain.labs.fields import FIELD

#: The primary source of the analysis design, as outputs cite it.
DE_LAU_2009 = "de Lau et al. 2009, J Neurol Neurosurg Psychiatry 80:149 (Rotterdam Scan Study)"
#: Fewest participants a model is fitted to (fewer: the row says so and has no estimate).
MIN_PARTICIPANTS = 20
QUINTILES = 5
LINEAR, ORDINAL = "linear, log(1 + mL)", "proportional odds (logit)"
SCALES = {LINEAR: "difference in log(1 + mL)", ORDINAL: "odds ratio"}
EFFECT_COLUMNS: tuple[str, ...] = (
    "exposure", "outcome", "model", "contrast", "adjustment", "covariates", "n_used", "n_excluded", "excluded_missing",
    "estimate", "ci_low", "ci_high", "p_value", "scale", "exposure_sd", "exposure_median", "exposure_range", "note",
)
_Z95 = float(sps.norm.ppf(0.975))

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Rung:
    """One rung of the adjustment ladder: its label and the covariates (columns of the frame)."""

    label: str
    covariates: tuple[str, ...]


@dataclass(frozen=True)
class CohortStats:
    """The statistics of one cohort: the effect table and the data it was computed from."""

    effects: pd.DataFrame
    data: CohortData
    ladder: tuple[Rung, ...]
    notes: tuple[str, ...]


def unit_of(variable: str) -> str:
    """The canonical unit of a variable ('' when it has none, as cB12)."""
    if variable in FIELD:
        return FIELD[variable].unit
    return "mL" if variable.endswith("_ml") else ""


def cohort_statistics(data: CohortData) -> CohortStats:
    """Fit every exposure x outcome x adjustment rung x contrast that the data allow.

    Examples
    --------
    >>> from b12brain.cohort.simulate import SimulationConfig, simulate_cohort
    >>> table = simulate_cohort(SimulationConfig(n=400, seed=1)).table
    >>> result = cohort_statistics(prepare_cohort(table))
    >>> row = result.effects.query("exposure == 'b12' and outcome == 'periventricular_ml' "
    ...                            "and contrast == 'per SD'").iloc[0]
    >>> bool(row.ci_low < row.estimate < row.ci_high), int(row.n_used)
    (True, 400)
    """
    frame = data.frame

    def has(column: str) -> bool:
        return column in frame and bool(frame[column].notna().any())

    notes: list[str] = []
    base = tuple(c for c in ("age", "male") if has(c))
    for c, name in (("age", "age"), ("male", "sex")):
        if not has(c):
            notes.append(f"{name} has no usable value: models are adjusted without it")
    extra = tuple(c for c in data.covariates if has(c))
    if data.unused_columns:
        notes.append(f"columns not used by the statistics: {', '.join(data.unused_columns)} "
                     "(name further covariates with --covariates)")
    vascular = tuple(c for c in VASCULAR if has(c))
    if not vascular:
        notes.append("no vascular risk factor (hypertension, diabetes, smoking) has a usable value: rung 2 not fitted")
    effects: list[dict[str, object]] = []
    ladder: list[Rung] = []
    # One BLAS thread: the designs are tall and thin (n x about 15), where threads gain nothing,
    # and on a busy 2-core machine their spinning made each QR/SVD some 30x slower (measured).
    with threadpool_limits(limits=1, user_api="blas"):
        for exposure in (e for e in EXPOSURES if has(e)):
            rungs = _ladder(exposure, base, vascular, extra, has)
            ladder = max(ladder, rungs, key=len)
            for outcome in (o for o in OUTCOMES if has(o)):
                for rung in rungs:
                    effects.extend(_fit_all(frame, exposure, outcome, rung))
    table = pd.DataFrame(effects, columns=list(EFFECT_COLUMNS))
    return CohortStats(table, data, tuple(ladder), tuple(notes))


def _ladder(exposure: str, base: tuple[str, ...], vascular: tuple[str, ...], extra: tuple[str, ...],
            has: Callable[[str], bool]) -> list[Rung]:
    labels = {"age": "age", "male": "sex"}
    first = Rung("1: " + (" + ".join(labels[c] for c in base) or "unadjusted"), base + extra)
    rungs = [first]
    if vascular:
        rungs.append(Rung("2: + vascular risk factors", base + vascular + extra))
    b_vitamins = tuple(c for c in ("homocysteine", "folate") if c != exposure and has(c))
    if b_vitamins:
        # One label for every marker (the figures line rungs up by it); the covariates say what was added.
        rungs.append(Rung("3: + homocysteine and folate", base + vascular + b_vitamins + extra))
    return rungs


def _fit_all(frame: pd.DataFrame, exposure: str, outcome: str, rung: Rung) -> Iterator[dict[str, object]]:
    """The rows of one exposure, outcome and rung: per SD, Q1-Q5, trend."""
    used = [exposure, outcome, *rung.covariates]
    complete = frame[used].notna().all(axis=1).to_numpy()
    n_total = len(frame)
    missing = {c: int(frame[c].isna().sum()) for c in used}
    common = {
        "exposure": exposure, "outcome": outcome, "model": ORDINAL if outcome in GRADE_OUTCOMES else LINEAR,
        "adjustment": rung.label, "covariates": ", ".join(_shown(c) for c in rung.covariates),
        "n_used": int(complete.sum()), "n_excluded": int(n_total - complete.sum()),
        "excluded_missing": "; ".join(f"{_shown(c)} {n}" for c, n in missing.items() if n) or "none",
        "scale": SCALES[ORDINAL if outcome in GRADE_OUTCOMES else LINEAR],
    }
    sub = frame.loc[complete, used]
    x = sub[exposure].to_numpy(dtype=np.float64)
    y = sub[outcome].to_numpy(dtype=np.float64)
    covariates = sub[list(rung.covariates)].to_numpy(dtype=np.float64)
    # A covariate with one value among the participants used (all men, no smoker) adjusts for
    # nothing and would make the design singular: left out, and the row says so.
    constant = [c for j, c in enumerate(rung.covariates) if len(x) and np.ptp(covariates[:, j]) == 0]
    if constant:
        covariates = covariates[:, [c not in constant for c in rung.covariates]]
        common["covariates"] = ", ".join(_shown(c) for c in rung.covariates if c not in constant)
    dropped = f"not adjusted for {', '.join(map(_shown, constant))} (one value in every participant used)" if constant else ""
    problem = _too_few(len(x), y, outcome)
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
    if problem is None and not sd > 0:
        problem = f"{exposure} has the same value in every participant used"
    if problem is not None:
        yield common | {"contrast": "per SD", "note": problem}
        return
    quintile = _quintiles(x)
    dummies = (quintile[:, None] == np.arange(1, QUINTILES)[None, :]).astype(np.float64)
    designs: list[tuple[str, FloatArray, list[str]]] = [
        ("per SD", ((x - x.mean()) / sd)[:, None], ["per SD"]),
        ("quintiles", dummies, [f"Q{q + 1} vs Q1" for q in range(1, QUINTILES)]),
        ("trend", (quintile + 1.0).astype(np.float64)[:, None], ["trend per quintile"]),
    ]
    for kind, terms, names in designs:
        fitted, note = _fit(outcome, terms, covariates, y)
        if kind == "quintiles":
            q1 = quintile == 0
            yield common | {"contrast": "Q1 (reference)", "estimate": 0.0 if common["model"] == LINEAR else 1.0,
                            "exposure_median": float(np.median(x[q1])), "exposure_range": _range(x[q1], exposure),
                            "note": "reference group"}
        for j, name in enumerate(names):
            row = common | {"contrast": name, "note": "; ".join(filter(None, (note, dropped))),
                            "exposure_sd": sd if kind == "per SD" else np.nan}
            if kind == "quintiles":
                members = quintile == j + 1
                row |= {"exposure_median": float(np.median(x[members])), "exposure_range": _range(x[members], exposure)}
            if fitted is not None:
                estimate, se, p = fitted[0][j], fitted[1][j], fitted[2][j]
                lo, hi = estimate - _Z95 * se, estimate + _Z95 * se
                if common["model"] == ORDINAL:
                    estimate, lo, hi = np.exp(estimate), np.exp(lo), np.exp(hi)
                row |= {"estimate": float(estimate), "ci_low": float(lo), "ci_high": float(hi), "p_value": float(p)}
            yield row


def _fit(outcome: str, terms: FloatArray, covariates: FloatArray,
         y: FloatArray) -> tuple[tuple[FloatArray, FloatArray, FloatArray] | None, str | None]:
    """Coefficients, standard errors and p-values of ``terms`` (first columns), or a note why not."""
    exog = np.column_stack((terms, covariates))
    k = terms.shape[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if outcome in GRADE_OUTCOMES:
                _, codes = np.unique(y, return_inverse=True)
                result = LogitOrderedModel(codes, exog).fit(method="newton", disp=False, maxiter=50)
                if not result.mle_retvals.get("converged", False):
                    return None, "the model did not converge"
            else:
                result = sm.OLS(np.log1p(y), np.column_stack((np.ones(len(y)), exog)), hasconst=True).fit(method="qr")
                k0 = 1
                return (result.params[k0:k0 + k], result.bse[k0:k0 + k], result.pvalues[k0:k0 + k]), None
        except np.linalg.LinAlgError:
            return None, "the covariates are collinear (singular design)"
    params, bse, pvalues = result.params[:k], result.bse[:k], result.pvalues[:k]
    if not np.all(np.isfinite(bse)):
        return None, "no standard error (separation or collinear covariates)"
    note = "; ".join(sorted({type(w.message).__name__ for w in caught})) or None
    return (params, bse, pvalues), (f"fitted with warnings: {note}" if note else None)


def _too_few(n: int, y: FloatArray, outcome: str) -> str | None:
    if n < MIN_PARTICIPANTS:
        return f"{n} participants have every variable; at least {MIN_PARTICIPANTS} are needed"
    if np.ptp(y) == 0:
        return f"{outcome} has the same value in every participant used"
    return None


def _quintiles(x: FloatArray) -> npt.NDArray[np.intp]:
    """Quintile 0-4 of each value: equal-size groups by rank (ties broken by order)."""
    ranks = np.empty(len(x), dtype=np.intp)
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    return (ranks * QUINTILES // len(x)).astype(np.intp)


def _range(values: FloatArray, variable: str) -> str:
    return f"{values.min():.3g}-{values.max():.3g} {unit_of(variable)}".strip()


def _shown(column: str) -> str:
    return "sex" if column == "male" else column


def quality_table(quality: tuple[VariableQuality, ...]) -> pd.DataFrame:
    """Missing and unusable values per variable, as a table."""
    rows = [{"variable": q.name, "column": "present" if q.present else "absent", "usable": q.usable,
             "missing": q.empty, "unusable": q.unusable, "censored": q.censored, "not_a_number": q.not_a_number, "unknown_unit": q.unknown_unit,
             "implausible": q.implausible, "invalid": q.invalid, "computed": q.computed, "note": q.note}
            for q in quality]
    return pd.DataFrame(rows)
