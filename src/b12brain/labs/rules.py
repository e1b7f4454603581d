"""The interpretation rules, column-wise: status, confounder flags, next tests and urgency.

Every rule is a row of a table (:data:`FLAG_RULES`, :data:`NEXT_TEST_RULES`,
:data:`URGENCY_RULES`) with its source key and evidence level as CLINICAL.md gives them, a
vectorised condition (one boolean per panel) and the sentence a single-panel report prints.
:func:`evaluate` runs all of them on :class:`~b12brain.labs.columns.PanelColumns`, so a cohort
of a million panels and a single panel go through the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from b12brain.clinical import URGENCY_ORDER, EvidenceLevel
from b12brain.labs.cb12 import CB12_CATEGORIES, CB12_INPUTS, compute_cb12
from b12brain.labs.columns import PanelColumns
from b12brain.labs.fields import CONDITIONS
from b12brain.labs.panel import Panel
from b12brain.labs.thresholds import (
    B12_BSH_CUTOFF,
    B12_WHO,
    HB_LABELS,
    INDETERMINATE,
    LOW,
    MARKER_TABLES,
    NO_VERDICT,
    NORMAL,
    classify_haemoglobin,
)

BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]

STATUSES: tuple[str, ...] = ("deficiency likely", "indeterminate", "deficiency unlikely", "not assessable")
_LIKELY, _INDETERMINATE, _UNLIKELY, _NOT_ASSESSABLE = range(4)
#: The markers pooled by the status rule when cB12 cannot be computed.
STATUS_MARKERS = ("b12", "holotc", "mma")
STATUS_RULE = (
    "b12brain combination rule (its own, built on the NICE NG239 process): with B12, holoTC, MMA, "
    "homocysteine and age all present, cB12 decides (probable or possible deficiency -> deficiency likely; "
    "low B12 -> indeterminate; adequate or elevated -> deficiency unlikely). Otherwise total B12 and holoTC "
    "(NICE NG239 bands) and MMA (> 0.45 umol/L points to deficiency, > 0.28-0.45 indeterminate, <= 0.28 normal) "
    "are pooled: none measured -> not assessable; some point to deficiency and some are normal -> indeterminate "
    "(markers disagree); some point to deficiency and none is normal -> deficiency likely; some normal and none "
    "points to deficiency -> deficiency unlikely (a normal second marker settles an indeterminate first one, as "
    "second-line testing does); only indeterminate results -> indeterminate."
)
#: Risk-factor limits (NICE NG239 [S], CLINICAL.md §5).
RISK_AGE_YEARS = 65.0
RISK_PPI_YEARS = 2.0


@dataclass(frozen=True)
class Basis:
    """Per-panel categories, cB12 and status: what the flag, test and urgency rules read."""

    cols: PanelColumns
    categories: dict[str, CodeArray]  # marker -> band index (-1 not measured); haemoglobin -> HB_LABELS
    cb12: FloatArray
    cb12_category: CodeArray
    status: CodeArray  # index into STATUSES
    suspected: BoolArray
    disagree: BoolArray
    context: dict[str, CodeArray]  # "b12_who", "b12_bsh" band indices

    def has(self, marker: str) -> BoolArray:
        return ~np.isnan(self.cols.markers[marker])

    def cat(self, marker: str) -> CodeArray:
        return self.categories[marker]

    def at_least(self, marker: str, label: str) -> BoolArray:
        """The marker is measured and in the band ``label`` or a higher one."""
        return self.categories[marker] >= MARKER_TABLES[marker].index(label)

    def is_band(self, marker: str, label: str) -> BoolArray:
        return self.categories[marker] == MARKER_TABLES[marker].index(label)

    def verdict(self, marker: str) -> CodeArray:
        return MARKER_TABLES[marker].verdicts[self.categories[marker]]


@dataclass(frozen=True)
class Rule:
    """One flag, next-test or urgency rule: a vectorised condition and the sentence it prints."""

    code: str
    source: str
    level: EvidenceLevel
    applies: Callable[[Basis], BoolArray]
    message: Callable[[Panel, Basis], str]


@dataclass(frozen=True)
class Evaluation:
    """Everything the rules found, one element per panel."""

    basis: Basis
    flags: dict[str, BoolArray]
    next_tests: dict[str, BoolArray]
    urgency_reasons: dict[str, BoolArray]
    urgency: CodeArray  # index into clinical.URGENCY_ORDER


def _status(categories: dict[str, CodeArray], cb12_category: CodeArray) -> tuple[CodeArray, BoolArray]:
    """Status per :data:`STATUS_RULE`, and whether the markers disagree."""
    verdicts = [MARKER_TABLES[m].verdicts[categories[m]] for m in STATUS_MARKERS]
    any_low = np.logical_or.reduce([v == LOW for v in verdicts])
    any_normal = np.logical_or.reduce([v == NORMAL for v in verdicts])
    any_present = np.logical_or.reduce([v != NO_VERDICT for v in verdicts])
    pooled = np.select(
        [~any_present, any_low & any_normal, any_low, any_normal],
        [_NOT_ASSESSABLE, _INDETERMINATE, _LIKELY, _UNLIKELY],
        default=_INDETERMINATE,
    )
    vc = CB12_CATEGORIES.verdicts[cb12_category]
    from_cb12 = np.select([vc == LOW, vc == INDETERMINATE], [_LIKELY, _INDETERMINATE], default=_UNLIKELY)
    has_cb12 = cb12_category >= 0
    status = np.where(has_cb12, from_cb12, pooled).astype(np.int8)
    disagree = (any_low & any_normal) | (has_cb12 & (((vc == LOW) & any_normal) | ((vc == NORMAL) & any_low)))
    return status, disagree


def assess(cols: PanelColumns) -> Basis:
    """Categories of every marker, cB12 and its category, status and suspicion, column-wise."""
    categories = {m: table.classify(cols.markers[m], cols.censors[m]) for m, table in MARKER_TABLES.items()}
    categories["haemoglobin"] = classify_haemoglobin(cols.markers["haemoglobin"], cols.choices["sex"], cols.censors["haemoglobin"])
    # cB12 needs measured numbers: a censored marker (a bound) leaves it not computed.
    inputs = [cols.numbers[f] if f == "age" else np.where(cols.censors[f] == 0, cols.markers[f], np.nan) for f, _ in CB12_INPUTS]
    cb12 = compute_cb12(*inputs)
    cb12_category = CB12_CATEGORIES.classify(cb12)
    status, disagree = _status(categories, cb12_category)
    mma_points_low = MARKER_TABLES["mma"].verdicts[categories["mma"]] == LOW
    suspected = (status == _LIKELY) | (status == _INDETERMINATE) | mma_points_low
    b12, b12_censors = cols.markers["b12"], cols.censors["b12"]
    context = {"b12_who": B12_WHO.classify(b12, b12_censors), "b12_bsh": B12_BSH_CUTOFF.classify(b12, b12_censors)}
    return Basis(cols, categories, cb12, cb12_category, status, suspected, disagree, context)


def evaluate(cols: PanelColumns) -> Evaluation:
    """Run every rule on every panel."""
    basis = assess(cols)
    flags = {r.code: r.applies(basis) for r in FLAG_RULES}
    next_tests = {r.code: r.applies(basis) for r in NEXT_TEST_RULES}
    reasons = {r.code: r.applies(basis) for r in URGENCY_RULES}
    urgent = np.logical_or.reduce([reasons[r.code] for r in URGENCY_RULES if r.code.startswith("urgent")])
    soon = np.logical_or.reduce([reasons[r.code] for r in URGENCY_RULES if r.code.startswith("soon")])
    urgency = np.where(urgent, URGENCY_ORDER.index("urgent"), np.where(soon, URGENCY_ORDER.index("soon"), 0)).astype(np.int8)
    return Evaluation(basis, flags, next_tests, reasons, urgency)


def status_reason(b: Basis) -> str:
    """Why the first panel of ``b`` got its status: the clause of :data:`STATUS_RULE` that applied."""
    status = STATUSES[b.status[0]]
    if b.cb12_category[0] >= 0:
        return (f"B12 status '{status}' follows cB12 '{CB12_CATEGORIES.labels[b.cb12_category[0]]}' "
                "(b12brain combination rule: with all four markers and age, cB12 decides).")
    clause = {
        _NOT_ASSESSABLE: "none of total B12, holoTC and MMA was measured",
        _LIKELY: "at least one marker points to deficiency and none is normal",
        _UNLIKELY: "at least one marker is normal and none points to deficiency (a normal marker settles an indeterminate one)",
        _INDETERMINATE: ("some markers point to deficiency and some are normal" if b.disagree[0]
                         else "the markers measured are all indeterminate"),
    }[int(b.status[0])]
    pooled = _category_words(b)
    return f"B12 status '{status}': {clause}{f' ({pooled})' if pooled else ''} (b12brain combination rule, cB12 not available)."


# --- helpers for rule conditions and sentences ---------------------------------------------
def _yes(field: str) -> Callable[[Basis], BoolArray]:
    return lambda b: b.cols.is_yes(field)


def _choice(field: str, *choices: str) -> Callable[[Basis], BoolArray]:
    return lambda b: b.cols.is_choice(field, *choices)


def _condition(name: str) -> Callable[[Basis], BoolArray]:
    return lambda b: b.cols.conditions[name]


def _years_at_least(field: str, years: float, strictly: bool = False) -> Callable[[Basis], BoolArray]:
    def applies(b: Basis) -> BoolArray:
        v = b.cols.numbers[field]
        with np.errstate(invalid="ignore"):
            return v > years if strictly else v >= years

    return applies


def _g(x: float | None) -> str:
    return "?" if x is None else f"{x:g}"


def _fixed(text: str) -> Callable[[Panel, Basis], str]:
    return lambda p, b: text


def _category_words(b: Basis) -> str:
    """The first panel's verdict-bearing categories, e.g. "total B12 'indeterminate', MMA 'raised'"."""
    parts = [f"{MARKER_TABLES[m].name} '{MARKER_TABLES[m].labels[b.cat(m)[0]]}'" for m in STATUS_MARKERS if b.cat(m)[0] >= 0]
    if b.cb12_category[0] >= 0:
        parts.append(f"cB12 '{CB12_CATEGORIES.labels[b.cb12_category[0]]}'")
    return ", ".join(parts)


def _missing_for_cb12(p: Panel) -> str:
    return ", ".join(name if getattr(p, field) is None else f"{name} as a measured value (the laboratory gave a bound)"
                     for field, name in CB12_INPUTS if getattr(p, field) is None or field in p.censored)


_CONDITION_NAMES = {"sjogren": "Sjögren's syndrome"}
_SPURIOUS_LOW = "can make total B12 spuriously low"
_RISK = "is a risk factor for B12 deficiency"

FLAG_RULES: tuple[Rule, ...] = (
    Rule("kidney_function_reduced", "CONFOUNDERS", "V", lambda b: b.is_band("egfr", "reduced kidney function"),
         lambda p, b: f"eGFR {_g(p.egfr)} mL/min/1.73m² is below 60: reduced kidney function raises MMA and homocysteine, "
                      "and unadjusted MMA overestimates B12 deficiency by about 40%."),
    Rule("low_folate", "CONFOUNDERS", "U", lambda b: b.is_band("folate", "low"),
         lambda p, b: f"Serum folate {_g(p.folate)} nmol/L is low (< 7 nmol/L, an unverified cut-off not in CLINICAL.md): "
                      "low folate raises homocysteine, while MMA stays specific to B12."),
    Rule("pregnancy_low_b12", "CONFOUNDERS", "V", _yes("pregnant"),
         _fixed(f"Pregnancy {_SPURIOUS_LOW}: total B12 falls physiologically.")),
    Rule("contraceptive_low_b12", "CONFOUNDERS", "V", _yes("combined_oral_contraceptive"),
         _fixed(f"A combined oral contraceptive {_SPURIOUS_LOW}.")),
    Rule("myeloma_low_b12", "CONFOUNDERS", "V", _condition("myeloma"), _fixed(f"Myeloma {_SPURIOUS_LOW}.")),
    Rule("hiv_low_b12", "CONFOUNDERS", "V", _condition("hiv"), _fixed(f"HIV infection {_SPURIOUS_LOW}.")),
    Rule("anti_if_positive", "BSH_2014", "V", _choice("anti_if_antibody", "positive"),
         _fixed("Anti-intrinsic-factor antibodies positive: pernicious anaemia is likely (positive predictive value about 95%); "
                "high antibody titres can interfere with the assay and give a falsely normal B12.")),
    Rule("anti_if_negative", "BSH_2014", "V", _choice("anti_if_antibody", "negative"),
         _fixed("Anti-intrinsic-factor antibodies negative: this does not exclude pernicious anaemia (sensitivity 40-60%).")),
    Rule("risk_age", "NICE_NG239", "S", _years_at_least("age", RISK_AGE_YEARS),
         lambda p, b: f"Age {_g(p.age)} (65 or over) {_RISK} (about 5% at 65-74 and over 10% at 75 and over)."),
    Rule("risk_diet", "NICE_NG239", "S", _choice("diet", "vegan", "low animal food"),
         lambda p, b: f"A {p.diet} diet {_RISK}."),
    *(Rule(f"risk_{c.replace(' ', '_')}", "NICE_NG239", "S", _condition(c), _fixed(f"{_CONDITION_NAMES.get(c, c.capitalize())} {_RISK}."))
      for c in CONDITIONS if c not in ("myeloma", "hiv")),
    Rule("risk_gastric_surgery", "NICE_NG239", "S", _choice("gastric_surgery", "gastrectomy", "bariatric", "ileal resection"),
         lambda p, b: f"Gastric or ileal surgery ({p.gastric_surgery}) {_RISK}."),
    Rule("risk_metformin", "NICE_NG239", "S", _years_at_least("metformin_years", 0.0, strictly=True),
         lambda p, b: f"Metformin for {_g(p.metformin_years)} years {_RISK} (odds ratio 1.13 per year of use)."),
    Rule("risk_ppi", "NICE_NG239", "S", _years_at_least("ppi_years", RISK_PPI_YEARS),
         lambda p, b: f"Proton-pump inhibitors for {_g(p.ppi_years)} years (2 or more) {_RISK} (odds ratio 1.65)."),
    Rule("risk_h2_blocker", "NICE_NG239", "S", _years_at_least("h2_blocker_years", 0.0, strictly=True),
         lambda p, b: f"H2-receptor antagonists for {_g(p.h2_blocker_years)} years {_RISK} (odds ratio 1.25)."),
    *(Rule(f"risk_{d}", "NICE_NG239", "S", _yes(d), _fixed(f"{d.capitalize()} {_RISK}."))
      for d in ("colchicine", "topiramate", "pregabalin", "phenobarbital", "primidone")),
    Rule("risk_nitrous_oxide", "NICE_NG239", "S", _yes("nitrous_oxide"), _fixed(f"Recreational nitrous oxide {_RISK}.")),
    Rule("normal_mcv_or_hb", "CONFOUNDERS", "S",
         lambda b: (b.has("mcv") | b.has("haemoglobin"))
         & (~b.has("mcv") | b.is_band("mcv", "not macrocytic"))
         & (~b.has("haemoglobin") | (b.cat("haemoglobin") == HB_LABELS.index("no anaemia"))),
         _fixed("A normal MCV or no anaemia does not exclude B12 deficiency (neurological damage occurs with a normal MCV in about 25%).")),
    Rule("markers_disagree", "BSH_2014", "V", lambda b: b.disagree,
         lambda p, b: f"The B12 markers disagree ({_category_words(b)}). When results disagree with strong clinical "
                      "features, do not delay treatment (risk of neurological damage)."),
)


def _deficiency_shown(b: Basis) -> BoolArray:
    return (b.status == _LIKELY) | b.is_band("b12", "deficiency confirmed") | b.is_band("holotc", "deficiency confirmed")


NEXT_TEST_RULES: tuple[Rule, ...] = (
    Rule("test_b12_first", "NICE_NG239", "V", lambda b: ~b.has("b12") & ~b.has("holotc"),
         _fixed("Test total B12 or active B12 (holoTC) first.")),
    Rule("test_mma", "BMJ_2024", "V",
         lambda b: (b.is_band("b12", "indeterminate") | b.is_band("holotc", "indeterminate"))
         & b.cols.is_yes("neurological_symptoms") & ~b.has("mma"),
         _fixed("B12 result indeterminate with neurological symptoms: consider methylmalonic acid (MMA).")),
    Rule("test_hcy_mma_nitrous", "NICE_NG239", "V", _yes("nitrous_oxide"),
         _fixed("Nitrous oxide use: rely on homocysteine and MMA (measure them first); serum B12 is often normal "
                "(sensitivity 20-50% against 80-90% for MMA and homocysteine).")),
    Rule("test_holotc_pregnancy", "NICE_NG239", "S", lambda b: b.cols.is_yes("pregnant") & ~b.has("holotc"),
         _fixed("Pregnancy: active B12 (holoTC) is the preferred test.")),
    Rule("test_anti_if", "BSH_2014", "V",
         lambda b: (_deficiency_shown(b) | b.cols.conditions["pernicious anaemia"] | b.cols.conditions["autoimmune gastritis"])
         & ~b.cols.is_choice("anti_if_antibody", "positive", "negative"),
         _fixed("Test anti-intrinsic-factor antibodies (pernicious anaemia / autoimmune gastritis); gastric parietal "
                "cell antibodies are not recommended for diagnosis.")),
    Rule("test_folate", "CONFOUNDERS", "V", lambda b: b.at_least("homocysteine", "raised") & ~b.has("folate"),
         _fixed("Homocysteine raised and folate not measured: measure serum folate (low folate also raises homocysteine).")),
    Rule("test_egfr", "CONFOUNDERS", "V",
         lambda b: (b.at_least("mma", "borderline (laboratory-dependent upper limit)") | b.at_least("homocysteine", "raised"))
         & ~b.has("egfr"),
         _fixed("MMA or homocysteine above normal and eGFR not measured: measure eGFR (reduced kidney function raises both).")),
    Rule("test_cb12_markers", "FEDOSOV_2015", "V", lambda b: np.isnan(b.cb12),
         lambda p, b: f"cB12 needs B12, holoTC, MMA, homocysteine and age; to compute it, add: {_missing_for_cb12(p)}."),
)

URGENCY_RULES: tuple[Rule, ...] = (
    Rule("urgent_nitrous_oxide", "RED_FLAGS", "U", _yes("nitrous_oxide"),
         _fixed("Suspected nitrous oxide use is a red flag: urgent (b12brain red-flag list, CLINICAL.md §6, which gives "
                "no evidence level).")),
    Rule("urgent_neurological", "NICE_CKS", "S", lambda b: b.cols.is_yes("neurological_symptoms") & b.suspected,
         _fixed("Neurological symptoms with suspected B12 deficiency: urgent specialist (haematology) advice and prompt treatment.")),
    Rule("soon_deficiency_likely", "NICE_NG239", "U", lambda b: b.status == _LIKELY,
         _fixed("B12 deficiency likely on the blood tests: see a clinician soon to start treatment and find the cause "
                "(b12brain convention, unverified).")),
)
