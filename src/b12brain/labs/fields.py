"""The fields of a lab panel, declared once in :data:`FIELDS`.

Each row names a field (the same name in JSON and CSV), its kind, its units and plausible
range, its choices and the other header spellings lab exports use. Everything else is derived
from the table: the known-field list, the header lookup (:mod:`b12brain.labs.headers`), the
validation (:mod:`b12brain.labs.columns`), the unit conversions (:mod:`b12brain.labs.units`)
and the attributes of a :class:`~b12brain.labs.Panel`.

The conversions and plausible ranges of B12, holoTC, MMA, homocysteine and age are the clinical
reference (docs/clinical-reference.md). The ranges of folate, eGFR, MCV, haemoglobin and the
medicine years are *engineering checks* (generous limits that catch a unit mix-up or a typo),
not clinical rules. A value outside its plausible range is rejected rather than interpreted:
the usual cause is a unit mix-up (B12 0.4 given in nmol/L), and a wrong unit silently changes
the category.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Basis of a range taken from the clinical reference (plausible measuring ranges).
_CLINICAL_RANGE = "plausible measuring range, docs/clinical-reference.md"
#: Basis of a range that is this tool's own sanity check.
_ENGINEERING_RANGE = "engineering plausibility check, not a clinical rule"

#: What a field holds: ``id`` text kept as given; ``marker`` a measured value with a unit
#: (possibly censored, ``<150 pmol/L``); ``number`` a plain number; ``choice`` one of
#: ``choices``; ``yes/no``; ``conditions`` a list (JSON) or ``;``-separated text (CSV) of ``choices``.
Kind = Literal["id", "marker", "number", "choice", "yes/no", "conditions"]


@dataclass(frozen=True)
class Field:
    """One panel field.

    ``unit`` is the canonical unit (markers, numbers); ``units`` maps each accepted unit of a
    marker (as displayed, the canonical one first) to the factor that converts a value in that
    unit to the canonical one: ``canonical = value * factor``. ``headers`` are other spellings
    of the field in lab exports, compared ignoring case, spaces, ``_``, ``-``, ``.`` and ``/``.
    """

    name: str
    kind: Kind
    headers: tuple[str, ...] = ()
    label: str = ""
    unit: str = ""
    units: Mapping[str, float] = field(default_factory=dict)
    plausible: tuple[float, float] = (-math.inf, math.inf)
    plausible_basis: str = ""
    choices: tuple[str, ...] = ()

    @property
    def accepted_units(self) -> str:
        """The accepted units as a readable list, e.g. ``"pmol/L, pg/mL, ng/L"``."""
        return ", ".join(self.units)

    @property
    def plausible_text(self) -> str:
        """The plausible range with its unit and basis."""
        lo, hi = self.plausible
        return f"{lo:g}-{hi:g} {self.unit} ({self.plausible_basis})"


def _marker(name: str, label: str, units: dict[str, float], plausible: tuple[float, float], basis: str,
            headers: tuple[str, ...] = ()) -> Field:
    return Field(name, "marker", headers, label, next(iter(units)), units, plausible, basis)


def _years(name: str, plausible: tuple[float, float], basis: str, headers: tuple[str, ...] = ()) -> Field:
    """A number field counted in years."""
    return Field(name, "number", headers, name, "years", plausible=plausible, plausible_basis=basis)


# 1 pg/mL = 1 ng/L = 0.738 pmol/L (from the molar mass 1355.4 g/mol).
_B12_PER_NG_L = 0.738
# 1 ng/mL = 1 µg/L = 2.266 nmol/L folate.
_FOLATE_PER_NG_ML = 2.266
# Haemoglobin: g/dL x 10 = g/L; mmol/L (per haem monomer) x 16.11 = g/L (engineering, common lab factor).
_HB_PER_MMOL_L = 16.11
_MMOL = {"µmol/L": 1.0, "nmol/L": 0.001}
_MEDICINE_YEARS = (0.0, 100.0)

#: Every field a panel may carry, in report order.
FIELDS: tuple[Field, ...] = (
    Field("id", "id", ("patient id", "sample id", "subject id", "specimen id", "lab id")),
    _marker("b12", "total B12", {"pmol/L": 1.0, "pg/mL": _B12_PER_NG_L, "ng/L": _B12_PER_NG_L}, (20.0, 5000.0),
            _CLINICAL_RANGE, ("vitamin b12", "vit b12", "cobalamin", "total b12", "serum b12", "b12 total",
                             "total vitamin b12", "serum vitamin b12", "cobalamine", "vitamin b12 cobalamin")),
    _marker("holotc", "holotranscobalamin (active B12)", {"pmol/L": 1.0}, (1.0, 500.0), _CLINICAL_RANGE,
            ("holo tc", "holotranscobalamin", "holo transcobalamin", "active b12", "active vitamin b12")),
    _marker("mma", "methylmalonic acid (MMA)", _MMOL, (0.02, 100.0), _CLINICAL_RANGE,
            ("methylmalonic acid", "methylmalonic acid mma", "serum mma", "mma serum")),
    _marker("homocysteine", "total homocysteine", {"µmol/L": 1.0}, (1.0, 500.0), _CLINICAL_RANGE,
            ("thcy", "hcy", "total homocysteine", "plasma homocysteine", "homocysteine total")),
    _marker("folate", "serum folate", {"nmol/L": 1.0, "ng/mL": _FOLATE_PER_NG_ML, "µg/L": _FOLATE_PER_NG_ML},
            (0.5, 500.0), _ENGINEERING_RANGE, ("serum folate", "folic acid", "folate serum")),
    _marker("egfr", "eGFR", {"mL/min/1.73m²": 1.0}, (1.0, 250.0), _ENGINEERING_RANGE, ("gfr estimated", "estimated gfr")),
    _marker("mcv", "mean cell volume (MCV)", {"fL": 1.0}, (40.0, 160.0), _ENGINEERING_RANGE,
            ("mean cell volume", "mean corpuscular volume")),
    _marker("haemoglobin", "haemoglobin", {"g/L": 1.0, "g/dL": 10.0, "mmol/L": _HB_PER_MMOL_L}, (20.0, 260.0),
            _ENGINEERING_RANGE, ("hemoglobin", "hb", "hgb")),
    # Not a marker: the laboratory's own MMA upper reference limit, read like one (value + unit).
    _marker("mma_upper_limit", "laboratory's MMA upper reference limit", _MMOL, (0.1, 2.0), _ENGINEERING_RANGE),
    _years("age", (16.0, 120.0), _CLINICAL_RANGE, ("age years",)),  # NICE NG239 covers over 16s
    _years("metformin_years", _MEDICINE_YEARS, _ENGINEERING_RANGE),
    _years("ppi_years", _MEDICINE_YEARS, _ENGINEERING_RANGE),
    _years("h2_blocker_years", _MEDICINE_YEARS, _ENGINEERING_RANGE),
    # Choices are matched ignoring case, "_" and "-" read as spaces.
    Field("sex", "choice", ("gender",), choices=("female", "male")),
    Field("anti_if_antibody", "choice", choices=("positive", "negative", "not tested")),
    Field("diet", "choice", choices=("omnivore", "vegetarian", "vegan", "low animal food")),
    Field("gastric_surgery", "choice", choices=("none", "gastrectomy", "bariatric", "ileal resection")),
    # In CSV: true/false/yes/no/1/0 (any case); in JSON: true/false.
    *(Field(name, "yes/no") for name in ("pregnant", "colchicine", "topiramate", "pregabalin", "phenobarbital",
                                         "primidone", "combined_oral_contraceptive", "nitrous_oxide",
                                         "neurological_symptoms")),
    Field("conditions", "conditions", choices=("pernicious anaemia", "autoimmune gastritis", "coeliac disease",
                                               "type 1 diabetes", "sjogren", "myeloma", "hiv")),
)
#: Field name -> field.
FIELD: dict[str, Field] = {f.name: f for f in FIELDS}


def _of_kind(kind: Kind) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS if f.kind == kind)


#: The markers (measured values with a unit), name -> field, in report order.
MARKER_SPECS: dict[str, Field] = {name: FIELD[name] for name in _of_kind("marker")}
MARKERS: tuple[str, ...] = tuple(MARKER_SPECS)
NUMBER_FIELDS: tuple[str, ...] = _of_kind("number")
BOOLEAN_FIELDS: tuple[str, ...] = _of_kind("yes/no")
#: Choice field -> its choices.
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {name: FIELD[name].choices for name in _of_kind("choice")}
CONDITIONS: tuple[str, ...] = FIELD["conditions"].choices
UNIT_SUFFIX = "_unit"
#: Every column a panel may carry, in report order (each marker may have a ``<marker>_unit`` column).
KNOWN_FIELDS: tuple[str, ...] = (
    "id", *MARKERS, *(m + UNIT_SUFFIX for m in MARKERS), *(f.name for f in FIELDS if f.kind not in ("id", "marker")))

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})
#: Other spellings accepted for a condition (after :func:`normalise_choice`).
_CONDITION_ALIASES: dict[str, str] = {
    "pernicious anemia": "pernicious anaemia",
    "celiac disease": "coeliac disease",
    "coeliac": "coeliac disease",
    "celiac": "coeliac disease",
    "type 1 diabetes mellitus": "type 1 diabetes",
    "sjögren": "sjogren",
    "sjogren's": "sjogren",
    "sjögren's": "sjogren",
    "sjogren syndrome": "sjogren",
    "sjogren's syndrome": "sjogren",
    "sjögren's syndrome": "sjogren",
}


def normalise_choice(text: str) -> str:
    """Lower case, ``_``/``-`` read as spaces, runs of spaces collapsed.

    >>> normalise_choice("  Not_Tested "), normalise_choice("Low-animal  food")
    ('not tested', 'low animal food')
    """
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def find_condition(text: str) -> str | None:
    """The condition that ``text`` names, or None."""
    key = normalise_choice(text)
    key = _CONDITION_ALIASES.get(key, key)
    return key if key in CONDITIONS else None
