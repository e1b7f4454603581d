"""Column-wise validation of lab panels: the one parser behind JSON, CSV and DataFrames.

A table (one row per panel) is checked field by field with numpy/pandas masks: numbers are
parsed column-wise, units are converted by mapping the few distinct unit strings, ranges are
checked with masks. Only the rows that fail get a Python-level message. A single JSON panel is
a one-row table checked in ``strict`` mode (JSON types are meaningful there: ``"50"`` is not a
number and ``1`` is not a boolean); CSV cells and DataFrame cells are read leniently (text is
parsed, an empty cell or NaN is "missing").
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from b12brain.errors import LabValueError
from b12brain.labs.cells import (
    BOOL,
    NAN,
    NONE,
    NUM,
    OTHER,
    STR,
    BoolArray,
    CodeArray,
    FloatArray,
    Problems,
    RowSource,
    kind_of,
    kind_problem,
    parse_numbers,
    read_cells,
    show,
    show_number,
)
from b12brain.labs.fields import (
    BOOLEAN_FIELDS,
    CHOICE_FIELDS,
    CONDITIONS,
    FALSE_WORDS,
    FIELD,
    MARKER_SPECS,
    MARKERS,
    NUMBER_FIELDS,
    TRUE_WORDS,
    UNIT_SUFFIX,
    find_condition,
    normalise_choice,
)
from b12brain.labs.units import find_unit, round_significant

ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class PanelColumns:
    """Validated panels as aligned arrays, one element per panel.

    Markers are canonical (units of :data:`~b12brain.labs.units.MARKER_SPECS`), NaN = not
    measured; ``censors`` holds each marker's censor code (0 a measured value, else the sign of
    a bound, :data:`~b12brain.labs.censored.CENSOR_SIGNS`). Booleans are int8 codes 1 yes, 0 no, -1 missing; choices are the index into
    :data:`~b12brain.labs.fields.CHOICE_FIELDS` (-1 missing).
    """

    rows: npt.NDArray[np.int64]
    ids: ObjectArray
    markers: dict[str, FloatArray]
    seen_values: dict[str, FloatArray]
    seen_units: dict[str, ObjectArray]
    censors: dict[str, CodeArray]
    numbers: dict[str, FloatArray]
    booleans: dict[str, CodeArray]
    choices: dict[str, CodeArray]
    conditions: dict[str, BoolArray]

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> PanelColumns:
        """The panels selected by a boolean mask or an index array."""

        def pick(x: np.ndarray | dict[str, np.ndarray]) -> object:  # type: ignore[type-arg]
            return {k: v[index] for k, v in x.items()} if isinstance(x, dict) else x[index]

        return PanelColumns(**{f.name: pick(getattr(self, f.name)) for f in dataclass_fields(self)})  # type: ignore[arg-type]

    def is_yes(self, field: str) -> BoolArray:
        return self.booleans[field] == 1

    def is_choice(self, field: str, *choices: str) -> BoolArray:
        codes = [CHOICE_FIELDS[field].index(c) for c in choices]
        return np.isin(self.choices[field], codes)


# --- field parsers ---------------------------------------------------------------------
def _unit_ids(marker: str, texts: list[str]) -> npt.NDArray[np.intp]:
    """Index of each unit text in the marker's accepted units; -2 for an unknown unit."""
    names = list(MARKER_SPECS[marker].units)
    return np.array([names.index(u) if (u := find_unit(marker, t)) else -2 for t in texts], dtype=np.intp)


def _parse_marker(frame: pd.DataFrame, marker: str, problems: Problems, strict: bool, decimal_comma: bool,
                  header_unit: tuple[str, str] | None) -> tuple[FloatArray, FloatArray, ObjectArray, CodeArray]:
    """Canonical values, values as seen, units as seen (text) and censor codes of one marker.

    ``header_unit`` is (unit, header) when the column header gives the unit ("B12 (ng/L)").
    """
    spec = MARKER_SPECS[marker]
    n = len(frame)
    if marker not in frame:
        return np.full(n, np.nan), np.full(n, np.nan), np.full(n, None, dtype=object), np.zeros(n, dtype=np.int8)
    raw = frame[marker]
    # A decimal-comma file reads every text through parse_numbers, which catches "1.476".
    cells = read_cells(raw, strict, numbers_first=not decimal_comma)
    parsed = parse_numbers(cells, strict_text=strict, units_allowed=True, decimal_comma=decimal_comma)
    seen, present, bad = parsed.values, parsed.present, parsed.bad
    problems.add(marker, bad >= 0, lambda i: (
        kind_problem(int(bad[i]), show(raw.iloc[i]), "a number"), f"a number with its unit ({spec.accepted_units})"))

    # The unit of each row: written in the cell ("150 pg/mL") or in the <marker>_unit column.
    # Units are resolved once per distinct text, then gathered (-1 none, -2 unknown, else index).
    unit_col = unit_origin = marker + UNIT_SUFFIX
    cell_codes, cell_texts = parsed.unit_codes, parsed.unit_texts
    cell_unit = np.append(_unit_ids(marker, cell_texts), -1)[cell_codes]
    if header_unit is not None:  # one unit for the whole column, from its header
        col_codes, col_texts = np.zeros(n, dtype=np.intp), [header_unit[0]]
        col_unit = np.append(_unit_ids(marker, col_texts), -1)[col_codes]
        unit_origin = f"the header {header_unit[1]!r}"
    elif unit_col in frame:
        ucol = frame[unit_col]
        ucells = read_cells(ucol, strict)
        col_codes, col_texts = ucells.codes, ucells.texts
        col_unit = np.append(_unit_ids(marker, col_texts), -1)[col_codes]
        not_text = present & (ucells.kinds != STR) & (ucells.kinds != NONE)
        problems.add(unit_col, not_text, lambda i: (f"{show(ucol.iloc[i])} is not a unit", f"one of {spec.accepted_units}"))
        present &= ~not_text
    else:
        col_codes, col_texts, col_unit = np.full(n, -1, dtype=np.intp), [], np.full(n, -1, dtype=np.intp)
    has_cell = cell_codes >= 0

    def unit_text(i: int) -> str:
        return cell_texts[cell_codes[i]] if has_cell[i] else col_texts[col_codes[i]]

    clash = present & has_cell & (col_codes >= 0) & (cell_unit != col_unit)
    problems.add(marker, clash, lambda i: (
        f"{show(raw.iloc[i])} carries unit {cell_texts[cell_codes[i]]!r} but {unit_origin} says {col_texts[col_codes[i]]!r}",
        "one unit per value"))
    present &= ~clash
    unit = np.where(has_cell, cell_unit, col_unit)
    no_unit = present & (unit == -1)
    problems.add(marker, no_unit, lambda i: (
        f"{show(raw.iloc[i])} has no unit (a guessed unit would change the category)",
        f"a value with its unit, one of {spec.accepted_units}: e.g. \"{seen[i]:g} {spec.unit}\" or a {unit_col} column"))
    unknown = present & (unit == -2)
    problems.add(marker, unknown, lambda i: (f"unknown unit {unit_text(i)!r} (value {show(raw.iloc[i])})", f"one of {spec.accepted_units}"))
    present &= ~no_unit & ~unknown

    factors = np.array(list(spec.units.values()), dtype=np.float64)
    canonical = round_significant(seen * np.where(unit >= 0, factors[np.clip(unit, 0, None)], np.nan))
    lo, hi = spec.plausible
    not_positive = present & (seen <= 0)
    problems.add(marker, not_positive, lambda i: (f"{show_number(seen[i])} {unit_text(i)} is not a positive value", f"a positive value in {spec.accepted_units}"))
    present &= ~not_positive

    def converted(i: int) -> str:
        return "" if unit[i] == 0 else f" (= {show_number(canonical[i])} {spec.unit})"

    with np.errstate(invalid="ignore"):
        implausible = present & ~((canonical >= lo) & (canonical <= hi))
    problems.add(marker, implausible, lambda i: (
        f"{show_number(seen[i])} {unit_text(i)}{converted(i)} is outside the plausible range for {spec.label}: is the unit right?",
        f"{spec.plausible_text}; accepted units: {spec.accepted_units}"))
    present &= ~implausible

    # New arrays, not in-place edits: the messages above read canonical/seen lazily.
    units_seen = np.full(n, None, dtype=object)
    from_col = present & ~has_cell
    units_seen[from_col] = np.array(col_texts, dtype=object)[col_codes[from_col]]
    units_seen[present & has_cell] = np.array(cell_texts, dtype=object)[cell_codes[present & has_cell]]
    return np.where(present, canonical, np.nan), np.where(present, seen, np.nan), units_seen, np.where(present, parsed.censors, 0).astype(np.int8)


def _parse_number_field(raw: pd.Series, field: str, problems: Problems, strict: bool, decimal_comma: bool) -> FloatArray:
    spec = FIELD[field]
    (lo, hi), unit = spec.plausible, spec.unit
    cells = read_cells(raw, strict, numbers_first=not decimal_comma)
    parsed = parse_numbers(cells, strict_text=strict, units_allowed=False, decimal_comma=decimal_comma)
    values, bad = parsed.values, parsed.bad
    wanted = f"a number of {unit}"
    expected = f"{wanted}, {lo:g}-{hi:g} ({spec.plausible_basis})"
    problems.add(field, bad >= 0, lambda i: (
        kind_problem(int(bad[i]), show(raw.iloc[i]), wanted) if bad[i] != OTHER
        else f"{show(raw.iloc[i])} is not a plain number", expected))
    with np.errstate(invalid="ignore"):
        outside = parsed.present & ~((values >= lo) & (values <= hi))
    problems.add(field, outside, lambda i: (f"{show(raw.iloc[i])} is outside {lo:g}-{hi:g} {unit}", expected))
    return np.where(outside, np.nan, values)


def _parse_boolean(raw: pd.Series, field: str, problems: Problems, strict: bool) -> CodeArray:
    cells = read_cells(raw, strict)
    kinds = cells.kinds
    out = np.where(kinds == BOOL, cells.numbers, -1).astype(np.int8)
    bad = (kinds == NAN) | (kinds == OTHER)
    is_num = kinds == NUM
    is_str = kinds == STR
    if strict:  # JSON: only true/false
        bad |= is_num | is_str
    else:
        zero_one = is_num & ((cells.numbers == 0.0) | (cells.numbers == 1.0))
        out[zero_one] = cells.numbers[zero_one].astype(np.int8)
        bad |= is_num & ~zero_one
        if is_str.any():
            words = [t.lower() for t in cells.texts]
            per_text = np.array([1 if w in TRUE_WORDS else 0 if w in FALSE_WORDS else -1 for w in words], dtype=np.int8)
            out[is_str] = cells.gather(per_text, -1)[is_str]
            bad |= is_str & (out < 0)
    expected = "true or false" if strict else "true/false, yes/no or 1/0 (any case)"
    problems.add(field, bad, lambda i: (f"{show(raw.iloc[i])} is not a yes/no value", expected))
    out[bad] = -1
    return out


def _parse_choice(raw: pd.Series, field: str, problems: Problems, strict: bool) -> CodeArray:
    choices = CHOICE_FIELDS[field]
    cells = read_cells(raw, strict)
    per_text = np.array([choices.index(c) if (c := normalise_choice(t)) in choices else -2 for t in cells.texts], dtype=np.int8)
    out = cells.gather(per_text, -1).astype(np.int8)
    bad = ((cells.kinds != STR) & (cells.kinds != NONE)) | (out == -2)
    problems.add(field, bad, lambda i: (f"{show(raw.iloc[i])} is not one of the choices", "one of " + ", ".join(map(repr, choices))))
    out[bad] = -1
    return out


def _conditions_of(value: object) -> frozenset[str] | str:
    """The conditions a cell names, or the text of the first unknown item."""
    items = value.split(";") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    found: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            return repr(item)
        if not item.strip() or normalise_choice(item) == "none":
            continue
        condition = find_condition(item)
        if condition is None:
            return repr(item.strip())
        found.add(condition)
    return frozenset(found)


def _parse_conditions(frame: pd.DataFrame, problems: Problems, strict: bool) -> dict[str, BoolArray]:
    n = len(frame)
    out = {c: np.zeros(n, dtype=bool) for c in CONDITIONS}
    if "conditions" not in frame:
        return out
    raw = frame["conditions"]
    cells = read_cells(raw, strict)
    bad = (cells.kinds != NONE) & (cells.kinds != STR)
    unknown_item: dict[int, str] = {}
    if cells.texts:  # ";"-separated text: parse each distinct cell once, then gather
        parsed = [_conditions_of(t) for t in cells.texts]
        for c in CONDITIONS:
            out[c] = cells.gather([isinstance(p, frozenset) and c in p for p in parsed], False).astype(bool)
        unknown = cells.gather([isinstance(p, str) for p in parsed], False).astype(bool)
        for row in np.flatnonzero(unknown):
            unknown_item[int(row)] = str(parsed[cells.codes[row]])
    objects = raw.to_numpy(dtype=object) if bad.any() else np.empty(0, dtype=object)
    for i in np.flatnonzero(bad):  # lists (JSON, or list cells of a DataFrame)
        if isinstance(objects[i], (list, tuple)):
            found = _conditions_of(objects[i])
            bad[i] = False
            if isinstance(found, str):
                unknown_item[int(i)] = found
            else:
                for c in found:
                    out[c][i] = True
    bad[list(unknown_item)] = True
    expected = "a list (JSON) or ';'-separated text (CSV) of: " + ", ".join(CONDITIONS)
    problems.add("conditions", bad, lambda i: (
        f"{unknown_item[i]} in {show(raw.iloc[i])} is not a known condition" if i in unknown_item
        else f"{show(raw.iloc[i])} is not a list of conditions", expected))
    for c in CONDITIONS:
        out[c][bad] = False
    return out


#: Whole numbers up to 2**53 are exact as doubles; a larger number id is refused, not rounded.
_EXACT_INTEGER = 2.0**53


def _id_text(x: object) -> str | None:
    """A subject id as text, kept as given; None for a missing one; raises ValueError otherwise."""
    if isinstance(x, str):
        return x.strip() or None
    if isinstance(x, (bool, np.bool_)):
        raise ValueError
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)) and float(x).is_integer() and abs(float(x)) <= _EXACT_INTEGER:
        return str(int(x))
    raise ValueError


def _parse_ids(frame: pd.DataFrame, problems: Problems, strict: bool) -> ObjectArray:
    """Ids as text, as given ("007" stays "007"); a number id only when it is a whole number
    that a double holds exactly (1e20 is refused rather than read as another number)."""
    n = len(frame)
    if "id" not in frame:
        return np.full(n, None, dtype=object)
    raw = frame["id"]
    if pd.api.types.is_integer_dtype(raw.dtype):  # read as given, without a detour through float
        return raw.astype(str).to_numpy(dtype=object)
    objects = raw.to_numpy(dtype=object)
    ids = np.full(n, None, dtype=object)
    bad = np.zeros(n, dtype=bool)
    if not strict and pd.api.types.infer_dtype(objects, skipna=True) in ("string", "empty"):
        present = ~pd.isna(objects)
        stripped = raw[present].str.strip()
        ids[present] = stripped.where(stripped != "", None).to_numpy(dtype=object)
    else:
        for i, x in enumerate(objects):
            kind = kind_of(x)
            if kind == NONE or (kind == NAN and not strict):
                continue
            try:
                ids[i] = _id_text(x)
            except ValueError:
                bad[i] = True
    problems.add("id", bad, lambda i: (f"{show(raw.iloc[i])} is not a subject id",
                                       "text, or a whole number up to 9007199254740992 (give longer ids as text)"))
    ids[bad] = None
    return ids


def _no_codes(n: int) -> CodeArray:
    """The codes of a choice or yes/no field that is not given."""
    return np.full(n, -1, dtype=np.int8)


def validate_frame(frame: pd.DataFrame, row_source: RowSource, *, strict: bool = False, decimal_comma: bool = False,
                   header_units: dict[str, tuple[str, str]] | None = None) -> tuple[PanelColumns, tuple[LabValueError, ...]]:
    """Check every field of every row; return the good rows as :class:`PanelColumns` and one
    LabValueError per bad cell (a row with a bad cell is left out of the columns).

    ``frame`` holds field names as columns (see :mod:`b12brain.labs.headers`). ``row_source(i)``
    names row position ``i`` in messages. ``strict`` reads cells as typed JSON values;
    ``decimal_comma`` says the file writes decimals with a comma; ``header_units`` gives, per
    marker, the unit its column header names and that header.
    """
    n = len(frame)
    problems = Problems(n)
    header_units = header_units or {}
    markers, seen_values, seen_units, censors = {}, {}, {}, {}
    for m in MARKERS:
        markers[m], seen_values[m], seen_units[m], censors[m] = _parse_marker(
            frame, m, problems, strict, decimal_comma, header_units.get(m))
    numbers = {f: _parse_number_field(frame[f], f, problems, strict, decimal_comma) if f in frame else np.full(n, np.nan)
               for f in NUMBER_FIELDS}
    choices = {f: _parse_choice(frame[f], f, problems, strict) if f in frame else _no_codes(n) for f in CHOICE_FIELDS}
    booleans = {f: _parse_boolean(frame[f], f, problems, strict) if f in frame else _no_codes(n) for f in BOOLEAN_FIELDS}
    male_pregnant = (booleans["pregnant"] == 1) & (choices["sex"] == CHOICE_FIELDS["sex"].index("male"))
    problems.add("pregnant", male_pregnant, lambda i: ("pregnant is true but sex is 'male'", "pregnant false or missing when sex is male"))
    columns = PanelColumns(
        rows=np.arange(1, n + 1, dtype=np.int64),
        ids=_parse_ids(frame, problems, strict),
        markers=markers,
        seen_values=seen_values,
        seen_units=seen_units,
        censors=censors,
        numbers=numbers,
        booleans=booleans,
        choices=choices,
        conditions=_parse_conditions(frame, problems, strict),
    )
    if not problems.items:
        return columns, ()
    good = ~problems.bad_rows()
    return columns.take(good), problems.errors(row_source)
