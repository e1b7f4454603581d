"""Threshold tables: the category of each marker, with the source of every row.

Each table is a list of :class:`Band` rows that partition the number line, with the
inclusivity of every boundary stated in the row (tested on both sides). Values are canonical
(pmol/L, µmol/L, nmol/L, ...). The tables are applied column-wise by :meth:`BandTable.classify`
for a whole cohort and for a single panel alike.
"""

from __future__ import annotations

from collections.abc import Callable

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt

from b12brain.clinical import SOURCES, EvidenceLevel
from b12brain.labs.units import MARKER_SPECS, round_significant

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int8]

#: 1 ng/L of B12 in pmol/L (0.738, from the molar mass 1355.4 g/mol).
B12_PMOL_L_PER_NG_L = MARKER_SPECS["b12"].units["ng/L"]

# What a band says about B12 status (used by the status rule in rules.py).
LOW, INDETERMINATE, NORMAL, NO_VERDICT = 0, 1, 2, -1
#: Category code of a censored value whose possible values straddle a band boundary.
CENSORED = -2
#: Censor codes (index into ``CENSOR_SIGNS`` of :mod:`b12brain.labs.censored`).
_BELOW, _AT_MOST, _ABOVE, _AT_LEAST = 1, 2, 3, 4


def censored_range(bounds: FloatArray, censor: int) -> tuple[FloatArray, FloatArray]:
    """The two ends of the values a censored bound allows: the bound itself (just inside it
    when the sign is strict) and -inf or +inf."""
    outward = -np.inf if censor in (_BELOW, _AT_MOST) else np.inf
    inner = np.nextafter(bounds, outward) if censor in (_BELOW, _ABOVE) else bounds
    return inner, np.full(np.shape(bounds), outward)



def _with_censored(codes: CodeArray, values: FloatArray, censors: npt.ArrayLike | None,
                   codes_of: Callable[[FloatArray, npt.NDArray[np.bool_]], CodeArray]) -> CodeArray:
    """``codes`` with each censored value's replaced by the category of every value its bound
    allows, or :data:`CENSORED` when they fall in several (``codes_of(values, rows)``)."""
    if censors is None:
        return codes
    c = np.asarray(censors, dtype=np.int8)
    for sign in np.unique(c[c > 0]):
        rows = c == sign
        inner, outer = censored_range(values[rows], int(sign))
        near, far = codes_of(inner, rows), codes_of(outer, rows)
        codes[rows] = np.where(near == far, near, CENSORED)
    return codes

@dataclass(frozen=True)
class Band:
    """One row of a threshold table: ``lower (<|<=) value (<|<=) upper``; None = unbounded."""

    label: str
    lower: float | None
    upper: float | None
    lower_inclusive: bool = True
    upper_inclusive: bool = False
    verdict: int = NO_VERDICT

    def contains(self, values: FloatArray) -> npt.NDArray[np.bool_]:
        inside = np.ones(values.shape, dtype=bool)
        if self.lower is not None:
            inside &= values >= self.lower if self.lower_inclusive else values > self.lower
        if self.upper is not None:
            inside &= values <= self.upper if self.upper_inclusive else values < self.upper
        return inside

    def describe(self, unit: str) -> str:
        """The band as text with exact inclusivity, e.g. ``"> 0.28 and <= 0.45 µmol/L"``."""
        low = None if self.lower is None else f"{'>=' if self.lower_inclusive else '>'} {self.lower:g}"
        high = None if self.upper is None else f"{'<=' if self.upper_inclusive else '<'} {self.upper:g}"
        return f"{' and '.join(t for t in (low, high) if t)} {unit}".rstrip()


@dataclass(frozen=True)
class BandTable:
    """A marker's categories: ``bands`` in increasing order, the source key and evidence level.

    ``unit`` is the unit the source writes the bands in; ``canonical_per_unit`` converts it to
    the marker's canonical unit (a canonical value is divided by it, then rounded to 12
    significant digits, before it is compared).
    """

    name: str
    unit: str
    bands: tuple[Band, ...]
    source: str
    level: EvidenceLevel
    note: str = ""
    canonical_per_unit: float = 1.0

    def in_unit(self, values: npt.ArrayLike) -> FloatArray:
        """Canonical values expressed in the table's unit (for display)."""
        v = np.asarray(values, dtype=np.float64)
        return v if self.canonical_per_unit == 1.0 else round_significant(v / self.canonical_per_unit)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.bands)

    def index(self, label: str) -> int:
        return self.labels.index(label)

    @cached_property
    def canonical_bands(self) -> tuple[Band, ...]:
        """The bands with their edges in the canonical unit, rounded as canonical values are
        (180 ng/L -> 132.84 pmol/L), so a value converted from the table's unit lands exactly
        on the edge it was given at."""
        if self.canonical_per_unit == 1.0:
            return self.bands

        def edge(x: float | None) -> float | None:
            return None if x is None else float(round_significant(x * self.canonical_per_unit))

        return tuple(replace(b, lower=edge(b.lower), upper=edge(b.upper)) for b in self.bands)

    def classify(self, values: npt.ArrayLike, censors: npt.ArrayLike | None = None) -> CodeArray:
        """Band index of each canonical value (-1 for NaN = not measured).

        With ``censors`` (codes of :data:`b12brain.labs.censored.CENSOR_SIGNS`), a censored
        value is a bound: its band is the one that holds every value the bound allows (``<150``
        allows all values below 150), or :data:`CENSORED` (-2) when they fall in several bands.

        Total B12 in pmol/L against the NICE bands in ng/L (180 ng/L = 132.84 pmol/L,
        350 ng/L = 258.3 pmol/L):

        >>> B12_NICE.classify([132.83, 132.84, 258.3, 258.31, float("nan")]).tolist()
        [0, 1, 1, 2, -1]
        >>> HOLOTC_NICE.classify([20.0, 20.0, 30.0, 70.0], censors=[0, 1, 1, 3]).tolist()
        [0, 0, -2, 2]
        """
        v = np.asarray(values, dtype=np.float64)
        return _with_censored(self._bands_of(v), v, censors, lambda x, rows: self._bands_of(x))

    def _bands_of(self, v: FloatArray) -> CodeArray:
        codes = np.full(v.shape, -1, dtype=np.int8)
        with np.errstate(invalid="ignore"):
            for i, band in enumerate(self.canonical_bands):
                codes[band.contains(v)] = i
        return codes

    def rule_text(self, code: int) -> str:
        """One line: the band that applied, the whole table and its citation."""
        band = self.bands[code]
        table = "; ".join(f"{b.describe(self.unit)} {b.label}" for b in self.bands)
        note = f" {self.note}" if self.note else ""
        return f"{self.name} {band.describe(self.unit)}: {band.label} [table: {table}]{note} ({SOURCES[self.source]} [{self.level}])"

    @property
    def verdicts(self) -> npt.NDArray[np.int8]:
        """Verdict per band index, with two trailing NO_VERDICT: for code -1 (not measured) and
        code -2 (a censored value that straddles bands, :mod:`b12brain.labs.censored`)."""
        return np.array([b.verdict for b in self.bands] + [NO_VERDICT, NO_VERDICT], dtype=np.int8)


# NICE NG239 [S for the numbers] writes the total-B12 bands in ng/L (< 180, 180-350, > 350):
# they are applied in ng/L, a pmol/L value converted with 1 ng/L = 0.738 pmol/L, so that 180
# and 350 ng/L are themselves indeterminate (the rounded 133/258 pmol/L would put them outside).
B12_NICE = BandTable(
    "total B12", "ng/L",
    (
        Band("deficiency confirmed", None, 180.0, verdict=LOW),
        Band("indeterminate", 180.0, 350.0, lower_inclusive=True, upper_inclusive=True, verdict=INDETERMINATE),
        Band("deficiency unlikely", 350.0, None, lower_inclusive=False, verdict=NORMAL),
    ),
    "NICE_NG239", "S",
    note="Applied in ng/L, the unit NICE writes them in (about 133 and 258 pmol/L).",
    canonical_per_unit=B12_PMOL_L_PER_NG_L,
)
HOLOTC_NICE = BandTable(
    "active B12 (holoTC)", "pmol/L",
    (
        Band("deficiency confirmed", None, 25.0, verdict=LOW),
        Band("indeterminate", 25.0, 70.0, lower_inclusive=True, upper_inclusive=True, verdict=INDETERMINATE),
        Band("deficiency unlikely", 70.0, None, lower_inclusive=False, verdict=NORMAL),
    ),
    "NICE_NG239", "S",
)
#: MMA upper reference limit used when the panel gives no laboratory limit
#: (``mma_upper_limit``): the top of the 0.28-0.45 µmol/L range in use [V].
MMA_DEFAULT_UPPER_LIMIT_UMOL_L = 0.45
#: MMA above which a result is highly suggestive of B12 deficiency [V].
MMA_HIGHLY_SUGGESTIVE_UMOL_L = 0.75
#: MMA categories (index = code of :func:`classify_mma`); MMA is context beside the first-line
#: markers and acts on the status only when they are indeterminate (see rules.STATUS_RULE).
MMA_LABELS = (
    "within the upper reference limit",
    "above the upper reference limit",
    "above the upper reference limit; > 0.75 µmol/L is highly suggestive of B12 deficiency",
)
MMA_SOURCE = "MMA_REFERENCE"
MMA_LEVEL: EvidenceLevel = "V"
HCY_REFERENCE = BandTable(
    "homocysteine", "µmol/L",
    (
        Band("normal", None, 15.0, upper_inclusive=True),
        Band("raised", 15.0, 20.0, False, True),
        Band("raised; suggests B12 deficiency if folate is normal", 20.0, None, lower_inclusive=False),
    ),
    "HCY_REFERENCE", "V",
)
FOLATE_BSH = BandTable(
    "serum folate", "nmol/L",
    (Band("low", None, 7.0), Band("normal", 7.0, None)),
    "BSH_2014", "U",
    note="Unverified: a folate cut-off as commonly cited from BSH 2014, not read in the source.",
)
EGFR_KIDNEY = BandTable(
    "eGFR", "mL/min/1.73m²",
    (Band("reduced kidney function", None, 60.0), Band("not reduced below 60", 60.0, None)),
    "CONFOUNDERS", "V",
    note="eGFR < 60 raises MMA and homocysteine.",
)
MCV_MACROCYTOSIS = BandTable(
    "MCV", "fL",
    (Band("not macrocytic", None, 100.0, upper_inclusive=True), Band("macrocytosis", 100.0, None, lower_inclusive=False)),
    "NICE_CKS", "U",
    note="Unverified: the 100 fL macrocytosis limit is a common convention, not read in a source.",
)
_HB_NOTE = "Unverified: WHO anaemia thresholds (130 g/L men, 120 g/L women), not read in the source."
HB_MALE = BandTable("haemoglobin (male)", "g/L", (Band("anaemia", None, 130.0), Band("no anaemia", 130.0, None)), "NICE_CKS", "U", _HB_NOTE)
HB_FEMALE = BandTable("haemoglobin (female)", "g/L", (Band("anaemia", None, 120.0), Band("no anaemia", 120.0, None)), "NICE_CKS", "U", _HB_NOTE)
#: Haemoglobin categories; with sex unknown, values between the two limits are not classified.
HB_LABELS = ("anaemia", "no anaemia", "not classified (sex unknown)")

#: Context shown beside total B12, never used as the rule.
B12_WHO = BandTable(
    "total B12 (WHO-type bands)", "pmol/L",
    (
        Band("deficient", None, 148.0),
        Band("low", 148.0, 221.0, lower_inclusive=True, upper_inclusive=True),
        Band("adequate", 221.0, None, lower_inclusive=False),
    ),
    "WHO_B12_BANDS", "S",
)
B12_BSH_CUTOFF = BandTable(
    "total B12 (BSH 2014 cut-off)", "ng/L",
    (Band("below the 200 ng/L (148 pmol/L) cut-off (about 97% sensitivity)", None, 200.0),
     Band("at or above the 200 ng/L (148 pmol/L) cut-off", 200.0, None)),
    "BSH_2014", "V",
    canonical_per_unit=B12_PMOL_L_PER_NG_L,
)

#: The threshold table of each marker (MMA: :func:`classify_mma`; haemoglobin:
#: :func:`classify_haemoglobin`).
MARKER_TABLES: dict[str, BandTable] = {
    "b12": B12_NICE,
    "holotc": HOLOTC_NICE,
    "homocysteine": HCY_REFERENCE,
    "folate": FOLATE_BSH,
    "egfr": EGFR_KIDNEY,
    "mcv": MCV_MACROCYTOSIS,
}


def classify_haemoglobin(hb_g_l: FloatArray, sex_codes: npt.NDArray[np.int8], censors: npt.ArrayLike | None = None) -> CodeArray:
    """Index into :data:`HB_LABELS` per panel; ``sex_codes`` 0 female, 1 male, -1 unknown.

    With sex unknown a value below both limits is anaemia, one at or above both is not, and
    one in between is not classified.

    >>> classify_haemoglobin(np.array([125.0, 125.0, 125.0, 110.0, 140.0]), np.array([0, 1, -1, -1, -1], dtype=np.int8)).tolist()
    [1, 0, 2, 0, 1]
    """
    female = HB_FEMALE.classify(hb_g_l, censors)
    male = HB_MALE.classify(hb_g_l, censors)
    unknown = np.where(female == male, female, np.int8(2)).astype(np.int8)
    return np.where(sex_codes == 0, female, np.where(sex_codes == 1, male, unknown)).astype(np.int8)


def mma_upper_limits(upper_umol_l: FloatArray) -> FloatArray:
    """The upper reference limit per panel: the laboratory's own, else the default 0.45 µmol/L."""
    return np.where(np.isnan(upper_umol_l), MMA_DEFAULT_UPPER_LIMIT_UMOL_L, upper_umol_l)


def classify_mma(mma_umol_l: FloatArray, upper_umol_l: FloatArray, censors: npt.ArrayLike | None = None) -> CodeArray:
    """Index into :data:`MMA_LABELS` per panel (-1 not measured), against each panel's limit.

    ``upper_umol_l`` is the laboratory's upper reference limit (NaN: 0.45 µmol/L is used). A
    censored value (``censors``, as :meth:`BandTable.classify`) takes the category of every value
    it allows, or :data:`CENSORED` when they fall in several.

    >>> classify_mma(np.array([0.45, 0.46, 0.76, 0.30, np.nan]), np.array([np.nan, np.nan, np.nan, 0.28, 0.3])).tolist()
    [0, 1, 2, 1, -1]
    >>> classify_mma(np.array([0.2, 0.3, 1.0]), np.full(3, np.nan), censors=[1, 3, 3]).tolist()
    [0, -2, 2]
    """
    upper = mma_upper_limits(upper_umol_l)
    return _with_censored(_mma_codes(mma_umol_l, upper), mma_umol_l, censors, lambda x, rows: _mma_codes(x, upper[rows]))


def _mma_codes(mma_umol_l: FloatArray, upper: FloatArray) -> CodeArray:
    codes = np.full(mma_umol_l.shape, -1, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        above = mma_umol_l > upper
        codes[mma_umol_l <= upper] = 0
        codes[above] = 1
        codes[above & (mma_umol_l > MMA_HIGHLY_SUGGESTIVE_UMOL_L)] = 2
    return codes


def mma_rule_text(upper_umol_l: float | None) -> str:
    """The MMA rule as applied to one panel, with its citation."""
    limit = (f"the laboratory's upper reference limit {upper_umol_l:g} µmol/L" if upper_umol_l is not None
             else f"the upper reference limit {MMA_DEFAULT_UPPER_LIMIT_UMOL_L:g} µmol/L (default: the panel gives no "
                  "laboratory limit; limits in use are 0.28-0.45 µmol/L)")
    return (f"MMA against {limit}: at or below it within, above it raised; > {MMA_HIGHLY_SUGGESTIVE_UMOL_L:g} µmol/L "
            f"highly suggestive of B12 deficiency ({SOURCES[MMA_SOURCE]} [{MMA_LEVEL}])")
