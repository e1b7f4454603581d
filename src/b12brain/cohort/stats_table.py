"""A cohort table read for the statistics: columns checked, cells parsed, problems counted.

The table has one row per subject or subject-session (the group table of ``b12brain bids``
or any table with its column names): ``participant_id``, ``session_id``, ``age``, ``sex``, the
labs in b12brain's canonical units and names (``b12``, ``holotc``, ``mma``, ``homocysteine``,
``folate``, ``egfr``; :mod:`b12brain.labs.fields`), ``cb12``, the lesion volumes
(``periventricular_ml``, ``deep_ml``, ...) and Fazekas grades, optional vascular risk factors
``hypertension``, ``diabetes``, ``smoking`` (0/1) and further covariates.

Nothing here stops the analysis but a table without the columns it needs: every unusable cell
(text, a censored bound such as ``<50``, an unknown unit, a value outside the plausible range,
a grade outside 0-3) becomes a missing value, counted per variable and listed per subject.
Counting conventions (:func:`prepare_cohort`): a subject (participant) is analysed once, from
its first session in sort order; rows whose subject-session appears more than once are all left
out, since which copy is right is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from b12brain.errors import ConfigError, InputFileError
from b12brain.labs.cb12 import compute_cb12
from b12brain.labs.cells import Numbers, parse_numbers, read_cells
from b12brain.labs.fields import FIELD, UNIT_SUFFIX, normalise_choice
from b12brain.labs.tablefile import MAX_TABLE_BYTES
from b12brain.labs.units import find_unit, to_canonical

#: Exposures of the association analysis (markers of B12 status).
EXPOSURES: tuple[str, ...] = ("b12", "holotc", "mma", "homocysteine", "cb12")
#: Outcomes analysed with a linear model on log(1 + volume in mL).
VOLUME_OUTCOMES: tuple[str, ...] = ("periventricular_ml", "deep_ml")
#: Outcomes analysed with a proportional-odds model (grades 0-3).
GRADE_OUTCOMES: tuple[str, ...] = ("fazekas_periventricular", "fazekas_deep")
OUTCOMES: tuple[str, ...] = VOLUME_OUTCOMES + GRADE_OUTCOMES
VASCULAR: tuple[str, ...] = ("hypertension", "diabetes", "smoking")
#: Lab columns read as measured markers (units and censored bounds understood).
_MARKERS: tuple[str, ...] = ("b12", "holotc", "mma", "homocysteine", "folate", "egfr")
_OTHER_VOLUMES: tuple[str, ...] = ("juxtacortical_ml", "infratentorial_ml", "total_lesion_ml", "brain_ml")
#: Every column the statistics read, in report order (``sex`` is read as ``male`` 0/1).
ANALYSIS_COLUMNS: tuple[str, ...] = ("age", "sex", *_MARKERS, "cb12", *OUTCOMES, *_OTHER_VOLUMES, *VASCULAR)
#: Columns of the group table that describe a row rather than the subject (not "unused" columns).
_BOOKKEEPING: tuple[str, ...] = ("status", "error", "qc_flags", "self_check", "cb12_category")
#: Columns the models already use (never a further covariate).
_MODEL_COLUMNS: tuple[str, ...] = ("age", "sex", *EXPOSURES, *OUTCOMES, *VASCULAR, "folate")
_FAZEKAS_GRADES = (0, 1, 2, 3)
#: Cells read as missing in CSV and TSV tables: empty, BIDS' "n/a", R's "NA".
MISSING_MARKS: tuple[str, ...] = ("", "n/a", "N/A", "NA")
#: Most levels a text covariate may have to be read as categorical.
MAX_LEVELS = 20

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VariableQuality:
    """What one column of the table held: usable values and each kind of unusable cell."""

    name: str
    present: bool
    usable: int
    empty: int
    censored: int = 0
    not_a_number: int = 0
    unknown_unit: int = 0
    implausible: int = 0
    invalid: int = 0
    computed: int = 0
    note: str = ""

    @property
    def unusable(self) -> int:
        return self.censored + self.not_a_number + self.unknown_unit + self.implausible + self.invalid


@dataclass(frozen=True)
class CohortData:
    """The table as analysed: one row per analysed participant, numbers only.

    ``frame`` is indexed by ``participant_id`` and holds a float column per variable present
    (NaN where missing or unusable; ``male`` 1/0 for sex). ``quality`` holds one
    :class:`VariableQuality` per known variable and covariate; ``issues`` one row per problem
    found (participant_id, session_id, variable, value, problem); ``counts`` the rows read,
    rows left out and why, and participants analysed.
    """

    frame: pd.DataFrame
    quality: tuple[VariableQuality, ...]
    issues: pd.DataFrame
    counts: dict[str, int]
    covariates: tuple[str, ...]
    source: str
    unused_columns: tuple[str, ...] = ()


def read_cohort_table(path: Path | str) -> pd.DataFrame:
    """Read a cohort table: CSV (``.csv``), TSV (``.tsv``, ``.tab``) or Parquet (``.parquet``).

    Text tables are read as text (every cell a string, or missing where it holds one of
    :data:`MISSING_MARKS`); the cells are parsed by :func:`prepare_cohort`, which reports what it
    cannot use.

    Raises
    ------
    InputFileError
        The file is missing, larger than :data:`MAX_TABLE_BYTES`, of another format, or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "not found; give the cohort table (CSV, TSV or Parquet)")
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise InputFileError(path, f"holds {size:,} bytes, more than the {MAX_TABLE_BYTES:,} read; give a smaller table")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".tsv", ".tab"):
            return pd.read_csv(path, sep="," if suffix == ".csv" else "\t", dtype=str, keep_default_na=False,
                               na_values=list(MISSING_MARKS), encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputFileError(path, f"cannot be read as a {suffix[1:].upper()} table ({err}); "
                             "check that it is a table with a header row") from err
    raise InputFileError(path, f"has the suffix {suffix or '(none)'!r}; give a .csv, .tsv or .parquet table")


def prepare_cohort(table: pd.DataFrame, *, source: str = "table", covariates: Sequence[str] = (),
                   exclude_flagged: bool = False) -> CohortData:
    """Check and parse a cohort table; keep one row per participant.

    Parameters
    ----------
    table : DataFrame
        One row per subject or subject-session, columns as described in the module docstring.
    source : str
        How messages name the table (its file name).
    covariates : sequence of str
        Further columns to adjust every model for: numeric, or text with at most :data:`MAX_LEVELS`
        values (site, scanner), entered as 0/1 indicators against the most frequent value.
    exclude_flagged : bool
        Leave out rows with a non-empty ``qc_flags`` cell.

    Raises
    ------
    InputFileError
        The table has no ``participant_id`` column, no exposure column or no outcome column
        (the message names the columns it looked for).
    ConfigError
        A covariate is not a column of the table, or is one the models already use.
    """
    columns = {str(c).strip(): c for c in table.columns}
    needed = [("participant_id", ("participant_id",)), ("an exposure", EXPOSURES), ("an outcome", OUTCOMES)]
    lacking = [f"{what} ({', '.join(names)})" for what, names in needed if not any(n in columns for n in names)]
    if lacking:
        raise InputFileError(source, f"has none of the columns the statistics need: {'; '.join(lacking)}; "
                             "name the columns as in docs/cohort-statistics.md")
    for name in covariates:
        if name not in columns:
            raise ConfigError(f"--covariates: {name!r} is not a column of {source}; columns: {', '.join(columns)}")
        if name in _MODEL_COLUMNS or name in ("participant_id", "session_id"):
            raise ConfigError(f"--covariates: {name!r} is already used by the models; name only further columns")
    issues: list[tuple[str, str, str, str, str]] = []
    ids = _text(table[columns["participant_id"]])
    sessions = _text(table[columns["session_id"]]) if "session_id" in columns else pd.Series([""] * len(table))
    counts = {"rows": len(table)}
    keep = np.ones(len(table), dtype=bool)

    def leave_out(mask: BoolArray, key: str, problem: str) -> None:
        counts[key] = int(np.count_nonzero(mask & keep))
        for i in np.flatnonzero(mask & keep):
            issues.append((ids.iat[i] or f"(row {i + 1})", sessions.iat[i], "(row)", "", problem))
        keep[mask] = False

    leave_out((ids == "").to_numpy(), "rows_without_id", "no participant_id; row left out")
    if "status" in columns:
        status = _text(table[columns["status"]]).str.lower()
        leave_out(((status != "") & (status != "ok")).to_numpy(), "rows_not_ok",
                  "status is not 'ok' (the subject failed or was skipped); row left out")
    if exclude_flagged and "qc_flags" in columns:
        leave_out((_text(table[columns["qc_flags"]]) != "").to_numpy(), "rows_qc_flagged",
                  "has QC flags; row left out (--exclude-flagged)")
    key = ids + "\x00" + sessions
    repeated = key.duplicated(keep=False).to_numpy()
    leave_out(repeated, "rows_duplicate", "subject-session appears more than once; every copy left out")
    # One row per participant: the first session in sort order (its baseline in BIDS naming).
    order = np.lexsort((sessions.to_numpy(dtype=str), ids.to_numpy(dtype=str)))
    later = np.zeros(len(table), dtype=bool)
    kept_order = order[keep[order]]
    later[kept_order] = ids.iloc[kept_order].duplicated(keep="first").to_numpy()
    leave_out(later, "rows_later_session", "a later session of a participant analysed from its first session")
    rows = np.flatnonzero(keep)
    counts["participants"] = len(rows)

    frame = pd.DataFrame(index=pd.Index(ids.iloc[rows].to_numpy(), name="participant_id"))
    quality: list[VariableQuality] = []
    model_covariates: list[str] = []
    for name in dict.fromkeys((*ANALYSIS_COLUMNS, *covariates)):
        if name not in columns:
            quality.append(VariableQuality(name, False, 0, len(rows), note="column absent"))
            continue
        column = table[columns[name]].iloc[rows].reset_index(drop=True)
        categories = _categories(column) if name in covariates and name not in ANALYSIS_COLUMNS else None
        if categories is not None:
            dummies, q = _indicators(name, column, categories)
            frame[list(dummies)] = pd.DataFrame(dummies, index=frame.index)
            model_covariates.extend(dummies)
            quality.append(q)
            continue
        values, q, bad = _parse(name, column, table, columns, rows)
        frame["male" if name == "sex" else name] = values
        model_covariates.extend([name] if name in covariates else [])
        quality.append(q)
        for i, value, problem in bad:
            issues.append((ids.iat[rows[i]], sessions.iat[rows[i]], name, value, problem))
    quality = _fill_cb12(frame, quality)
    issue_frame = pd.DataFrame(issues, columns=["participant_id", "session_id", "variable", "value", "problem"])
    read = {"participant_id", "session_id", *_BOOKKEEPING, *ANALYSIS_COLUMNS, *covariates,
            *(m + UNIT_SUFFIX for m in _MARKERS)}
    unused = tuple(name for name in columns if name not in read)
    return CohortData(frame, tuple(quality), issue_frame, counts, tuple(model_covariates), source, unused)


def _categories(column: pd.Series) -> list[str] | None:
    """The levels of a text covariate (site, scanner), most frequent first; None for a numeric one.

    A covariate is categorical when most of its filled cells are not numbers and it has at most
    :data:`MAX_LEVELS` distinct values.
    """
    shown = _text(column)
    filled = shown[shown != ""]
    if filled.empty or pd.to_numeric(filled, errors="coerce").notna().mean() >= 0.5:
        return None
    counts = filled.value_counts(sort=False)
    if len(counts) > MAX_LEVELS:
        return None
    return sorted(counts.index, key=lambda level: (-counts[level], level))


def _indicators(name: str, column: pd.Series, levels: list[str]) -> tuple[dict[str, FloatArray], VariableQuality]:
    """0/1 columns ``name=level`` for every level but the reference (the most frequent)."""
    shown = _text(column).to_numpy(dtype=object)
    empty = shown == ""
    dummies = {f"{name}={level}": np.where(empty, np.nan, (shown == level).astype(np.float64)) for level in levels[1:]}
    note = f"categorical, {len(levels)} levels; reference {levels[0]!r}"
    return dummies, VariableQuality(name, True, int((~empty).sum()), int(empty.sum()), note=note)


def _text(column: pd.Series) -> pd.Series:
    """Cells as stripped text ('' where missing)."""
    return column.astype(object).where(column.notna(), "").astype(str).str.strip().reset_index(drop=True)


def _parse(name: str, column: pd.Series, table: pd.DataFrame, columns: dict[str, object],
           rows: npt.NDArray[np.intp]) -> tuple[FloatArray, VariableQuality, list[tuple[int, str, str]]]:
    """Values of one column (NaN where unusable), its quality record and its bad cells."""
    shown = _text(column)
    empty = (shown == "").to_numpy()
    if name == "sex":
        choice = shown.map(normalise_choice)
        values = np.where(choice == "male", 1.0, np.where(choice == "female", 0.0, np.nan))
        invalid = ~empty & np.isnan(values)
        return values, VariableQuality(name, True, int((~np.isnan(values)).sum()), int(empty.sum()),
                                       invalid=int(invalid.sum())), _bad(shown, invalid, "not 'female' or 'male'")
    if name in VASCULAR:
        word = shown.str.lower()
        values = np.where(word.isin(("1", "1.0", "yes", "true")), 1.0,
                          np.where(word.isin(("0", "0.0", "no", "false")), 0.0, np.nan))
        invalid = ~empty & np.isnan(values)
        return values, VariableQuality(name, True, int((~np.isnan(values)).sum()), int(empty.sum()),
                                       invalid=int(invalid.sum())), _bad(shown, invalid, "not 0/1 (or yes/no)")
    numbers = parse_numbers(read_cells(column.reset_index(drop=True), strict=False, numbers_first=True),
                            strict_text=False, units_allowed=name in _MARKERS)
    values = numbers.values.copy()
    censored = numbers.present & (numbers.censors != 0)
    not_number = ~empty & ~numbers.present
    bad = _bad(shown, not_number, "not a number")
    bad += _bad(shown, censored, "a censored bound (the laboratory reports a limit, not the value)")
    unknown = np.zeros(len(values), dtype=bool)
    if name in _MARKERS:
        values, unknown = _to_canonical(name, values, numbers, table, columns, rows)
        bad += _bad(shown, unknown & ~censored, f"unit not accepted for {name} (accepted: {FIELD[name].accepted_units})")
    values[censored | unknown] = np.nan
    lo, hi = _plausible(name)
    implausible = ~np.isnan(values) & ((values < lo) | (values > hi))
    invalid = np.zeros(len(values), dtype=bool)
    if name in GRADE_OUTCOMES:
        invalid = implausible | (~np.isnan(values) & (values != np.round(values)))
        implausible = np.zeros(len(values), dtype=bool)
        bad += _bad(shown, invalid, "not a Fazekas grade 0, 1, 2 or 3")
    else:
        bad += _bad(shown, implausible, f"outside the plausible range {lo:g}-{hi:g}")
    values[implausible | invalid] = np.nan
    quality = VariableQuality(name, True, int((~np.isnan(values)).sum()), int(empty.sum()), int(censored.sum()),
                              int(not_number.sum()), int((unknown & ~censored).sum()), int(implausible.sum()),
                              int(invalid.sum()))
    bad.sort()
    return values, quality, bad


def _to_canonical(name: str, values: FloatArray, numbers: Numbers, table: pd.DataFrame, columns: dict[str, object],
                  rows: npt.NDArray[np.intp]) -> tuple[FloatArray, BoolArray]:
    """Values in the canonical unit: a unit in the cell ("150 pg/mL") wins over the column
    ``<name>_unit``; a value with neither is taken as canonical."""
    cell_units: npt.NDArray[Any] = np.array([*numbers.unit_texts, ""], dtype=object)[numbers.unit_codes]
    if name + UNIT_SUFFIX in columns:
        column_units = _text(table[columns[name + UNIT_SUFFIX]].iloc[rows]).to_numpy(dtype=object)
        cell_units = np.where(cell_units == "", column_units, cell_units)
    out = values.copy()
    unknown = np.zeros(len(values), dtype=bool)
    for unit in pd.unique(cell_units[~np.isnan(values)]):
        if unit == "":
            continue
        at = (cell_units == unit) & ~np.isnan(values)
        found = find_unit(name, str(unit))
        if found is None:
            unknown |= at
        else:
            out[at] = to_canonical(name, values[at], found)
    return out, unknown


def _plausible(name: str) -> tuple[float, float]:
    """Plausible range: the lab fields' (labs/fields.py); volumes >= 0; grades 0-3; cB12 any."""
    if name in FIELD:
        return FIELD[name].plausible
    if name in GRADE_OUTCOMES:
        return float(_FAZEKAS_GRADES[0]), float(_FAZEKAS_GRADES[-1])
    if name.endswith("_ml"):
        return 0.0, np.inf
    return -np.inf, np.inf


def _bad(shown: pd.Series, mask: BoolArray, problem: str) -> list[tuple[int, str, str]]:
    return [(int(i), shown.iat[i], problem) for i in np.flatnonzero(mask)]


def _fill_cb12(frame: pd.DataFrame, quality: list[VariableQuality]) -> list[VariableQuality]:
    """cB12 computed (labs/cb12.py) where the table has none but all four markers and age."""
    inputs = ("b12", "holotc", "mma", "homocysteine", "age")
    if not all(c in frame for c in inputs):
        return quality
    computed = compute_cb12(*(frame[c].to_numpy() for c in inputs))
    if "cb12" not in frame:
        frame["cb12"] = np.nan
    fill = np.isnan(frame["cb12"].to_numpy()) & np.isfinite(computed)
    if not fill.any():
        return quality
    frame.loc[fill, "cb12"] = computed[fill]
    return [VariableQuality(**{**q.__dict__, "present": True, "usable": q.usable + int(fill.sum()),
                               "computed": int(fill.sum()),
                               "note": "computed from B12, holoTC, MMA, homocysteine and age where missing"})
            if q.name == "cb12" else q for q in quality]

