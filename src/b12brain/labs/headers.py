"""Column headers of lab exports -> panel fields: the spellings laboratories use, and units in brackets.

``Vitamin B12 (ng/L)``, ``Cobalamin``, ``Active B12``, ``HoloTC [pmol/l]``, ``tHcy``, ``MMA``
... are read as the panel fields ``b12``, ``holotc``, ``homocysteine``, ``mma``; a unit in
round or square brackets applies to every cell of a marker column. Matching ignores case,
spaces, ``_``, ``-`` and ``.``; anything else is refused with the closest known name, so a
misspelled column is never silently dropped.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from b12brain.errors import LabValueError
from b12brain.io.jsonfile import shorten
from b12brain.labs.fields import FIELD, FIELDS, KNOWN_FIELDS, MARKER_SPECS, MARKERS, NUMBER_FIELDS, UNIT_SUFFIX
from b12brain.labs.units import find_unit

#: Other header spellings of a field (compared after :func:`_header_key`), from the field table.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {f.name: f.headers for f in FIELDS if f.headers}
#: Headers longer than this get no "did you mean" (difflib's time grows with the square of the length).
_SUGGEST_CHARS = 80
_BRACKETED = re.compile(r"^(.*?)\s*[(\[]\s*([^()\[\]]*?)\s*[)\]]\s*$")


def _header_key(text: str) -> str:
    """A header reduced to a lookup key: lower case, words separated by single spaces.

    >>> _header_key(" Vit. B12 "), _header_key("anti_if_antibody"), _header_key("Holo-TC")
    ('vit b12', 'anti if antibody', 'holo tc')
    """
    return " ".join(re.sub(r"[\s_.\-/]+", " ", text.lower()).split())


_LOOKUP: dict[str, str] = {_header_key(f): f for f in KNOWN_FIELDS}
_LOOKUP.update({_header_key(a): f for f, aliases in HEADER_ALIASES.items() for a in aliases})
# "Vitamin B12 unit" is the unit column of "Vitamin B12".
_LOOKUP.update({_header_key(f"{a} {word}"): f + UNIT_SUFFIX for f, aliases in HEADER_ALIASES.items() if f in MARKERS
                for a in aliases for word in ("unit", "units")})


@dataclass(frozen=True)
class ColumnMap:
    """Which column was taken for which field: ``(header as written, field, unit from the header)``."""

    columns: tuple[tuple[str, str, str | None], ...]

    @property
    def fields(self) -> list[str]:
        return [f for _, f, _ in self.columns]

    @property
    def header_units(self) -> dict[str, tuple[str, str]]:
        """Marker -> (unit, header) for marker columns whose header gives the unit."""
        return {f: (u, h) for h, f, u in self.columns if u is not None and f in MARKER_SPECS}

    def describe(self) -> str:
        """One line per renamed column, e.g. ``'Vitamin B12 (ng/L)' -> b12 (unit ng/L)``."""
        parts = [f"{h!r} -> {f}" + (f" (unit {u})" if u else "") for h, f, u in self.columns if h != f]
        return "; ".join(parts)


def map_headers(headers: list[object], source: str) -> ColumnMap:
    """The field of every column header, checked.

    Raises
    ------
    LabValueError
        A header is not text, names no known field (the closest spelling is suggested), two
        columns name the same field, a bracketed unit is not one the field accepts, a unit is
        given both in a header and in a ``<marker>_unit`` column, or a ``<marker>_unit``
        column has no marker column.

    Examples
    --------
    >>> map_headers(["Patient ID", "Vitamin B12 (ng/L)", "tHcy [umol/L]", "Age"], "x.csv").columns
    (('Patient ID', 'id', None), ('Vitamin B12 (ng/L)', 'b12', 'ng/L'), ('tHcy [umol/L]', 'homocysteine', 'µmol/L'), ('Age', 'age', None))
    """
    columns: list[tuple[str, str, str | None]] = []
    taken: dict[str, str] = {}
    for header in headers:
        if not isinstance(header, str):
            raise LabValueError(source, shorten(repr(header)), "column names must be text", "the lab field names")
        field, unit = _field_of(header, source)
        if field in taken:
            both = f"columns {shorten(taken[field])!r} and {shorten(header)!r}" if taken[field] != header else "two columns"
            raise LabValueError(source, shorten(header), f"field {field!r} is given twice ({both})", "each field once")
        taken[field] = header
        columns.append((header, field, unit))
    for header, field, unit in columns:
        if field.endswith(UNIT_SUFFIX):
            marker = field[: -len(UNIT_SUFFIX)]
            if marker not in taken:
                raise LabValueError(source, shorten(header), f"unit column {shorten(header)!r} without a {marker!r} column",
                                    f"a {marker!r} column beside it")
            if any(f == marker and u is not None for _, f, u in columns):
                raise LabValueError(source, shorten(header), f"the unit of {marker!r} is given in its header and in "
                                    f"{shorten(header)!r}", "one of the two")
    return ColumnMap(tuple(columns))


def takes_numbers(header: str) -> bool:
    """Whether a column may hold plain numbers (a marker or a number field), so that a table
    reader may parse them as numbers.

    >>> takes_numbers("Vitamin B12 (ng/L)"), takes_numbers("Sex"), takes_numbers("colour")
    (True, False, False)
    """
    try:
        field, _ = _field_of(header, "")
    except LabValueError:
        return False
    return field in MARKERS or field in NUMBER_FIELDS


def _field_of(header: str, source: str) -> tuple[str, str | None]:
    """The field a header names and the unit in its brackets (canonical spelling)."""
    name, unit_text = header, None
    if (m := _BRACKETED.match(header)) and _header_key(m.group(1)) in _LOOKUP:
        name, unit_text = m.group(1), m.group(2)
    field = _LOOKUP.get(_header_key(name))
    if field is None:
        key = _header_key(name)
        close = difflib.get_close_matches(key, list(_LOOKUP), n=1) if len(key) <= _SUGGEST_CHARS else []
        hint = f" (did you mean {_LOOKUP[close[0]]!r}?)" if close else ""
        raise LabValueError(source, shorten(header), f"unknown field {shorten(header)!r}{hint}",
                            "one of the known fields: " + ", ".join(KNOWN_FIELDS)
                            + " (or a common lab spelling such as 'Vitamin B12 (ng/L)', 'Active B12', 'tHcy', 'MMA')")
    if unit_text is None:
        return field, None
    if field in MARKERS:
        unit = find_unit(field, unit_text)
        if unit is None:
            raise LabValueError(source, shorten(header), f"unknown unit {unit_text!r} in the header",
                                f"one of {MARKER_SPECS[field].accepted_units}")
        return field, unit
    if field in NUMBER_FIELDS and _header_key(unit_text) == _header_key(FIELD[field].unit):
        return field, None
    raise LabValueError(source, shorten(header), f"unit {unit_text!r} in the header of a field that takes none"
                        if field not in NUMBER_FIELDS else f"unit {unit_text!r} in the header",
                        f"{field} in {FIELD[field].unit}" if field in NUMBER_FIELDS else f"the header {field!r}")
