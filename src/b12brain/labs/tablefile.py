"""Lab tables as laboratories and spreadsheets export them: bytes -> text -> cells.

- **Size**: a file over :data:`MAX_TABLE_BYTES` is refused before it is read.
- **Encoding**: a byte-order mark (UTF-8 or UTF-16) decides; otherwise UTF-8, and if the
  bytes are not UTF-8, Windows-1252 (the "ANSI" of Western-European Excel; it holds µ, ² and
  ö at the same bytes as Latin-1). Encoding detectors guess wrongly on files this small
  (charset-normalizer 3.5 reads a cp1252 lab export as Big5), so none is used; a wrong guess
  could only garble text, and every unit and choice is checked against its accepted list.
- **Delimiter**: :class:`csv.Sniffer` on the first lines, among ``,`` ``;`` tab and ``|``.
- **Decimal mark**: a comma in ``;``-, tab- or ``|``-separated files (the convention that
  makes exports use those delimiters); see :func:`b12brain.labs.cells.parse_numbers`.
- **Spreadsheet artefacts**: trailing columns with neither a header nor a value, and trailing
  empty cells, are dropped; blank lines are skipped (but counted, so row numbers match). A
  row with more or fewer cells than the header is refused (a missing cell would shift the
  values after it), naming the row.

Files whose lines all have the header's number of cells (and no line break inside a quoted
cell) are parsed by pandas' C reader; the others are read row by row with :mod:`csv`, to name
each bad row.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from b12brain.errors import LabValueError

#: Largest lab table read (bytes): a million panels take about 170 MB of file and 2 GB of
#: memory while read, so this bounds memory to about 3 GB (give larger cohorts in parts, or as
#: a DataFrame to :func:`~b12brain.labs.read_cohort`).
MAX_TABLE_BYTES = 256 << 20
#: Characters read to find the delimiter.
_SNIFF_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"
_QUOTED = re.compile(r'"[^"]*"')
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_FILE = "(file)"
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TableFormat:
    """How a lab table file was read: encoding, delimiter and decimal mark."""

    encoding: str
    delimiter: str
    decimal_comma: bool

    def describe(self) -> str:
        """E.g. ``"Windows-1252, semicolon-separated, decimal comma"``."""
        mark = "decimal comma" if self.decimal_comma else "decimal point"
        return f"{self.encoding}, {_DELIMITER_NAMES[self.delimiter]}-separated, {mark}"


@dataclass(frozen=True)
class RawTable:
    """The cells of a lab table as text: header, data rows, their numbers, and bad rows."""

    header: list[str]
    frame: pd.DataFrame
    row_numbers: IntArray
    shape_errors: list[LabValueError]
    format: TableFormat


def row_text(name: str, row: int) -> str:
    """How a message names data row ``row`` of file ``name``."""
    return f"{name}, row {row} (data rows counted from 1 below the header; spreadsheet row {row + 1})"


def _read_table_text(path: Path, source: str) -> tuple[str, str]:
    """The text of a lab file and the name of its encoding.

    Raises
    ------
    LabValueError
        The file is missing, not a file, unreadable, larger than :data:`MAX_TABLE_BYTES`, empty, or not
        text in UTF-8, UTF-16 (with a byte-order mark) or Windows-1252.
    """
    if not path.is_file():
        raise LabValueError(source, _FILE, "file not found" if not path.exists() else "not a file",
                            "an existing .json or .csv lab panel file")
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise LabValueError(source, _FILE, f"the file holds {size:,} bytes",
                                f"at most {MAX_TABLE_BYTES:,} bytes (give a larger cohort in parts)")
        data = path.read_bytes()
    except OSError as err:
        raise LabValueError(source, _FILE, f"cannot be read ({err.strerror})", "a readable file") from err
    text, encoding = _decode(data, source)
    if not text.strip():
        raise LabValueError(source, _FILE, "the file is empty", "a lab panel (JSON object or CSV with a header row)")
    return text, encoding


def _decode(data: bytes, source: str) -> tuple[str, str]:
    for bom, codec, name in ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with BOM"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                             (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec), name
            except UnicodeDecodeError as err:
                raise LabValueError(source, _FILE, f"not {name} text ({err.reason} at byte {err.start})",
                                    "a text file saved as UTF-8") from err
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as err:
        raise LabValueError(source, _FILE, f"not text (byte 0x{data[err.start]:02x} at {err.start} is neither UTF-8 nor "
                            "Windows-1252)", "a text file saved as UTF-8") from err


def _sniff_delimiter(text: str) -> str:
    """The delimiter of a table's text (``,`` when only one column is found).

    >>> _sniff_delimiter("b12;mma\\n150 pmol/L;0,3 umol/L\\n"), _sniff_delimiter("b12\\n150 pmol/L\\n")
    (';', ',')
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS:  # whole lines only
        sample = sample[: sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def read_table(path: Path, source: str, *, takes_numbers: Callable[[str], bool] = lambda header: False) -> RawTable:
    """Read a lab table file (CSV as labs and spreadsheets export it) into cells.

    Cells are text, except that a column whose header ``takes_numbers`` and whose cells are
    all plain numbers (decimal mark of the file) is parsed by pandas into numbers; a column
    with any other text stays text (its numbers are parsed by the field checks).

    Raises
    ------
    LabValueError
        The file cannot be read as text (see :func:`_read_table_text`), is not a table
        (unterminated quote), or has a header but no data row.
    """
    text, encoding = _read_table_text(path, source)
    text = text.removeprefix("\ufeff")
    if "\r" in text:  # universal newlines, as Python's text mode reads them: CRLF and a lone CR end a line
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.split("\n", 1)[0].strip():
        raise LabValueError(source, "(header)", "the first line is empty", "the header row (the field names) on the first line")
    delimiter = _sniff_delimiter(text)
    fmt = TableFormat(encoding, delimiter, delimiter != ",")
    # With quoted cells emptied, a line is a row when no quoted cell holds a line break; then
    # the cells of each row can be counted and blank rows found from the text alone.
    unquoted = text
    if '"' in text:  # (the checks copy the text: only where there are quotes)
        unquoted = _QUOTED.sub('""', text)
        if '"' in unquoted.replace('""', "") or unquoted.count("\n") != text.count("\n"):
            return _read_rows(text, source, fmt)
    lines = unquoted.split("\n")
    if lines[-1] == "":  # the end of the last line, not a line
        lines.pop()
    counts = np.fromiter(map(str.count, lines, itertools.repeat(delimiter)), dtype=np.int64, count=len(lines))
    blank = _blank_lines(lines, counts, delimiter)
    if (counts[~blank] != counts[0]).any():
        return _read_rows(text, source, fmt)
    header = [h.strip() for h in next(csv.reader([text.split("\n", 1)[0]], delimiter=delimiter))]
    text_columns = {j: object for j, h in enumerate(header) if not takes_numbers(h)}
    try:
        cells = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, skiprows=1, names=range(len(header)),
                            dtype=text_columns, keep_default_na=False, na_values=[""], skip_blank_lines=False,
                            decimal="," if fmt.decimal_comma else ".", engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError):  # the row-by-row reader names the problem
        return _read_rows(text, source, fmt)
    if len(cells) != len(lines) - 1:  # one row per line is what the checks above rely on
        return _read_rows(text, source, fmt)
    has_value = [bool(h) or bool(cells[j].dropna().astype(str).str.strip().ne("").any()) for j, h in enumerate(header)]
    keep = _kept_columns(header, np.array(has_value))
    rows = np.flatnonzero(~blank[1:])  # row positions; data row numbers are one more (line 0 is the header)
    if len(rows) == 0:
        raise LabValueError(source, "(rows)", "the table has a header but no data row", "one data row per panel")
    if len(rows) < len(cells) or len(keep) < len(header):  # (a copy: only when something is dropped)
        cells = cells.iloc[rows, keep].reset_index(drop=True)
    cells.columns = pd.RangeIndex(len(keep))
    return RawTable([header[j] for j in keep], cells, (rows + 1).astype(np.int64), [], fmt)


def _blank_lines(lines: list[str], counts: npt.NDArray[np.int64], delimiter: str) -> npt.NDArray[np.bool_]:
    """Lines with no value: empty, spaces, or delimiters only (a spreadsheet's empty row)."""
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    blank = np.zeros(len(lines), dtype=bool)
    short = np.flatnonzero(lengths <= 2 * counts + 2)  # a line that has a value is longer
    blank[short] = [not lines[i].strip(" \t\r" + delimiter) for i in short]
    return blank


def _kept_columns(header: list[str], has_value: npt.NDArray[np.bool_]) -> list[int]:
    """Columns to keep: all but the trailing ones with neither a header nor a value."""
    last = len(header)
    while last > 1 and not header[last - 1] and not has_value[last - 1]:
        last -= 1
    return list(range(last))


def _read_rows(text: str, source: str, fmt: TableFormat) -> RawTable:
    """Row by row, for quoted cells and ragged rows: a row with another number of cells than
    the header (empty trailing cells aside) becomes one error naming it."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        width = len(_kept_columns(header, np.zeros(len(header), dtype=bool)))
        records: list[list[str]] = []
        numbers: list[int] = []
        errors: list[LabValueError] = []
        for number, record in enumerate(reader, start=1):
            while len(record) > width and not record[-1].strip():
                record.pop()
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != width:
                errors.append(LabValueError(row_text(source, number), "(row)", f"{len(record)} cells where the header has {width}",
                                            "one cell per header field"))
                continue
            records.append(record)
            numbers.append(number)
    except csv.Error as err:
        raise LabValueError(source, _FILE, f"malformed CSV at line {reader.line_num}: {err}",
                            "a table of values separated by commas, semicolons or tabs, with a header row") from err
    header = header[:width]
    if not records and not errors:
        raise LabValueError(source, "(rows)", "the table has a header but no data row", "one data row per panel")
    frame = pd.DataFrame(records, columns=pd.RangeIndex(width), dtype=object)
    return RawTable(header, frame, np.asarray(numbers, dtype=np.int64), errors, fmt)
