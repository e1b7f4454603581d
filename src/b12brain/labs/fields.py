"""The fields of a lab panel (same names in JSON and CSV) and the choices each accepts."""

from __future__ import annotations

from typing import Literal, get_args

from b12brain.labs.units import (
    AGE_RANGE_YEARS,
    CLINICAL_RANGE,
    ENGINEERING_RANGE,
    MARKERS,
    MEDICINE_YEARS_RANGE,
)

#: Number fields: (low, high) plausible range, unit, basis of the range.
NUMBER_FIELDS: dict[str, tuple[float, float, str, str]] = {
    "age": (*AGE_RANGE_YEARS, "years", CLINICAL_RANGE),
    "metformin_years": (*MEDICINE_YEARS_RANGE, "years", ENGINEERING_RANGE),
    "ppi_years": (*MEDICINE_YEARS_RANGE, "years", ENGINEERING_RANGE),
    "h2_blocker_years": (*MEDICINE_YEARS_RANGE, "years", ENGINEERING_RANGE),
}

#: Yes/no fields. In CSV: true/false/yes/no/1/0 (any case); in JSON: true/false.
BOOLEAN_FIELDS: tuple[str, ...] = (
    "pregnant",
    "colchicine",
    "topiramate",
    "pregabalin",
    "phenobarbital",
    "primidone",
    "combined_oral_contraceptive",
    "nitrous_oxide",
    "neurological_symptoms",
)
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})

# The choices of each choice field, declared once: as the types of the Panel fields, and (read
# back with get_args) as the lists the validation accepts.
Sex = Literal["female", "male"]
AntiIF = Literal["positive", "negative", "not tested"]
Diet = Literal["omnivore", "vegetarian", "vegan", "low animal food"]
GastricSurgery = Literal["none", "gastrectomy", "bariatric", "ileal resection"]
#: Fields with a fixed list of choices (matched ignoring case, "_" and "-" read as spaces).
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "sex": get_args(Sex),
    "anti_if_antibody": get_args(AntiIF),
    "diet": get_args(Diet),
    "gastric_surgery": get_args(GastricSurgery),
}

#: ``conditions``: a list (JSON) or a ";"-separated cell (CSV) of these.
CONDITIONS: tuple[str, ...] = (
    "pernicious anaemia",
    "autoimmune gastritis",
    "coeliac disease",
    "type 1 diabetes",
    "sjogren",
    "myeloma",
    "hiv",
)
#: Other spellings accepted for a condition (after normalising case and separators).
CONDITION_ALIASES: dict[str, str] = {
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

UNIT_SUFFIX = "_unit"
#: Every field a panel may carry, in report order.
KNOWN_FIELDS: tuple[str, ...] = (
    "id",
    *MARKERS,
    *(m + UNIT_SUFFIX for m in MARKERS),
    *NUMBER_FIELDS,
    *CHOICE_FIELDS,
    *BOOLEAN_FIELDS,
    "conditions",
)


def normalise_choice(text: str) -> str:
    """Lower case, ``_``/``-`` read as spaces, runs of spaces collapsed.

    >>> normalise_choice("  Not_Tested "), normalise_choice("Low-animal  food")
    ('not tested', 'low animal food')
    """
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def find_condition(text: str) -> str | None:
    """The condition that ``text`` names, or None."""
    key = normalise_choice(text)
    key = CONDITION_ALIASES.get(key, key)
    return key if key in CONDITIONS else None
