"""The interpretation rules, column-wise: status, suspicion, confounder flags, next tests, urgency.

Every rule is a row of a table (:data:`FLAG_RULES`, :data:`NEXT_TEST_RULES`,
:data:`URGENCY_RULES`; treatment suggestions in :mod:`b12brain.labs.advice`) with its source
key and evidence level, a vectorised condition (one boolean per panel) and the sentence a
single-panel report prints. :func:`evaluate` runs all of them on
:class:`~b12brain.labs.columns.PanelColumns`, so a cohort of a million panels and a single panel
go through the same code. The rules are listed, with their sources, in the project's
``docs/clinical-reference.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from b12brain.clinical import URGENCY_ORDER, EvidenceLevel, Urgency
from b12brain.labs.cb12 import CB12_CATEGORIES, CB12_INPUTS, compute_cb12
from b12brain.labs.columns import PanelColumns
from b12brain.labs.fields import CONDITIONS
from b12brain.labs.panel import Panel
from b12brain.labs.thresholds import (
    B12_BSH_CUTOFF,
    B12_NICE,
    B12_WHO,
    CENSORED,
    HB_LABELS,
    LOW,
    MARKER_TABLES,
    MMA_LABELS,
    NORMAL,
    classify_haemoglobin,
    classify_mma,
    mma_upper_limits,
)

BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]

STATUSES: tuple[str, ...] = (
    "deficiency confirmed",
    "deficiency likely",
    "indeterminate",
    "deficiency less likely",
    "deficiency unlikely",
    "not assessable",
)
CONFIRMED, LIKELY, INDETERMINATE, LESS_LIKELY, UNLIKELY, NOT_ASSESSABLE = range(len(STATUSES))
#: The first-line markers of NICE NG239 (same three categories, in the same order).
FIRST_LINE_MARKERS: tuple[str, ...] = ("b12", "holotc")
_FL_CONFIRMED, _FL_INDETERMINATE, _FL_UNLIKELY = range(3)
#: Homocysteine upper reference limit (~15 µmol/L [V]); it decides with MMA after nitrous oxide.
HCY_UPPER_UMOL_L = MARKER_TABLES["homocysteine"].bands[1].lower
STATUS_RULE = (
    "B12 status (b12brain's combination of the markers, following the NICE NG239 sequence): the first-line "
    "marker, total B12 (< 180 / 180-350 / > 350 ng/L) or active B12 (holoTC < 25 / 25-70 / > 70 pmol/L), gives "
    "deficiency confirmed / indeterminate / deficiency unlikely; when both are measured and disagree, the lower "
    "category leads. When the first-line result is indeterminate, an MMA above the upper reference limit (the "
    "laboratory's own, else 0.45 umol/L) makes it 'deficiency likely' (functional deficiency) and an MMA within "
    "it 'deficiency less likely'. With nitrous oxide use a normal first-line result does not make deficiency "
    "unlikely: homocysteine (> 15 umol/L raised) and MMA decide. No first-line marker: not assessable. cB12 is "
    "supporting evidence shown beside the status; it never changes it."
)
SUSPECTED_RULE = (
    "'suspected deficiency' (b12brain's rule): deficiency confirmed or likely; or a first-line result "
    "indeterminate with at least one symptom or sign (reported symptoms, anaemia or macrocytosis) or risk "
    "factor; or nitrous oxide use, whatever the B12 result."
)
#: Risk-factor limits (NICE NG239 [S]).
RISK_AGE_YEARS = 65.0
RISK_PPI_YEARS = 2.0


@dataclass(frozen=True)
class Basis:
    """Per-panel categories, status and suspicion: what the flag, test and urgency rules read.

    ``symptoms`` (any symptom or sign) and ``neurological`` (neurological symptoms) join the
    panel's ``neurological_symptoms`` field with what the caller reports from a questionnaire.
    ``risk`` and ``suspected`` are set by :func:`evaluate` once the risk-factor flags are known.
    """

    cols: PanelColumns
    categories: dict[str, CodeArray]  # marker -> band index (-1 not measured); mma -> MMA_LABELS; haemoglobin -> HB_LABELS
    first_line: CodeArray  # the leading first-line category (index into B12_NICE.labels), -1 none
    first_line_disagree: BoolArray
    mma_upper: FloatArray  # the MMA upper reference limit used (laboratory's, else default)
    mma_above: BoolArray
    hcy_raised: BoolArray
    status: CodeArray  # index into STATUSES
    cb12: FloatArray
    cb12_category: CodeArray
    cb12_disagrees: BoolArray
    symptoms: BoolArray
    neurological: BoolArray
    nitrous: BoolArray  # nitrous oxide use, from the panel or reported elsewhere
    context: dict[str, CodeArray]  # "b12_who", "b12_bsh" band indices
    risk: BoolArray
    suspected: BoolArray

    def has(self, marker: str) -> BoolArray:
        return ~np.isnan(self.cols.markers[marker])

    def cat(self, marker: str) -> CodeArray:
        return self.categories[marker]

    def at_least(self, marker: str, label: str) -> BoolArray:
        """The marker is measured and in the band ``label`` or a higher one."""
        return self.categories[marker] >= MARKER_TABLES[marker].index(label)

    def is_band(self, marker: str, label: str) -> BoolArray:
        return self.categories[marker] == MARKER_TABLES[marker].index(label)

    def status_in(self, *statuses: int) -> BoolArray:
        return np.isin(self.status, statuses)


@dataclass(frozen=True)
class Rule:
    """One flag, next-test, advice or urgency rule: a vectorised condition and its sentence.

    ``tier`` is the urgency an urgency rule gives (None for the other tables).
    """

    code: str
    source: str
    level: EvidenceLevel
    applies: Callable[[Basis], BoolArray]
    message: Callable[[Panel, Basis], str]
    tier: Urgency | None = None


@dataclass(frozen=True)
class Evaluation:
    """Everything the rules found, one element per panel."""

    basis: Basis
    flags: dict[str, BoolArray]
    next_tests: dict[str, BoolArray]
    urgency_reasons: dict[str, BoolArray]
    urgency: CodeArray  # index into clinical.URGENCY_ORDER


def _first_line(categories: dict[str, CodeArray]) -> tuple[CodeArray, BoolArray]:
    """The leading first-line category (the lower of the two measured) and whether they disagree."""
    # A bound that straddles two bands (code -2, e.g. "<150 pmol/L") is read as indeterminate.
    b12, holotc = (np.where(categories[m] == CENSORED, np.int8(_FL_INDETERMINATE), categories[m]) for m in ("b12", "holotc"))
    none = np.int8(99)
    lowest = np.minimum(np.where(b12 < 0, none, b12), np.where(holotc < 0, none, holotc))
    first = np.where(lowest == none, np.int8(-1), lowest).astype(np.int8)
    return first, (b12 >= 0) & (holotc >= 0) & (b12 != holotc)


def _status(first: CodeArray, mma_above: BoolArray, mma_within: BoolArray, hcy_raised: BoolArray,
            hcy_normal: BoolArray, nitrous: BoolArray) -> CodeArray:
    """Status per :data:`STATUS_RULE`."""
    # After nitrous oxide homocysteine and MMA decide whenever the first-line result is not
    # a confirmed deficiency; otherwise MMA refines an indeterminate result only.
    open_question = (first == _FL_INDETERMINATE) | (nitrous & (first != _FL_CONFIRMED))
    raised = mma_above | (nitrous & hcy_raised)
    normal = mma_within | (nitrous & hcy_normal)
    return np.select(
        [first == _FL_CONFIRMED, open_question & raised, open_question & normal,
         open_question & (first >= 0), first == _FL_UNLIKELY],
        [CONFIRMED, LIKELY, LESS_LIKELY, INDETERMINATE, UNLIKELY],
        default=NOT_ASSESSABLE,
    ).astype(np.int8)


def assess(cols: PanelColumns, symptoms: BoolArray | None = None, neurological: BoolArray | None = None,
           nitrous: BoolArray | None = None) -> Basis:
    """Categories, first-line result, status and cB12 of every panel, column-wise.

    ``symptoms``, ``neurological`` and ``nitrous`` (one boolean per panel) add what a
    questionnaire reports to the panel's own ``neurological_symptoms`` and ``nitrous_oxide``
    fields. ``risk`` and ``suspected`` are left False here; :func:`evaluate` sets them.
    """
    n = len(cols)
    none = np.zeros(n, dtype=bool)
    categories = {m: table.classify(cols.markers[m], cols.censors[m]) for m, table in MARKER_TABLES.items()}
    upper = mma_upper_limits(cols.markers["mma_upper_limit"])
    categories["mma"] = classify_mma(cols.markers["mma"], upper, cols.censors["mma"])
    categories["haemoglobin"] = classify_haemoglobin(cols.markers["haemoglobin"], cols.choices["sex"], cols.censors["haemoglobin"])
    first, disagree = _first_line(categories)
    hcy_raised = categories["homocysteine"] >= MARKER_TABLES["homocysteine"].index("raised")
    hcy_normal = categories["homocysteine"] == MARKER_TABLES["homocysteine"].index("normal")
    # A censored MMA that straddles the limit (code -2) is neither above nor within it.
    mma_above, mma_within = categories["mma"] >= 1, categories["mma"] == 0
    nitrous = cols.is_yes("nitrous_oxide") | (none if nitrous is None else nitrous)
    status = _status(first, mma_above, mma_within, hcy_raised, hcy_normal, nitrous)
    # cB12 needs measured numbers: a censored marker (a bound) leaves it not computed.
    inputs = [cols.numbers[f] if f == "age" else np.where(cols.censors[f] == 0, cols.markers[f], np.nan)
              for f, _ in CB12_INPUTS]
    cb12 = compute_cb12(*inputs)
    cb12_category = CB12_CATEGORIES.classify(cb12)
    cb12_verdict = CB12_CATEGORIES.verdicts[cb12_category]
    cb12_disagrees = (((cb12_verdict == LOW) & np.isin(status, (LESS_LIKELY, UNLIKELY)))
                      | ((cb12_verdict == NORMAL) & np.isin(status, (CONFIRMED, LIKELY))))
    neuro = cols.is_yes("neurological_symptoms") | (none if neurological is None else neurological)
    signs = (categories["haemoglobin"] == HB_LABELS.index("anaemia")) | (categories["mcv"] == MARKER_TABLES["mcv"].index("macrocytosis"))
    reported = neuro | signs | (none if symptoms is None else symptoms)
    b12, b12_censors = cols.markers["b12"], cols.censors["b12"]
    context = {"b12_who": B12_WHO.classify(b12, b12_censors), "b12_bsh": B12_BSH_CUTOFF.classify(b12, b12_censors)}
    return Basis(cols, categories, first, disagree, upper, mma_above, hcy_raised, status, cb12, cb12_category,
                 cb12_disagrees, reported, neuro, nitrous, context, none, none)


def evaluate(cols: PanelColumns, *, symptoms: BoolArray | None = None, neurological: BoolArray | None = None,
             nitrous: BoolArray | None = None) -> Evaluation:
    """Run every rule on every panel (see :func:`assess` for the reported ``symptoms``,
    ``neurological`` symptoms and ``nitrous`` oxide use)."""
    basis = assess(cols, symptoms, neurological, nitrous)
    flags = {r.code: r.applies(basis) for r in FLAG_RULES}
    risk = np.logical_or.reduce([flags[r.code] for r in FLAG_RULES if r.code.startswith("risk_")])
    first = basis.first_line
    suspected = (basis.status_in(CONFIRMED, LIKELY) | ((first == _FL_INDETERMINATE) & (basis.symptoms | risk))
                 | basis.nitrous)
    basis = replace(basis, risk=risk, suspected=suspected)
    next_tests = {r.code: r.applies(basis) for r in NEXT_TEST_RULES}
    reasons = {r.code: r.applies(basis) for r in URGENCY_RULES}
    urgency = np.zeros(len(cols), dtype=np.int8)
    for r in URGENCY_RULES:
        assert r.tier is not None
        urgency = np.maximum(urgency, np.where(reasons[r.code], np.int8(URGENCY_ORDER.index(r.tier)), np.int8(0)))
    return Evaluation(basis, flags, next_tests, reasons, urgency.astype(np.int8))


def _ng_l(pmol_l: float) -> str:
    return f"{float(B12_NICE.in_unit(np.array([pmol_l]))[0]):.4g} ng/L"


def _first_line_words(p: Panel, b: Basis) -> str:
    """The first panel's first-line results, e.g. "total B12 179 ng/L 'deficiency confirmed'"."""
    parts = []
    if p.b12 is not None:
        parts.append(f"total B12 {_ng_l(p.b12)} ({p.b12:.4g} pmol/L) '{B12_NICE.labels[b.cat('b12')[0]]}'")
    if p.holotc is not None:
        parts.append(f"active B12 {p.holotc:.4g} pmol/L '{MARKER_TABLES['holotc'].labels[b.cat('holotc')[0]]}'")
    return " and ".join(parts)


def _mma_words(p: Panel, b: Basis) -> str:
    assert p.mma is not None
    limit = "the laboratory's" if p.mma_upper_limit is not None else "the default"
    side = "above" if b.mma_above[0] else "within"
    return f"MMA {p.mma:.4g} µmol/L is {side} {limit} upper reference limit {b.mma_upper[0]:g} µmol/L"


def status_reason(p: Panel, b: Basis) -> str:
    """Why the first panel of ``b`` got its status: the clauses of :data:`STATUS_RULE` that applied."""
    status = int(b.status[0])
    nitrous = bool(b.nitrous[0])
    words = [f"B12 status '{STATUSES[status]}' (NICE NG239 sequence, as b12brain combines the markers):"]
    if b.first_line[0] < 0:
        words.append("neither total B12 nor active B12 (holoTC) was measured, and NICE NG239 starts with one of them")
        if p.mma is not None and not nitrous:
            words.append(f"({_mma_words(p, b)}; MMA is a second-line test, shown as context)")
    else:
        words.append(_first_line_words(p, b))
        if b.first_line_disagree[0]:
            words.append("- the two first-line markers disagree; the lower category leads")
    if nitrous and status != CONFIRMED:
        words.append("; nitrous oxide use: a normal total or active B12 does not make deficiency unlikely (serum B12 "
                     "is often normal after nitrous oxide), so homocysteine and MMA decide")
        found = []
        if p.homocysteine is not None:
            found.append(f"homocysteine {p.homocysteine:.4g} µmol/L {'above' if b.hcy_raised[0] else 'within'} "
                         f"{_g(HCY_UPPER_UMOL_L)} µmol/L")
        if p.mma is not None:
            found.append(_mma_words(p, b))
        words.append(f"({'; '.join(found)})" if found else "(neither is measured yet)")
    elif status in (LIKELY, LESS_LIKELY):
        effect = "supports deficiency (functional deficiency)" if status == LIKELY else "makes deficiency less likely"
        words.append(f"; {_mma_words(p, b)}, which {effect}")
    if status == LIKELY and b.mma_above[0] and b.is_band("egfr", "reduced kidney function")[0]:
        words.append(f"; eGFR {p.egfr:g} is below 60: reduced kidney function can raise MMA by itself")
    return " ".join(words).replace(" ;", ";").replace(" (", " (").rstrip() + "."


def cb12_beside_status(b: Basis) -> str:
    """The first panel's status and cB12 side by side, with one sentence where they disagree."""
    head = f"B12 status {STATUSES[b.status[0]]} by NICE NG239"
    if b.cb12_category[0] < 0:
        return f"{head}; cB12 not computed."
    line = f"{head}; cB12 {b.cb12[0]:+.2f} ({CB12_CATEGORIES.labels[b.cb12_category[0]]} on the cB12 scale)."
    if b.cb12_disagrees[0]:
        line += (" cB12 and the NICE status point different ways: cB12 is supporting evidence and does not change "
                 "the status; the clinical picture decides.")
    return line


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


def fixed(text: str) -> Callable[[Panel, Basis], str]:
    """A rule sentence that does not depend on the panel."""
    return lambda p, b: text


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
         lambda p, b: f"Serum folate {_g(p.folate)} nmol/L is low (< 7 nmol/L, an unverified cut-off): "
                      "low folate raises homocysteine, while MMA stays specific to B12."),
    Rule("pregnancy_low_b12", "CONFOUNDERS", "V", _yes("pregnant"),
         fixed(f"Pregnancy {_SPURIOUS_LOW}: total B12 falls physiologically.")),
    Rule("contraceptive_low_b12", "CONFOUNDERS", "V", _yes("combined_oral_contraceptive"),
         fixed(f"A combined oral contraceptive {_SPURIOUS_LOW}.")),
    Rule("myeloma_low_b12", "CONFOUNDERS", "V", _condition("myeloma"), fixed(f"Myeloma {_SPURIOUS_LOW}.")),
    Rule("hiv_low_b12", "CONFOUNDERS", "V", _condition("hiv"), fixed(f"HIV infection {_SPURIOUS_LOW}.")),
    Rule("anti_if_positive", "BSH_2014", "V", _choice("anti_if_antibody", "positive"),
         fixed("Anti-intrinsic-factor antibodies positive: pernicious anaemia is likely (positive predictive value about 95%); "
                "high antibody titres can interfere with the assay and give a falsely normal B12.")),
    Rule("anti_if_negative", "BSH_2014", "V", _choice("anti_if_antibody", "negative"),
         fixed("Anti-intrinsic-factor antibodies negative: this does not exclude pernicious anaemia (sensitivity 40-60%).")),
    Rule("risk_age", "NICE_NG239", "S", _years_at_least("age", RISK_AGE_YEARS),
         lambda p, b: f"Age {_g(p.age)} (65 or over) {_RISK} (about 5% at 65-74 and over 10% at 75 and over)."),
    Rule("risk_diet", "NICE_NG239", "S", _choice("diet", "vegan", "low animal food"),
         lambda p, b: f"A {p.diet} diet {_RISK}."),
    *(Rule(f"risk_{c.replace(' ', '_')}", "NICE_NG239", "S", _condition(c), fixed(f"{_CONDITION_NAMES.get(c, c.capitalize())} {_RISK}."))
      for c in CONDITIONS if c not in ("myeloma", "hiv")),
    Rule("risk_gastric_surgery", "NICE_NG239", "S", _choice("gastric_surgery", "gastrectomy", "bariatric", "ileal resection"),
         lambda p, b: f"Gastric or ileal surgery ({p.gastric_surgery}) {_RISK}."),
    Rule("risk_metformin", "NICE_NG239", "S", _years_at_least("metformin_years", 0.0, strictly=True),
         lambda p, b: f"Metformin for {_g(p.metformin_years)} years {_RISK} (odds ratio 1.13 per year of use)."),
    Rule("risk_ppi", "NICE_NG239", "S", _years_at_least("ppi_years", RISK_PPI_YEARS),
         lambda p, b: f"Proton-pump inhibitors for {_g(p.ppi_years)} years (2 or more) {_RISK} (odds ratio 1.65)."),
    Rule("risk_h2_blocker", "NICE_NG239", "S", _years_at_least("h2_blocker_years", 0.0, strictly=True),
         lambda p, b: f"H2-receptor antagonists for {_g(p.h2_blocker_years)} years {_RISK} (odds ratio 1.25)."),
    *(Rule(f"risk_{d}", "NICE_NG239", "S", _yes(d), fixed(f"{d.capitalize()} {_RISK}."))
      for d in ("colchicine", "topiramate", "pregabalin", "phenobarbital", "primidone")),
    Rule("risk_nitrous_oxide", "NICE_NG239", "S", lambda b: b.nitrous, fixed(f"Recreational nitrous oxide {_RISK}.")),
    Rule("normal_mcv_or_hb", "CONFOUNDERS", "S",
         lambda b: (b.has("mcv") | b.has("haemoglobin"))
         & (~b.has("mcv") | b.is_band("mcv", "not macrocytic"))
         & (~b.has("haemoglobin") | (b.cat("haemoglobin") == HB_LABELS.index("no anaemia"))),
         fixed("A normal MCV or no anaemia does not exclude B12 deficiency (neurological damage occurs with a normal MCV in about 25%).")),
    Rule("markers_disagree", "B12BRAIN", "U", lambda b: b.first_line_disagree,
         lambda p, b: f"The first-line markers disagree ({_first_line_words(p, b)}): both are reported and the lower "
                      "category leads the status (b12brain's rule for two first-line markers)."),
)


NEXT_TEST_RULES: tuple[Rule, ...] = (
    Rule("test_b12_first", "NICE_NG239", "V", lambda b: (b.first_line < 0) & ~b.nitrous,
         fixed("Test total B12 or active B12 (holoTC) first.")),
    Rule("test_mma", "BMJ_2024", "V",
         lambda b: (b.first_line == _FL_INDETERMINATE) & b.symptoms & ~b.has("mma") & ~b.nitrous,
         fixed("B12 result indeterminate with symptoms: consider methylmalonic acid (MMA).")),
    Rule("test_hcy_mma_nitrous", "NICE_NG239", "V", lambda b: b.nitrous & ~(b.has("homocysteine") & b.has("mma")),
         fixed("Nitrous oxide use: measure homocysteine and MMA first; serum B12 is often normal after nitrous oxide "
               "(sensitivity 20-50% against 80-90% for MMA and homocysteine).")),
    Rule("test_holotc_pregnancy", "NICE_NG239", "S", lambda b: b.cols.is_yes("pregnant") & ~b.has("holotc"),
         fixed("Pregnancy: active B12 (holoTC) is the preferred test (total B12 falls physiologically).")),
    Rule("test_anti_if", "BSH_2014", "V",
         lambda b: (b.status_in(CONFIRMED, LIKELY) | b.cols.conditions["pernicious anaemia"]
                    | b.cols.conditions["autoimmune gastritis"])
         & ~b.cols.is_choice("anti_if_antibody", "positive", "negative"),
         fixed("Test anti-intrinsic-factor antibodies (pernicious anaemia / autoimmune gastritis); gastric parietal "
               "cell antibodies are not recommended for diagnosis.")),
    Rule("test_folate", "CONFOUNDERS", "V", lambda b: b.hcy_raised & ~b.has("folate"),
         fixed("Homocysteine raised and folate not measured: measure serum folate (low folate also raises homocysteine).")),
    Rule("test_egfr", "CONFOUNDERS", "V", lambda b: (b.mma_above | b.hcy_raised) & ~b.has("egfr"),
         fixed("MMA or homocysteine above its upper limit and eGFR not measured: measure eGFR (reduced kidney "
               "function raises both).")),
    Rule("test_cb12_markers", "FEDOSOV_2015", "V",
         lambda b: (b.first_line == _FL_INDETERMINATE) & np.isnan(b.cb12) & ~b.nitrous,
         lambda p, b: "Optional, as supporting evidence beside the NICE status (not a NICE step): the combined "
                      f"indicator cB12 needs B12, holoTC, MMA, homocysteine and age; missing: {_missing_for_cb12(p)}."),
)

URGENCY_RULES: tuple[Rule, ...] = (
    Rule("urgent_neurological", "NICE_CKS", "S", lambda b: b.neurological & b.suspected,
         fixed("Neurological symptoms with suspected B12 deficiency: urgent specialist (haematology) advice and prompt "
               f"treatment. Here {SUSPECTED_RULE}"), tier="urgent"),
    Rule("urgent_nitrous_oxide", "B12BRAIN", "U", lambda b: b.nitrous,
         fixed("Suspected nitrous oxide use: urgent (b12brain's red-flag list: nitrous oxide use is a red flag whatever "
               "the B12 result)."), tier="urgent"),
    Rule("soon_deficiency", "B12BRAIN", "U", lambda b: b.status_in(CONFIRMED, LIKELY),
         lambda p, b: f"B12 status '{STATUSES[b.status[0]]}': see a clinician soon to start treatment and find the "
                      "cause (b12brain's rule: a confirmed or likely deficiency is at least 'soon').",
         tier="soon"),
)
