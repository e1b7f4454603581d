"""Cells of a lab table: sorting a column into kinds, parsing numbers, collecting bad cells.

Text is factorized once per column and parsed once per distinct value, then the result is
gathered back to every cell with numpy indexing: a million-row column with a handful of unit
spellings costs a handful of Python calls.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from b12brain.errors import LabValueError
from b12brain.io.jsonfile import MAX_NUMBER_CHARS, shorten
from b12brain.labs.censored import SIGN_CODES
from b12brain.labs.fields import KNOWN_FIELDS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int8]
IntpArray = npt.NDArray[np.intp]
#: Position of a row in the table (0-based) -> the error source text, e.g. "x.csv, row 3 (...)".
RowSource = Callable[[int], str]

# --- cell kinds --------------------------------------------------------------------------
NONE, NAN, STR, BOOL, NUM, OTHER = range(6)
_NUMERIC_INFERRED = {"floating", "integer", "mixed-integer-float", "decimal"}
# A number (decimal point or comma), optionally after a censor sign ("<150") and before a unit
# that starts with a letter or µ (so "1,5" is never "1" in unit ",5").
_NUMBER_UNIT = re.compile(
    r"^\s*(<=|>=|=<|=>|[<>≤≥])?\s*([-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s.,+\-<>=≤≥].*?)?\s*$")
# "1,476" where the decimal mark is a point (or "1.476" where it is a comma) reads as a whole
# number with a thousands separator as well as a decimal: refused, never guessed.
_THOUSANDS = {False: r"^[-+]?[1-9]\d{0,2},\d{3}$", True: r"^[-+]?[1-9]\d{0,2}\.\d{3}$"}
#: Bad-cell kinds beyond the cell kinds: an ambiguous decimal mark, a censored bound where
#: none is allowed, a number longer than :data:`~b12brain.io.jsonfile.MAX_NUMBER_CHARS`.
AMBIGUOUS, CENSORED_BOUND, TOO_LONG = 6, 7, 8


def kind_of(x: object) -> int:
    """The kind of one cell (NONE, NAN, STR, BOOL, NUM or OTHER)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return NONE
    if isinstance(x, (bool, np.bool_)):
        return BOOL
    if isinstance(x, str):
        return STR
    if isinstance(x, (float, np.floating)):
        return NAN if math.isnan(x) else NUM
    if isinstance(x, (int, np.integer)):
        return NUM if abs(int(x)) < 2**1023 else OTHER  # beyond float range: not a usable number
    return OTHER


@dataclass
class Cells:
    """One column sorted into kinds.

    Text cells are factorized once: ``codes`` indexes ``texts`` (the distinct texts, stripped)
    and is -1 for a cell that is not text, so text is parsed once per distinct value and the
    result gathered back with :meth:`gather`. ``numbers`` holds the value of number cells and
    1.0/0.0 for boolean cells (NaN elsewhere).
    """

    kinds: CodeArray
    numbers: FloatArray
    codes: IntpArray
    texts: list[str]

    def gather(self, per_text: npt.ArrayLike, fill: object) -> np.ndarray:  # type: ignore[type-arg]
        """Per-cell values from one value per distinct text; ``fill`` where a cell is not text."""
        table = np.asarray(per_text)
        table = np.append(table, np.array([fill], dtype=table.dtype if len(table) else None))
        return table[self.codes]


def read_cells(col: pd.Series, strict: bool, *, numbers_first: bool = False) -> Cells:
    """Sort a column into kinds. ``strict``: JSON values (text stays text, NaN is an error).

    ``numbers_first`` reads text cells that are plain numbers ("150", "0.3") as numbers in
    one vectorised pass, so only the other texts are factorized (a million-row column of
    numbers then costs one :func:`pandas.to_numeric` call).
    """
    n = len(col)
    numbers = np.full(n, np.nan)
    codes = np.full(n, -1, dtype=np.intp)
    if pd.api.types.is_bool_dtype(col.dtype):
        missing = col.isna().to_numpy()
        numbers[~missing] = col.to_numpy(dtype=object)[~missing].astype(np.float64)
        return Cells(np.where(missing, NONE, BOOL).astype(np.int8), numbers, codes, [])
    if pd.api.types.is_numeric_dtype(col.dtype):
        numbers = col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        return Cells(np.where(np.isnan(numbers), NONE, NUM).astype(np.int8), numbers, codes, [])
    objects = col.to_numpy(dtype=object)
    inferred = pd.api.types.infer_dtype(objects, skipna=True)
    uniques: Any = []
    if inferred == "string" and not strict:  # fast path: text cells and missing cells only
        kinds = np.full(n, NONE, dtype=np.int8)
        text_rows = np.arange(n)
        if numbers_first:  # missing cells (None, NaN) parse to NaN and stay with the texts
            parsed = pd.to_numeric(pd.Series(objects, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
            is_number = ~np.isnan(parsed)
            kinds[is_number] = NUM
            numbers[is_number] = parsed[is_number]
            text_rows = np.flatnonzero(~is_number)
        if len(text_rows):
            codes[text_rows], uniques = pd.factorize(objects[text_rows])  # -1 for a missing cell
            kinds[codes >= 0] = STR
        return _blank_is_missing(Cells(kinds, numbers, codes, [str(u).strip() for u in uniques]))
    if inferred == "empty" and not strict:
        kinds = np.full(n, NONE, dtype=np.int8)
    elif inferred in _NUMERIC_INFERRED and not strict:
        kinds = np.where(pd.isna(objects), NONE, NUM).astype(np.int8)
    else:  # mixed cells, or a JSON panel (where NaN is an error, not a missing value)
        kinds = np.fromiter((kind_of(x) for x in objects), dtype=np.int8, count=n)
        text_rows = np.flatnonzero(kinds == STR)
        if len(text_rows):
            codes[text_rows], uniques = pd.factorize(objects[text_rows])
    valued = (kinds == NUM) | (kinds == BOOL)
    if valued.any():
        numbers[valued] = np.asarray(objects[valued], dtype=np.float64)
    if not strict:
        kinds[kinds == NAN] = NONE  # NaN marks a missing value in a DataFrame
    return _blank_is_missing(Cells(kinds, numbers, codes, [str(u).strip() for u in uniques]))


def _blank_is_missing(cells: Cells) -> Cells:
    """An empty (or all-space) text cell is a missing value, in CSV and JSON alike."""
    if "" in cells.texts:
        blank = np.array([t == "" for t in cells.texts] + [False])[cells.codes]
        cells.kinds[blank] = NONE
        cells.codes[blank] = -1
    return cells


def show(x: object) -> str:
    """A cell as the user typed it, for messages (at most about 80 characters)."""
    if isinstance(x, np.generic):
        x = x.item()
    return shorten(repr(x))


def show_number(x: float) -> str:
    return format(float(x), ".10g")


# --- problems ----------------------------------------------------------------------------
class Problems:
    """Bad cells, found column-wise; messages are built only for the rows that fail."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.items: list[tuple[str, BoolArray, Callable[[int], tuple[str, str]]]] = []

    def add(self, field: str, mask: BoolArray, describe: Callable[[int], tuple[str, str]]) -> None:
        if mask.any():
            self.items.append((field, mask, describe))

    def bad_rows(self) -> BoolArray:
        bad = np.zeros(self.n, dtype=bool)
        for _, mask, _ in self.items:
            bad |= mask
        return bad

    def errors(self, row_source: RowSource) -> tuple[LabValueError, ...]:
        order = {f: i for i, f in enumerate(KNOWN_FIELDS)}
        found = [(int(i), order.get(field, len(order)), field, describe)
                 for field, mask, describe in self.items for i in np.flatnonzero(mask)]
        found.sort(key=lambda t: (t[0], t[1]))
        return tuple(LabValueError(row_source(i), field, *describe(i)) for i, _, field, describe in found)


def kind_problem(kind: int, shown: str, wanted: str) -> str:
    return {
        NAN: f"{shown} is not a finite number",
        BOOL: f"{shown} is a boolean, not {wanted}",
        STR: f"{shown} is text, not {wanted}",
        NUM: f"{shown} is a number, not {wanted}",
        AMBIGUOUS: f"{shown} reads both as a whole number with a thousands separator and as a decimal, not {wanted}",
        CENSORED_BOUND: f"{shown} is a censored bound, not {wanted}",
        TOO_LONG: f"{shown} is longer than the {MAX_NUMBER_CHARS} characters a number may have",
    }.get(kind, f"{shown} is not {wanted}")


@dataclass
class Numbers:
    """A parsed number column. ``bad`` is -1 for a good or missing cell, else the kind that
    made it bad (``STR`` text that is not a number, ``OTHER`` a unit where none is allowed,
    ``AMBIGUOUS``, ``CENSORED_BOUND``, ``TOO_LONG``). Units written in text cells ("150 pg/mL") are
    ``unit_codes`` into ``unit_texts``; ``censors`` holds the censor code of each cell
    (:data:`~b12brain.labs.censored.CENSOR_SIGNS`)."""

    values: FloatArray
    present: BoolArray
    bad: CodeArray
    unit_codes: IntpArray
    unit_texts: list[str]
    censors: CodeArray


def parse_numbers(cells: Cells, *, strict_text: bool, units_allowed: bool, decimal_comma: bool = False) -> Numbers:
    """Numbers of a column: plain numbers, and in text "150", "0,3 µmol/L", "<150 pmol/L".

    ``decimal_comma`` says the file writes decimals with a comma (";"- or tab-separated
    exports); otherwise a comma is read as the decimal mark only where it cannot be a
    thousands separator. A unit or a censor sign is accepted only where ``units_allowed``.
    """
    n = len(cells.kinds)
    kinds = cells.kinds
    values = cells.numbers.copy()
    bad = np.full(n, -1, dtype=np.int8)
    for k in (NAN, BOOL, OTHER):
        bad[kinds == k] = k
    unit_codes = np.full(n, -1, dtype=np.intp)
    censors = np.zeros(n, dtype=np.int8)
    unit_texts: list[str] = []
    is_str = kinds == STR
    if is_str.any() and strict_text and not units_allowed:
        bad[is_str] = STR
    elif is_str.any():  # parse each distinct text once
        texts = pd.Series(cells.texts, dtype=object)
        number = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        text_bad = np.full(len(texts), -1, dtype=np.int8)
        if decimal_comma:  # "1.476" in a decimal-comma file
            text_bad[texts.str.match(_THOUSANDS[True]).to_numpy(dtype=bool)] = AMBIGUOUS
        text_unit = np.full(len(texts), -1, dtype=np.intp)
        text_censor = np.zeros(len(texts), dtype=np.int8)
        unparsed = np.flatnonzero(np.isnan(number))
        if len(unparsed):  # "150 pg/mL", "0,3", "<150 pmol/L": censor sign, number, unit
            groups = texts.iloc[unparsed].str.extract(_NUMBER_UNIT)
            digits = groups[1].fillna("")
            ambiguous = digits.str.match(_THOUSANDS[decimal_comma]).to_numpy(dtype=bool)
            two_marks = (digits.str.contains(",", regex=False) & digits.str.contains(".", regex=False)).to_numpy(dtype=bool)
            number[unparsed] = pd.to_numeric(digits.str.replace(",", ".", regex=False), errors="coerce").to_numpy(dtype=np.float64)
            number[unparsed[two_marks]] = np.nan
            text_bad[unparsed[(digits.str.len() > MAX_NUMBER_CHARS).to_numpy(dtype=bool)]] = TOO_LONG
            text_bad[unparsed[ambiguous]] = AMBIGUOUS
            text_censor[unparsed] = groups[0].map(SIGN_CODES).fillna(0).to_numpy(dtype=np.int8)
            has_unit = (groups[2].notna() & groups[1].notna()).to_numpy()
            if units_allowed:
                text_unit[unparsed[has_unit]], found = pd.factorize(groups[2][has_unit])
                unit_texts = [str(u) for u in found]
            else:
                with_unit = unparsed[has_unit]
                text_bad[with_unit[text_bad[with_unit] < 0]] = OTHER
                text_bad[(text_censor != 0) & (text_bad < 0)] = CENSORED_BOUND
        text_bad[np.isnan(number) & (text_bad < 0)] = STR
        values[is_str] = number[cells.codes[is_str]]
        unit_codes[is_str] = text_unit[cells.codes[is_str]]
        censors[is_str] = text_censor[cells.codes[is_str]]
        bad[is_str] = text_bad[cells.codes[is_str]]
    bad[np.isinf(values) & (bad < 0)] = NAN
    present = (kinds != NONE) & (bad < 0)
    values[~present] = np.nan
    censors[~present] = 0
    return Numbers(values, present, bad, unit_codes, unit_texts, censors)
