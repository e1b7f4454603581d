"""Lab panels: the :class:`Panel` view and the readers (JSON object, JSON file, CSV, DataFrame).

Every reader goes through :func:`b12brain.labs.columns.validate_frame`, so a value is checked
the same way whether it comes from JSON, a CSV cell or a DataFrame.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from b12brain.errors import LabValueError
from b12brain.io.jsonfile import DuplicateKeyError, JSONProblem, parse_json, read_json_bytes, shorten
from b12brain.labs.censored import CENSOR_SIGNS
from b12brain.labs.columns import PanelColumns, validate_frame
from b12brain.labs.fields import CHOICE_FIELDS, CONDITIONS, FIELD, MARKERS, UNIT_SUFFIX
from b12brain.labs.headers import ColumnMap, map_headers, takes_numbers
from b12brain.labs.tablefile import TableFormat, read_table, row_text

_FILE = "(file)"
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


#: The value of a panel field: a number (markers canonical), a choice, yes/no, an id, the conditions.
FieldValue = float | str | bool | tuple[str, ...] | None


@dataclass(frozen=True, eq=False)
class Panel:
    """One person's lab panel, validated: a view of a one-row :class:`PanelColumns`.

    Every field of :data:`~b12brain.labs.fields.FIELDS` reads as an attribute (``panel.b12``,
    ``panel.sex``, ``panel.pregnant``); None when not given. Markers are in canonical units:
    ``b12`` and ``holotc`` pmol/L; ``mma`` and ``homocysteine`` µmol/L; ``folate`` nmol/L;
    ``egfr`` mL/min/1.73m²; ``mcv`` fL; ``haemoglobin`` g/L. ``seen`` keeps each measured
    marker as given: ``{"b12": (150.0, "pg/mL")}``; ``censored`` holds the sign of each marker
    the laboratory reported as a bound (``{"b12": "<"}`` for ``<150 pg/mL``; the marker's value
    is then the bound); ``conditions`` is a tuple. Panels come from :func:`parse_panel`,
    :func:`read_panel` or :meth:`Cohort.panel`, which check every value.
    """

    source: str
    columns: PanelColumns

    def value(self, name: str) -> FieldValue:
        """The value of field ``name`` (see the class docstring).

        Raises
        ------
        KeyError
            ``name`` is not a panel field.
        """
        cols, kind = self.columns, FIELD[name].kind
        if kind == "marker":
            v = float(cols.markers[name][0])
        elif kind == "number":
            v = float(cols.numbers[name][0])
        elif kind == "id":
            return cast("str | None", cols.ids[0])
        elif kind == "conditions":
            return tuple(c for c in CONDITIONS if cols.conditions[c][0])
        else:
            code = int((cols.choices if kind == "choice" else cols.booleans)[name][0])
            return None if code < 0 else CHOICE_FIELDS[name][code] if kind == "choice" else bool(code)
        return None if np.isnan(v) else v

    def __getattr__(self, name: str) -> Any:
        if name not in FIELD:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self.value(name)

    def marker(self, name: str) -> float | None:
        """The canonical value of marker ``name`` (None when not measured)."""
        return cast("float | None", self.value(name))

    @property
    def seen(self) -> dict[str, tuple[float, str]]:
        """Each measured marker as given: value and unit."""
        cols = self.columns
        return {m: (float(cols.seen_values[m][0]), str(cols.seen_units[m][0])) for m in MARKERS if self.marker(m) is not None}

    @property
    def censored(self) -> dict[str, str]:
        """The censor sign of each marker given as a bound."""
        return {m: CENSOR_SIGNS[code] for m in MARKERS if (code := int(self.columns.censors[m][0]))}

    def as_seen(self, name: str) -> tuple[float, str] | None:
        """Marker ``name`` as given (value, unit); None when not measured."""
        return self.seen.get(name)

    def __eq__(self, other: object) -> bool:
        """Same source, same values, given in the same units and with the same censor signs."""
        return isinstance(other, Panel) and self._key() == other._key()

    def _key(self) -> tuple[object, ...]:
        return self.source, [self.value(f) for f in FIELD], self.seen, self.censored

    def __repr__(self) -> str:
        given = ", ".join(f"{f}={v!r}" for f in FIELD if (v := self.value(f)) not in (None, ()))
        return f"Panel(source={self.source!r}, {given})"


@dataclass(frozen=True)
class Cohort:
    """Panels of a table, validated: the good rows as columns, one error per bad cell.

    ``column_map`` says which column was taken for which field; ``format`` how a file was
    read (None for a DataFrame).
    """

    source: str
    columns: PanelColumns
    errors: tuple[LabValueError, ...]
    n_rows: int
    column_map: ColumnMap
    format: TableFormat | None = None

    def panel(self, i: int) -> Panel:
        """Good panel ``i`` (0-based, in ``columns`` order) as a :class:`Panel`."""
        return Panel(self.source, self.columns.take(np.array([i])))

    def only_panel(self) -> Panel:
        """The panel of a one-row table.

        Raises
        ------
        LabValueError
            The table has more than one row, or its row is bad (the first error).
        """
        if self.n_rows != 1:
            raise LabValueError(self.source, "(rows)", f"{self.n_rows} data rows where one panel is expected",
                                "a header and exactly one data row (use read_cohort for several panels)")
        if self.errors:
            raise self.errors[0]
        return self.panel(0)

    def describe_reading(self) -> str | None:
        """How the table was read and which columns were renamed, when that is not plain
        (UTF-8, comma-separated, decimal point, columns named as the fields); else None."""
        parts = []
        if self.format is not None and self.format != TableFormat("UTF-8", ",", False):
            parts.append(self.format.describe())
        if renamed := self.column_map.describe():
            parts.append("columns " + renamed)
        return f"{self.source}: read as " + "; ".join(parts) if parts else None


def parse_panel(mapping: Mapping[str, Any], source: str = "<panel>") -> Panel:
    """Validate one panel given as a JSON-like mapping.

    A marker is ``{"value": 150, "unit": "pg/mL"}``, the text ``"150 pg/mL"`` (``"0,3 µmol/L"``
    and the bounds ``"<150 pg/mL"``, ``">1476 pg/mL"`` too), or a number with a
    ``<marker>_unit`` field; a number without a unit is refused. Keys may be spelled as lab
    exports spell them (``"Vitamin B12 (ng/L)"``, see :mod:`b12brain.labs.headers`).

    Raises
    ------
    LabValueError
        Naming ``source``, the field, the value seen and what is accepted.

    Examples
    --------
    >>> p = parse_panel({"b12": "200 pg/mL", "mma": {"value": 280, "unit": "nmol/L"}, "age": 70})
    >>> p.b12, p.seen["b12"], p.mma, p.age
    (147.6, (200.0, 'pg/mL'), 0.28, 70.0)
    >>> parse_panel({"Active B12": "<20 pmol/L"}).censored
    {'holotc': '<'}
    """
    if not isinstance(mapping, Mapping):
        kind = _JSON_TYPES.get(type(mapping), type(mapping).__name__)
        raise LabValueError(source, "(top level)", f"a JSON {kind} where an object is expected",
                            "a JSON object of lab fields, e.g. {\"b12\": \"150 pg/mL\", \"age\": 70}")
    column_map = map_headers(list(mapping), source)
    flat = {f: mapping[h] for h, f, _ in column_map.columns}
    for marker in MARKERS:
        value = flat.get(marker)
        if isinstance(value, Mapping):
            extra = sorted(map(str, set(value) - {"value", "unit"}))
            if extra:
                raise LabValueError(source, marker, f"unexpected key(s) {shorten(str(extra))}", "{\"value\": number, \"unit\": text}")
            if "unit" in value and (marker + UNIT_SUFFIX in flat or marker in column_map.header_units):
                raise LabValueError(source, marker, "unit given twice (in the value and beside it)", "one unit per value")
            flat[marker] = value.get("value")
            if "unit" in value:
                flat[marker + UNIT_SUFFIX] = value["unit"]
    frame = pd.DataFrame({key: pd.Series([value], dtype=object) for key, value in flat.items()}, index=pd.RangeIndex(1))
    columns, errors = validate_frame(frame, lambda i: source, strict=True, header_units=column_map.header_units)
    if errors:
        raise errors[0]
    return Panel(source, columns)


def read_panel(path: Path | str) -> Panel:
    """Read one panel from a ``.json`` object or a one-row ``.csv`` (header + one data row).

    The CSV may be exported as laboratories and spreadsheets write it (see
    :func:`read_cohort`).

    Raises
    ------
    LabValueError
        The file is missing, empty, malformed, too large, nested too deep, has duplicate
        fields or more than one row, or a value is unusable; the message names the file (and
        the row for CSV) and the field.
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return parse_panel(_load_json(path, source), source)
    if suffix in (".csv", ".tsv"):
        return read_cohort(path).only_panel()
    raise LabValueError(source, _FILE, f"unsupported file type {shorten(path.suffix)!r}", "a .json, .csv or .tsv lab panel")


def read_cohort(table: pd.DataFrame | Path | str, *, source: str | None = None) -> Cohort:
    """Validate a table of panels (CSV file or DataFrame, one row per panel), column-wise.

    A file may be comma-, semicolon-, tab- or pipe-separated, in UTF-8 (with or without BOM),
    UTF-16 with BOM or Windows-1252, with decimal commas (in files not separated by commas),
    censored values (``<150 pmol/L``), units in the cells, in ``<marker>_unit`` columns or in
    the headers (``Vitamin B12 (ng/L)``), and spreadsheet artefacts (trailing empty columns
    and cells, blank lines); see :mod:`b12brain.labs.tablefile` and
    :mod:`b12brain.labs.headers`.

    File-level problems (missing/empty/malformed file, unknown or duplicate column) raise; a bad
    cell rejects its row only and becomes one LabValueError in ``errors``, naming "row N":
    data rows are counted from 1 below the header (spreadsheet row N+1).

    Raises
    ------
    LabValueError
        The table as a whole cannot be read.
    """
    if isinstance(table, pd.DataFrame):
        name = source or "DataFrame"
        column_map = map_headers(list(table.columns), name)
        if len(table) == 0:
            raise LabValueError(name, "(rows)", "the table has no rows", "one row per panel")
        labels = table.index
        frame = table.reset_index(drop=True)
        frame.columns = pd.Index(column_map.fields)

        def row_source(i: int) -> str:
            return f"{name}, row {i + 1} (rows counted from 1; DataFrame index {shorten(repr(labels[i]))})"

        columns, errors = validate_frame(frame, row_source, header_units=column_map.header_units)
        return Cohort(name, columns, errors, len(frame), column_map)
    path = Path(table)
    name = source or str(path)
    raw = read_table(path, name, takes_numbers=takes_numbers)
    column_map = map_headers(list(raw.header), name)
    frame = raw.frame
    frame.columns = pd.Index(column_map.fields)
    row_numbers = raw.row_numbers

    def csv_row_source(i: int) -> str:
        return row_text(name, int(row_numbers[i]))

    columns, errors = validate_frame(frame, csv_row_source, decimal_comma=raw.format.decimal_comma,
                                     header_units=column_map.header_units)
    columns = replace(columns, rows=row_numbers[columns.rows - 1])
    all_errors = tuple(sorted((*raw.shape_errors, *errors), key=_row_of))
    return Cohort(name, columns, all_errors, len(frame) + len(raw.shape_errors), column_map, raw.format)


def _row_of(error: LabValueError) -> int:
    text = error.source.rsplit(", row ", 1)[-1].split(" ", 1)[0]
    return int(text) if text.isascii() and text.isdigit() else 0


def _load_json(path: Path, source: str) -> Any:
    if not path.is_file():
        raise LabValueError(source, _FILE, "file not found" if not path.exists() else "not a file",
                            "an existing .json or .csv lab panel file")
    try:
        data = read_json_bytes(path)
        if not data.strip() or data.strip() == codecs.BOM_UTF8:
            raise LabValueError(source, _FILE, "the file is empty", "a JSON object of lab fields")
        document = parse_json(data)
    except DuplicateKeyError as dup:
        raise LabValueError(source, dup.where, f"field {dup.where!r} is given twice", "each field once") from None
    except JSONProblem as problem:
        raise LabValueError(source, problem.where, problem.problem, "a JSON object of lab fields") from None
    except OSError as err:
        raise LabValueError(source, _FILE, f"cannot be read ({err.strerror})", "a readable file") from err
    return document
