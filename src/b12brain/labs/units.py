"""Units of the blood markers: accepted spellings, conversions to the canonical unit, rounding.

The units, conversion factors and plausible ranges are declared with the fields, in
:data:`b12brain.labs.fields.FIELDS`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from b12brain.labs.fields import MARKER_SPECS, MARKERS

__all__ = ["MARKERS", "MARKER_SPECS", "find_unit", "from_canonical", "round_significant", "to_canonical"]


#: Canonical values are rounded to this many significant digits, so that a value converted from
#: another unit equals the same measurement given in the canonical unit (``9 nmol/L x 0.001`` is
#: ``0.009000000000000001`` in floating point, ``220 pg/mL x 0.738`` is ``162.35999999999999``;
#: without rounding, a value re-expressed in another unit could land on the other side of a
#: threshold), while a round trip through any unit stays within 1e-11 relative.
SIGNIFICANT_DIGITS = 12


def round_significant(values: npt.ArrayLike, digits: int = SIGNIFICANT_DIGITS) -> npt.NDArray[np.float64]:
    """Round to ``digits`` significant digits, element-wise (NaN, inf and 0 unchanged).

    >>> float(round_significant(9 * 0.001)), float(round_significant(220 * 0.738))
    (0.009, 162.36)
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        power = digits - 1 - np.floor(np.log10(np.abs(v)))
        power = np.where(np.isfinite(power), power, 0.0)
        up = 10.0 ** np.maximum(power, 0.0)  # exact powers of ten up to 1e22
        down = 10.0 ** np.maximum(-power, 0.0)
        # Divide by an exact power of ten last, so the result is the double nearest the decimal.
        rounded = np.where(power >= 0, np.round(v * up) / up, np.round(v / down) * down)
    return np.where(np.isfinite(v) & (v != 0), rounded, v)


def _normalise_unit(text: str) -> str:
    """A unit spelling reduced to a lookup key: lower case, µ/μ -> u, no spaces, ² -> 2, decimal
    comma -> point.

    >>> _normalise_unit(" μmol/l "), _normalise_unit("mL/min/1,73 m²")
    ('umol/l', 'ml/min/1.73m2')
    """
    key = text.strip().lower().replace("µ", "u").replace("μ", "u").replace("²", "2").replace("^", "").replace(",", ".")
    return "".join(key.split())


# Lookup key -> displayed unit, per marker.
_ALIASES: dict[str, dict[str, str]] = {
    name: {_normalise_unit(unit): unit for unit in spec.units} for name, spec in MARKER_SPECS.items()
}


def find_unit(marker: str, text: str) -> str | None:
    """The accepted unit (as displayed) that ``text`` spells for ``marker``, or None.

    >>> find_unit("b12", "PG/ML"), find_unit("mma", "umol/l"), find_unit("b12", "nmol/L")
    ('pg/mL', 'µmol/L', None)
    """
    return _ALIASES[marker].get(_normalise_unit(text))


def to_canonical(marker: str, value: npt.ArrayLike, unit: str) -> npt.NDArray[np.float64]:
    """Convert ``value`` given in ``unit`` (an accepted spelling) to the canonical unit.

    The result is rounded to :data:`SIGNIFICANT_DIGITS` significant digits.

    Raises
    ------
    KeyError
        ``unit`` is not accepted for ``marker`` (input checks report this as a LabValueError).

    Examples
    --------
    >>> float(to_canonical("b12", 200.0, "pg/mL")), float(to_canonical("mma", 280.0, "nmol/L"))
    (147.6, 0.28)
    """
    factor = MARKER_SPECS[marker].units[find_unit(marker, unit) or unit]
    return round_significant(np.asarray(value, dtype=np.float64) * factor)


def from_canonical(marker: str, value: npt.ArrayLike, unit: str) -> npt.NDArray[np.float64]:
    """Express a canonical value in another accepted ``unit`` (inverse of :func:`to_canonical`).

    >>> float(from_canonical("haemoglobin", 135.0, "g/dL"))
    13.5
    """
    spec = MARKER_SPECS[marker]
    factor = spec.units[find_unit(marker, unit) or unit]
    return np.asarray(value, dtype=np.float64) / factor
