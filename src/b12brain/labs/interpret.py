"""Interpretation of one panel (:func:`interpret_panel`) or a whole table (:func:`interpret_cohort`).

Both run :func:`b12brain.labs.rules.evaluate` on columns (a one-row table for a single panel);
the single-panel path then turns the booleans into :class:`~b12brain.clinical.Finding` objects
with their sentences and citations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from b12brain.clinical import SOURCES, URGENCY_ORDER, Finding
from b12brain.errors import LabValueError
from b12brain.labs.advice import ADVICE_RULES, advise
from b12brain.labs.cb12 import CB12_CATEGORIES, CB12_INPUTS, cb12_missing, cb12_note
from b12brain.labs.censored import CENSOR_SIGNS, CENSORED_LABEL, SIGN_CODES, censored_sentence, straddled_bands
from b12brain.labs.columns import PanelColumns
from b12brain.labs.panel import Cohort, Panel, read_cohort
from b12brain.labs.result import CohortResult, LabResult, MarkerResult
from b12brain.labs.rules import (
    FLAG_RULES,
    NEXT_TEST_RULES,
    STATUSES,
    SUSPECTED_RULE,
    URGENCY_RULES,
    Basis,
    Evaluation,
    Rule,
    cb12_beside_status,
    evaluate,
    status_reason,
)
from b12brain.labs.thresholds import (
    B12_BSH_CUTOFF,
    B12_NICE,
    B12_WHO,
    CENSORED,
    HB_FEMALE,
    HB_LABELS,
    HB_MALE,
    MARKER_TABLES,
    MMA_LABELS,
    MMA_LEVEL,
    MMA_SOURCE,
    BandTable,
    censored_range,
    classify_mma,
    mma_rule_text,
)
from b12brain.labs.units import MARKER_SPECS, MARKERS

#: Cohort output column of each canonical marker value (the unit is in the name).
VALUE_COLUMNS: dict[str, str] = {
    "b12": "b12_pmol_l",
    "holotc": "holotc_pmol_l",
    "mma": "mma_umol_l",
    "homocysteine": "homocysteine_umol_l",
    "folate": "folate_nmol_l",
    "egfr": "egfr_ml_min_1_73m2",
    "mcv": "mcv_fl",
    "haemoglobin": "haemoglobin_g_l",
    "mma_upper_limit": "mma_upper_limit_umol_l",
}
#: The fields of MARKERS that are interpreted (the MMA upper limit is a setting of the MMA rule).
INTERPRETED: tuple[str, ...] = tuple(m for m in MARKERS if m != "mma_upper_limit")
_HB_UNKNOWN_SEX_RULE = (
    "haemoglobin with sex unknown: < 120 g/L anaemia for either sex, >= 130 g/L no anaemia for either sex, "
    "120-130 g/L not classified. " + HB_MALE.note
)


def interpret_panel(panel: Panel, *, require_cb12: bool = False, symptoms: bool = False,
                    neurological: bool = False, nitrous_oxide: bool = False) -> LabResult:
    """Interpret one validated panel: marker categories, status, cB12, flags, next tests,
    suggestions for the clinician and urgency.

    Parameters
    ----------
    panel : Panel
        From :func:`~b12brain.labs.parse_panel` or :func:`~b12brain.labs.read_panel`.
    require_cb12 : bool
        Raise instead of reporting "not computed" when cB12 cannot be computed.
    symptoms, neurological, nitrous_oxide : bool
        Symptoms (any), neurological symptoms and nitrous oxide use reported elsewhere, e.g. by
        the questionnaire; they join the panel's own ``neurological_symptoms`` and
        ``nitrous_oxide`` fields in the rules.

    Raises
    ------
    LabValueError
        ``require_cb12`` is set and B12, holoTC, MMA, homocysteine or age is missing (the error
        names the first missing field).

    Examples
    --------
    >>> from b12brain.labs import parse_panel
    >>> r = interpret_panel(parse_panel({"b12": "120 pmol/L", "holotc": "20 pmol/L", "mma": "0.8 umol/L",
    ...                                  "homocysteine": "25 umol/L", "age": 50}))
    >>> round(r.cb12, 2), r.cb12_category, r.b12_status, r.markers["b12"].category
    (-1.64, 'possible deficiency', 'deficiency confirmed', 'deficiency confirmed')
    """
    values = {f: getattr(panel, f) for f, _ in CB12_INPUTS}
    missing = cb12_missing(values)
    censored = [name for f, name in CB12_INPUTS if f in panel.censored]
    if require_cb12 and missing:
        field = next(f for f, name in CB12_INPUTS if name == missing[0])
        raise LabValueError(panel.source, field, f"missing {field} when cB12 is asked (missing: {', '.join(missing)})",
                            "B12, holoTC, MMA, homocysteine and age, all present")
    if require_cb12 and censored:
        field = next(f for f, name in CB12_INPUTS if name == censored[0])
        raise LabValueError(panel.source, field, f"{field} is a bound ({panel.censored[field]}), not a measured value, "
                            "when cB12 is asked", "measured values of B12, holoTC, MMA, homocysteine and age")
    evaluation = evaluate(panel.columns, symptoms=np.array([symptoms]),
                          neurological=np.array([neurological]), nitrous=np.array([nitrous_oxide]))
    basis = evaluation.basis
    markers = {m: _marker_result(panel, basis, m) for m in INTERPRETED if basis.categories[m][0] != -1}
    cb12 = None if missing or censored else float(basis.cb12[0])
    cb12_category = None if cb12 is None else CB12_CATEGORIES.labels[basis.cb12_category[0]]
    flags = _findings(FLAG_RULES, evaluation.flags, panel, basis)
    next_tests = _findings(NEXT_TEST_RULES, evaluation.next_tests, panel, basis)
    reasons = _findings(URGENCY_RULES, evaluation.urgency_reasons, panel, basis)
    advice = _findings(ADVICE_RULES, advise(basis), panel, basis)
    context = _context(panel, basis)
    used = [m.finding.source for m in markers.values()]
    if cb12 is not None:
        used += ["FEDOSOV_2015", CB12_CATEGORIES.source]
    used += [f.source for f in (*context, *flags, *next_tests, *advice, *reasons)]
    return LabResult(
        panel=panel,
        markers=markers,
        cb12=cb12,
        cb12_category=cb12_category,
        cb12_note=cb12_note(missing, censored),
        b12_status=STATUSES[basis.status[0]],
        suspected_deficiency=bool(basis.suspected[0]),
        flags=flags,
        next_tests=next_tests,
        advice=advice,
        urgency=URGENCY_ORDER[evaluation.urgency[0]],
        urgency_reasons=reasons,
        sources=tuple(SOURCES[k] for k in dict.fromkeys(used)),
        context=context,
        symptoms_reported=symptoms,
        neurological_reported=neurological,
        nitrous_oxide_reported=nitrous_oxide,
    )


def interpret_cohort(table: Cohort | pd.DataFrame | Path | str, *, source: str | None = None,
                     require_cb12: bool = False) -> CohortResult:
    """Interpret every panel of a table (CSV path, DataFrame or a :class:`Cohort` already read), column-wise.

    Bad rows are left out and reported in ``errors`` (one LabValueError per bad cell, naming
    "row N" with data rows counted from 1 below the header). The output table has one row per
    good panel: ``row``, ``id``, canonical values (``b12_pmol_l`` ...), ``age_years``,
    ``<marker>_category``, ``first_line_category``, ``b12_status``, ``suspected_deficiency``,
    ``cb12``, ``cb12_category``, ``cb12_disagrees``, ``flag_<code>``, ``next_<code>`` and
    ``advice_<code>`` booleans, ``urgency``.

    Parameters
    ----------
    table : Cohort, DataFrame, path or str
        The panels, one per row (see :func:`~b12brain.labs.read_cohort`).
    source : str, optional
        How messages name the table (default: the path, or "DataFrame").
    require_cb12 : bool
        Also leave out the rows whose cB12 cannot be computed (B12, holoTC, MMA, homocysteine
        or age missing, or given as a bound), each with one error naming its row.

    Raises
    ------
    LabValueError
        The table as a whole cannot be read (see :func:`~b12brain.labs.read_cohort`).
    """
    cohort = table if isinstance(table, Cohort) else read_cohort(table, source=source)
    out, errors = _cohort_table(cohort.columns, evaluate(cohort.columns)), cohort.errors
    if require_cb12:
        without = out["cb12"].isna().to_numpy()
        errors += tuple(LabValueError(f"{cohort.source}, row {row}", "cb12", "cannot be computed",
                                      "measured B12, holoTC, MMA, homocysteine and age (cB12 is required)")
                        for row in out.loc[without, "row"])
        out = out[~without].reset_index(drop=True)
    return CohortResult(out, errors)


def _cohort_table(cols: PanelColumns, evaluation: Evaluation) -> pd.DataFrame:
    """The output table of :func:`interpret_cohort` from columns and their evaluation."""
    basis = evaluation.basis
    out: dict[str, object] = {"row": cols.rows, "id": cols.ids}
    out.update({VALUE_COLUMNS[m]: cols.markers[m] for m in MARKERS})
    out["age_years"] = cols.numbers["age"]
    for m in INTERPRETED:
        labels = [*({"haemoglobin": HB_LABELS, "mma": MMA_LABELS}.get(m) or MARKER_TABLES[m].labels), CENSORED_LABEL]
        codes = np.where(basis.categories[m] == CENSORED, len(labels) - 1, basis.categories[m])
        out[f"{m}_category"] = pd.Categorical.from_codes(codes, categories=labels)
        out[f"{m}_censored"] = pd.Categorical.from_codes(cols.censors[m] - 1, categories=list(CENSOR_SIGNS[1:]))
    out["first_line_category"] = pd.Categorical.from_codes(basis.first_line, categories=list(B12_NICE.labels))
    out["b12_status"] = pd.Categorical.from_codes(basis.status, categories=list(STATUSES))
    out["suspected_deficiency"] = basis.suspected
    out["cb12"] = basis.cb12
    out["cb12_category"] = pd.Categorical.from_codes(basis.cb12_category, categories=list(CB12_CATEGORIES.labels))
    out["cb12_disagrees"] = basis.cb12_disagrees
    out.update({f"flag_{code}": mask for code, mask in evaluation.flags.items()})
    out.update({f"next_{code}": mask for code, mask in evaluation.next_tests.items()})
    out.update({f"advice_{code}": mask for code, mask in advise(basis).items()})
    out["urgency"] = pd.Categorical.from_codes(evaluation.urgency, categories=list(URGENCY_ORDER))
    return pd.DataFrame(out)


def _findings(rules: tuple[Rule, ...], applies: dict[str, np.ndarray], panel: Panel, basis: Basis) -> tuple[Finding, ...]:  # type: ignore[type-arg]
    return tuple(Finding(r.code, r.message(panel, basis), r.source, r.level) for r in rules if applies[r.code][0])


def _marker_table(panel: Panel, marker: str) -> BandTable | None:
    if marker == "mma":
        return None
    if marker != "haemoglobin":
        return MARKER_TABLES[marker]
    return {"female": HB_FEMALE, "male": HB_MALE}.get(panel.sex or "")


def _marker_result(panel: Panel, basis: Basis, marker: str) -> MarkerResult:
    spec = MARKER_SPECS[marker]
    code = int(basis.categories[marker][0])
    value = panel.marker(marker)
    assert value is not None  # only measured markers have a category
    seen = panel.as_seen(marker) or (value, spec.unit)
    table = _marker_table(panel, marker)
    censor = panel.censored.get(marker, "")
    if code == CENSORED:
        return _censored_result(panel, basis, marker, table, seen, censor)
    if marker == "mma":
        which = "laboratory's" if panel.mma_upper_limit is not None else "default"
        category, rule, source, level = MMA_LABELS[code], mma_rule_text(panel.mma_upper_limit), MMA_SOURCE, MMA_LEVEL
        band = f"{which} upper reference limit {basis.mma_upper[0]:g} µmol/L"
    elif table is None:  # haemoglobin, sex unknown
        category, rule, band = HB_LABELS[code], f"{_HB_UNKNOWN_SEX_RULE} ({HB_MALE.source} [{HB_MALE.level}])", "sex unknown"
        source, level = HB_MALE.source, HB_MALE.level
    else:
        category, rule = table.labels[code], table.rule_text(code)
        band, source, level = table.bands[code].describe(table.unit), table.source, table.level
    shown = f"{censor}{value:.4g} {spec.unit}"
    if table is not None and table.canonical_per_unit != 1.0:
        shown += f" ({censor}{float(table.in_unit([value])[0]):.4g} {table.unit})"
    message = f"{spec.label} {shown}: {category}" + (f" ({band})" if band else "")
    return MarkerResult(marker, value, spec.unit, seen[0], seen[1], category, rule,
                        Finding(f"{marker}_category", message, source, level), censor)


def _censored_result(panel: Panel, basis: Basis, marker: str, table: BandTable | None,
                     seen: tuple[float, str], censor: str) -> MarkerResult:
    """A censored value whose bound allows values in several categories."""
    spec, value, sign = MARKER_SPECS[marker], basis.cols.markers[marker][0], SIGN_CODES[censor]
    if marker == "mma":
        inner, outer = censored_range(np.array([value]), sign)
        upper = basis.mma_upper[:1]
        a, b = sorted((int(classify_mma(inner, upper)[0]), int(classify_mma(outer, upper)[0])))
        bands, source, level = tuple(MMA_LABELS[a : b + 1]), MMA_SOURCE, MMA_LEVEL
    else:
        table = table or HB_MALE
        bands, source, level = straddled_bands(table, value, sign), table.source, table.level
    rule = censored_sentence(spec.label, seen[0], seen[1], sign, bands)
    message = f"{spec.label} {censor}{value:.4g} {spec.unit}: {CENSORED_LABEL} (straddles {' / '.join(bands)})"
    return MarkerResult(marker, value, spec.unit, seen[0], seen[1], CENSORED_LABEL, rule,
                        Finding(f"{marker}_category", message, source, level), censor)


def _context(panel: Panel, basis: Basis) -> tuple[Finding, ...]:
    suspected = "yes" if basis.suspected[0] else "no"
    found = [
        Finding("b12_status_rule", status_reason(panel, basis), "NICE_NG239", "S"),
        Finding("suspected_deficiency_rule", f"Suspected deficiency: {suspected}. {SUSPECTED_RULE}", "B12BRAIN", "U"),
    ]
    if basis.cb12_category[0] >= 0:
        found.append(Finding("cb12_beside_status", cb12_beside_status(basis), CB12_CATEGORIES.source, CB12_CATEGORIES.level))
    if panel.b12 is not None:
        for code, key, table in (("b12_bsh_cutoff", "b12_bsh", B12_BSH_CUTOFF), ("b12_who_band", "b12_who", B12_WHO)):
            band = basis.context[key][0]
            label = CENSORED_LABEL if band == CENSORED else table.labels[band]
            bands = "; ".join(f"{b.describe(table.unit)} {b.label}" for b in table.bands)
            value = f"{panel.censored.get('b12', '')}{float(table.in_unit([panel.b12])[0]):.4g} {table.unit}"
            found.append(Finding(code, f"Context, not the rule: total B12 {value} is '{label}' on the "
                                       f"{table.name} [{bands}].", table.source, table.level))
    return tuple(found)
