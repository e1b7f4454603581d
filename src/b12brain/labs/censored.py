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

from b12brain.labs.thresholds import BandTable, censored_range

#: Censor codes: index into this tuple (0 = not censored).
CENSOR_SIGNS: tuple[str, ...] = ("", "<", "<=", ">", ">=")
#: Spellings of each sign as labs write them -> censor code.
SIGN_CODES: dict[str, int] = {"<": 1, "<=": 2, "≤": 2, "=<": 2, ">": 3, ">=": 4, "≥": 4, "=>": 4}
#: Category label of a censored value whose possible values straddle a band boundary.
CENSORED_LABEL = "indeterminate by censoring"


def straddled_bands(table: BandTable, value: float, censor: int) -> tuple[str, ...]:
    """Labels of the bands a censored bound allows, in order (for the sentence of a result).

    >>> from b12brain.labs.thresholds import HOLOTC_NICE
    >>> straddled_bands(HOLOTC_NICE, 30.0, SIGN_CODES["<"])
    ('deficiency confirmed', 'indeterminate')
    """
    inner, outer = censored_range(np.array([value]), censor)
    a, b = int(table.classify(inner)[0]), int(table.classify(outer)[0])
    return table.labels[min(a, b) : max(a, b) + 1]


def censored_sentence(label: str, value_seen: float, unit_seen: str, censor: int, bands: tuple[str, ...]) -> str:
    """Why a censored marker has no single category.

    >>> censored_sentence("total B12", 150, "pmol/L", 1, ("deficiency confirmed", "indeterminate"))
    "total B12 <150 pmol/L: indeterminate by censoring (the laboratory reports a bound; values it allows fall in 'deficiency confirmed' or 'indeterminate'); ask the laboratory for the measured value or repeat the test"
    """
    shown = " or ".join(repr(b) for b in bands)
    return (f"{label} {CENSOR_SIGNS[censor]}{value_seen:g} {unit_seen}: {CENSORED_LABEL} (the laboratory reports a bound; "
            f"values it allows fall in {shown}); ask the laboratory for the measured value or repeat the test")
