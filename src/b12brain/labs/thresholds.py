"""Threshold tables: the category of each marker, with the source of every row.

Each table is a list of :class:`Band` rows that partition the number line, with the
inclusivity of every boundary stated in the row (tested on both sides). Values are canonical
(pmol/L, µmol/L, nmol/L, ...). The tables are applied column-wise by :meth:`BandTable.classify`
for a whole cohort and for a single panel alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from b12brain.clinical import SOURCES, EvidenceLevel

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int8]

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
    """A marker's categories: ``bands`` in increasing order, the source key and evidence level."""

    name: str
    unit: str
    bands: tuple[Band, ...]
    source: str
    level: EvidenceLevel
    note: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.bands)

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def classify(self, values: npt.ArrayLike, censors: npt.ArrayLike | None = None) -> CodeArray:
        """Band index of each value (-1 for NaN = not measured).

        With ``censors`` (codes of :data:`b12brain.labs.censored.CENSOR_SIGNS`), a censored
        value is a bound: its band is the one that holds every value the bound allows (``<150``
        allows all values below 150), or :data:`CENSORED` (-2) when they fall in several bands.

        >>> B12_NICE.classify([132.9, 133.0, 258.0, 258.1, float("nan")]).tolist()
        [0, 1, 1, 2, -1]
        >>> HOLOTC_NICE.classify([20.0, 20.0, 30.0, 70.0], censors=[0, 1, 1, 3]).tolist()
        [0, 0, -2, 2]
        """
        v = np.asarray(values, dtype=np.float64)
        codes = self._bands_of(v)
        if censors is None:
            return codes
        c = np.asarray(censors, dtype=np.int8)
        for sign in np.unique(c[c > 0]):
            rows = c == sign
            inner, outer = censored_range(v[rows], int(sign))
            near, far = self._bands_of(inner), self._bands_of(outer)
            codes[rows] = np.where(near == far, near, CENSORED)
        return codes

    def _bands_of(self, v: FloatArray) -> CodeArray:
        codes = np.full(v.shape, -1, dtype=np.int8)
        with np.errstate(invalid="ignore"):
            for i, band in enumerate(self.bands):
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


# NICE NG239 [S for the numbers]: the pmol/L figures are the rule. NICE writes the total-B12
# bands in ng/L (< 180, 180-350, > 350); converted with 0.738 these are 132.8 and 258.3 pmol/L,
# so in ng/L the pmol/L rule falls at 180.2 and 349.6 ng/L.
B12_NICE = BandTable(
    "total B12", "pmol/L",
    (
        Band("deficiency confirmed", None, 133.0, verdict=LOW),
        Band("indeterminate", 133.0, 258.0, lower_inclusive=True, upper_inclusive=True, verdict=INDETERMINATE),
        Band("deficiency unlikely", 258.0, None, lower_inclusive=False, verdict=NORMAL),
    ),
    "NICE_NG239", "S",
    note="NICE gives < 180 / 180-350 / > 350 ng/L; the pmol/L figures are applied (180.2 and 349.6 ng/L).",
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
MMA_REFERENCE = BandTable(
    "MMA", "µmol/L",
    (
        Band("normal", None, 0.28, upper_inclusive=True, verdict=NORMAL),
        Band("borderline (laboratory-dependent upper limit)", 0.28, 0.45, False, True, verdict=INDETERMINATE),
        Band("raised", 0.45, 0.75, False, True, verdict=LOW),
        Band("highly suggestive of B12 deficiency", 0.75, None, lower_inclusive=False, verdict=LOW),
    ),
    "MMA_REFERENCE", "V",
    note="Upper reference limits differ between laboratories (0.28-0.45 µmol/L).",
)
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
    note="Unverified: this folate cut-off is not in CLINICAL.md (BSH 2014 folate cut-off as commonly cited).",
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
    note="Unverified: the 100 fL macrocytosis limit is not in CLINICAL.md.",
)
_HB_NOTE = "Unverified: WHO anaemia thresholds (130 g/L men, 120 g/L women), not in CLINICAL.md."
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
    "total B12 (BSH 2014 cut-off)", "pmol/L",
    (Band("below the 148 pmol/L (200 ng/L) cut-off (about 97% sensitivity)", None, 148.0),
     Band("at or above the 148 pmol/L (200 ng/L) cut-off", 148.0, None)),
    "BSH_2014", "V",
)

#: The threshold table of each marker (haemoglobin: see :func:`classify_haemoglobin`).
MARKER_TABLES: dict[str, BandTable] = {
    "b12": B12_NICE,
    "holotc": HOLOTC_NICE,
    "mma": MMA_REFERENCE,
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
