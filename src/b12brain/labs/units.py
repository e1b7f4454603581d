"""Blood markers: canonical units, accepted unit spellings, conversions and plausible ranges.

Conversions and the plausible measuring ranges of B12, holoTC, MMA, homocysteine and age are
the clinical reference (docs/clinical-reference.md). The ranges of folate, eGFR, MCV and haemoglobin are *engineering checks*
(generous limits that catch a unit mix-up or a typo), not clinical rules.

A value outside its plausible range is rejected rather than interpreted, because the usual
cause is a unit mix-up (B12 0.4 given in nmol/L, MMA 250 given in nmol/L but labelled
µmol/L), and a wrong unit silently changes the category.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Basis of a range taken from the clinical reference (plausible measuring ranges).
CLINICAL_RANGE = "plausible measuring range, docs/clinical-reference.md"
#: Basis of a range that is this tool's own sanity check.
ENGINEERING_RANGE = "engineering plausibility check, not a clinical rule"


@dataclass(frozen=True)
class MarkerSpec:
    """One blood marker: its canonical unit, accepted units and plausible range.

    ``units`` maps each accepted unit (as displayed) to the factor that converts a value in
    that unit to the canonical unit: ``canonical = value * factor``.
    The first unit listed is the canonical one (factor 1).
    """

    name: str
    label: str
    unit: str
    units: Mapping[str, float]
    plausible: tuple[float, float]
    plausible_basis: str

    @property
    def accepted_units(self) -> str:
        """The accepted units as a readable list, e.g. ``"pmol/L, pg/mL, ng/L"``."""
        return ", ".join(self.units)

    @property
    def plausible_text(self) -> str:
        lo, hi = self.plausible
        return f"{lo:g}-{hi:g} {self.unit} ({self.plausible_basis})"


# 1 pg/mL = 1 ng/L = 0.738 pmol/L (CLINICAL §2, from the molar mass 1355.4 g/mol).
_B12_PER_NG_L = 0.738
# 1 ng/mL = 1 µg/L = 2.266 nmol/L folate (CLINICAL §2).
_FOLATE_PER_NG_ML = 2.266
# Haemoglobin: g/dL x 10 = g/L; mmol/L (per haem monomer) x 16.11 = g/L (engineering, common lab factor).
_HB_PER_MMOL_L = 16.11

MARKER_SPECS: dict[str, MarkerSpec] = {
    "b12": MarkerSpec(
        "b12", "total B12", "pmol/L",
        {"pmol/L": 1.0, "pg/mL": _B12_PER_NG_L, "ng/L": _B12_PER_NG_L},
        (20.0, 5000.0), CLINICAL_RANGE,
    ),
    "holotc": MarkerSpec("holotc", "holotranscobalamin (active B12)", "pmol/L", {"pmol/L": 1.0}, (1.0, 500.0), CLINICAL_RANGE),
    "mma": MarkerSpec(
        "mma", "methylmalonic acid (MMA)", "µmol/L", {"µmol/L": 1.0, "nmol/L": 0.001},
        (0.02, 100.0), CLINICAL_RANGE,
    ),
    "homocysteine": MarkerSpec("homocysteine", "total homocysteine", "µmol/L", {"µmol/L": 1.0}, (1.0, 500.0), CLINICAL_RANGE),
    "folate": MarkerSpec(
        "folate", "serum folate", "nmol/L",
        {"nmol/L": 1.0, "ng/mL": _FOLATE_PER_NG_ML, "µg/L": _FOLATE_PER_NG_ML},
        (0.5, 500.0), ENGINEERING_RANGE,
    ),
    "egfr": MarkerSpec("egfr", "eGFR", "mL/min/1.73m²", {"mL/min/1.73m²": 1.0}, (1.0, 250.0), ENGINEERING_RANGE),
    "mcv": MarkerSpec("mcv", "mean cell volume (MCV)", "fL", {"fL": 1.0}, (40.0, 160.0), ENGINEERING_RANGE),
    "haemoglobin": MarkerSpec(
        "haemoglobin", "haemoglobin", "g/L", {"g/L": 1.0, "g/dL": 10.0, "mmol/L": _HB_PER_MMOL_L},
        (20.0, 260.0), ENGINEERING_RANGE,
    ),
    # Not a marker: the laboratory's own MMA upper reference limit, read like one (value + unit).
    "mma_upper_limit": MarkerSpec(
        "mma_upper_limit", "laboratory's MMA upper reference limit", "µmol/L", {"µmol/L": 1.0, "nmol/L": 0.001},
        (0.1, 2.0), ENGINEERING_RANGE,
    ),
}
#: Marker field names, in report order.
MARKERS: tuple[str, ...] = tuple(MARKER_SPECS)

#: Age in years (CLINICAL §2; NICE NG239 covers over 16s).
AGE_RANGE_YEARS = (16.0, 120.0)
#: Years of a medicine (engineering check).
MEDICINE_YEARS_RANGE = (0.0, 100.0)


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


def normalise_unit(text: str) -> str:
    """A unit spelling reduced to a lookup key: lower case, µ/μ -> u, no spaces, ² -> 2, decimal
    comma -> point.

    >>> normalise_unit(" μmol/l "), normalise_unit("mL/min/1,73 m²")
    ('umol/l', 'ml/min/1.73m2')
    """
    key = text.strip().lower().replace("µ", "u").replace("μ", "u").replace("²", "2").replace("^", "").replace(",", ".")
    return "".join(key.split())


# Lookup key -> displayed unit, per marker.
_ALIASES: dict[str, dict[str, str]] = {
    name: {normalise_unit(unit): unit for unit in spec.units} for name, spec in MARKER_SPECS.items()
}


def find_unit(marker: str, text: str) -> str | None:
    """The accepted unit (as displayed) that ``text`` spells for ``marker``, or None.

    >>> find_unit("b12", "PG/ML"), find_unit("mma", "umol/l"), find_unit("b12", "nmol/L")
    ('pg/mL', 'µmol/L', None)
    """
    return _ALIASES[marker].get(normalise_unit(text))


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
