"""The combined B12 indicator cB12 (four markers + age) and its interpretation categories.

4cB12 = log10[(holoTC · B12) / (MMA · Hcy)] − 3.79 / (1 + (age/230)^2.6)
(Fedosov et al. 2015; the log-ratio form is [V], the age-term constants are
[U]). Only the four-marker form is computed: the 3- and 2-marker versions were not verified, so
with a marker or age missing there is no cB12 and the result says what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from b12brain.labs.thresholds import INDETERMINATE, LOW, NORMAL, Band, BandTable

FloatArray = npt.NDArray[np.float64]

#: The inputs cB12 needs, as (field, readable name).
CB12_INPUTS: tuple[tuple[str, str], ...] = (
    ("b12", "B12"),
    ("holotc", "holoTC"),
    ("mma", "MMA"),
    ("homocysteine", "homocysteine"),
    ("age", "age"),
)
#: Age term 3.79 / (1 + (age/230)^2.6): constants [U] (not read in the full text).
AGE_TERM_NUMERATOR = 3.79
AGE_TERM_SCALE_YEARS = 230.0
AGE_TERM_EXPONENT = 2.6

#: Nutristasis Unit categories [V]. Boundaries: -2.5 and -1.5 and -0.5 belong to the band
#: above them (e.g. exactly -1.5 is "low B12"); 1.5 itself is still "adequate".
CB12_CATEGORIES = BandTable(
    "cB12", "",
    (
        Band("probable deficiency", None, -2.5, verdict=LOW),
        Band("possible deficiency", -2.5, -1.5, verdict=LOW),
        Band("low B12", -1.5, -0.5, verdict=INDETERMINATE),
        Band("adequate", -0.5, 1.5, lower_inclusive=True, upper_inclusive=True, verdict=NORMAL),
        Band("elevated", 1.5, None, lower_inclusive=False, verdict=NORMAL),
    ),
    "NUTRISTASIS", "V",
)


def compute_cb12(
    b12_pmol_l: npt.ArrayLike,
    holotc_pmol_l: npt.ArrayLike,
    mma_umol_l: npt.ArrayLike,
    homocysteine_umol_l: npt.ArrayLike,
    age_years: npt.ArrayLike,
) -> FloatArray:
    """Four-marker cB12 per element (NaN where any input is NaN).

    Parameters
    ----------
    b12_pmol_l, holotc_pmol_l : (N,) array_like of float, pmol/L
    mma_umol_l, homocysteine_umol_l : (N,) array_like of float, µmol/L
    age_years : (N,) array_like of float, years

    Returns
    -------
    cb12 : (N,) ndarray of float64
        Dimensionless; interpret with :data:`CB12_CATEGORIES`.

    Examples
    --------
    The two sanity values of docs/clinical-reference.md:

    >>> np.round(compute_cb12([350, 120], [70, 20], [0.2, 0.8], [10, 25], [50, 50]), 2).tolist()
    [0.37, -1.64]
    """
    b12, holotc, mma, hcy, age = (np.asarray(x, dtype=np.float64) for x in
                                  (b12_pmol_l, holotc_pmol_l, mma_umol_l, homocysteine_umol_l, age_years))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.log10((holotc * b12) / (mma * hcy))
        age_term = AGE_TERM_NUMERATOR / (1.0 + (age / AGE_TERM_SCALE_YEARS) ** AGE_TERM_EXPONENT)
    return np.asarray(ratio - age_term, dtype=np.float64)


def cb12_missing(values: dict[str, float | None]) -> list[str]:
    """Readable names of the cB12 inputs that are missing from ``values`` (field -> value)."""
    return [name for field, name in CB12_INPUTS if values.get(field) is None]


def cb12_note(missing: Sequence[str], censored: Sequence[str] = ()) -> str:
    """The sentence a result carries about cB12 (``censored``: inputs given as a bound)."""
    needs = "cB12 needs B12, holoTC, MMA, homocysteine and age"
    if missing:
        return f"{needs}; missing: {', '.join(missing)}. Not computed (no 3- or 2-marker version is used)."
    if censored:
        return (f"{needs} as measured values; {', '.join(censored)} given as a bound by the laboratory (e.g. '<150'). "
                "Not computed: the formula needs the number itself.")
    return (f"{needs}; all present. 4cB12 = log10[(holoTC x B12)/(MMA x Hcy)] - 3.79/(1+(age/230)^2.6) "
            "(Fedosov 2015: log-ratio form [V], age-term constants [U]).")
