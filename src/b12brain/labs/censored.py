"""Censored lab values (``<150 pmol/L``, ``>1476 pg/mL``, eGFR ``>90``) and their band.

A laboratory reports a value outside its measuring range as a bound. b12brain keeps the bound
and its sign (the *censor*) instead of reading it as the number: ``<150 pg/mL`` is any value
below 150 pg/mL. Its category is the band that holds every value the bound allows; when those
values fall in more than one band, the category is :data:`CENSORED_LABEL` and the result says
which bands it straddles. cB12 is never computed from a censored value (its formula needs the
number itself).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from b12brain.labs.thresholds import BandTable

CodeArray = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]

#: Censor codes: index into this tuple (0 = not censored).
CENSOR_SIGNS: tuple[str, ...] = ("", "<", "<=", ">", ">=")
NOT_CENSORED, BELOW, AT_MOST, ABOVE, AT_LEAST = range(5)
#: Spellings of each sign as labs write them.
SIGN_CODES: dict[str, int] = {"<": BELOW, "<=": AT_MOST, "≤": AT_MOST, "=<": AT_MOST,
                              ">": ABOVE, ">=": AT_LEAST, "≥": AT_LEAST, "=>": AT_LEAST}
#: Category code and label of a censored value whose possible values straddle a band boundary.
CENSORED = -2
CENSORED_LABEL = "indeterminate by censoring"


def classify_censored(table: BandTable, values: npt.ArrayLike, censors: npt.ArrayLike) -> CodeArray:
    """Band index of each value, taking its censor into account.

    ``values`` are in the table's unit; a censored value is a bound. Its band is the one that
    holds all values the bound allows (``<150`` allows every value below 150), or
    :data:`CENSORED` when they fall in several bands. -1 where a value is NaN (not measured).

    Examples
    --------
    >>> from b12brain.labs.thresholds import HOLOTC_NICE
    >>> classify_censored(HOLOTC_NICE, [20.0, 20.0, 30.0, 80.0, 70.0], [0, BELOW, BELOW, ABOVE, ABOVE]).tolist()
    [0, 0, -2, 2, 2]
    """
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(censors, dtype=np.int8)
    codes = table.classify(v)
    for low_side, signs in ((True, (BELOW, AT_MOST)), (False, (ABOVE, AT_LEAST))):
        for sign in signs:
            rows = c == sign
            if not rows.any():
                continue
            # The values the bound allows run from the bound (just inside it when strict) to
            # -inf or +inf; both ends must land in the same band.
            direction = -np.inf if low_side else np.inf
            inner = np.nextafter(v[rows], direction) if sign in (BELOW, ABOVE) else v[rows]
            outer = np.full(inner.shape, direction)
            near, far = table.classify(inner), table.classify(outer)
            codes[rows] = np.where(near == far, near, CENSORED)
    return codes


def straddled_bands(table: BandTable, value: float, censor: int) -> tuple[str, ...]:
    """Labels of the bands a censored bound allows, in order (for the sentence of a result).

    >>> from b12brain.labs.thresholds import HOLOTC_NICE
    >>> straddled_bands(HOLOTC_NICE, 30.0, BELOW)
    ('deficiency confirmed', 'indeterminate')
    """
    low_side = censor in (BELOW, AT_MOST)
    direction = -np.inf if low_side else np.inf
    inner = np.nextafter(value, direction) if censor in (BELOW, ABOVE) else value
    a, b = (int(x) for x in table.classify(np.array([inner, direction])))
    lo, hi = min(a, b), max(a, b)
    return table.labels[lo : hi + 1]


def censored_sentence(label: str, value_seen: float, unit_seen: str, censor: int, bands: tuple[str, ...]) -> str:
    """Why a censored marker has no single category.

    >>> censored_sentence("total B12", 150, "pmol/L", BELOW, ("deficiency confirmed", "indeterminate"))
    "total B12 <150 pmol/L: indeterminate by censoring (the laboratory reports a bound; values it allows fall in 'deficiency confirmed' or 'indeterminate'); ask the laboratory for the measured value or repeat the test"
    """
    shown = " or ".join(repr(b) for b in bands)
    return (f"{label} {CENSOR_SIGNS[censor]}{value_seen:g} {unit_seen}: {CENSORED_LABEL} (the laboratory reports a bound; "
            f"values it allows fall in {shown}); ask the laboratory for the measured value or repeat the test")
