"""Blood markers over time for the follow-up timeline: a table of dated lab panels.

The table is a lab panel table as ``b12brain labs`` reads it (:func:`b12brain.labs.read_cohort`:
units, censored values and header names as there) with one more column, ``date``
(``YYYY-MM-DD``), one row per blood draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from b12brain.errors import InputFileError, LabValueError
from b12brain.subject import parse_date

#: Markers drawn on the timeline, in canonical units (pmol/L, µmol/L).
TIMELINE_MARKERS = {"b12": "B12 (pmol/L)", "holotc": "holoTC (pmol/L)", "mma": "MMA (µmol/L)",
                    "homocysteine": "Hcy (µmol/L)"}


@dataclass(frozen=True)
class MarkerDraw:
    """One dated panel: the timeline markers that were measured, canonical units."""

    date: date
    values: dict[str, float]


def read_marker_series(path: Path | str) -> list[MarkerDraw]:
    """Read a dated lab table, earliest draw first.

    Raises
    ------
    InputFileError
        The file is missing or has no ``date`` column, or a date is not ``YYYY-MM-DD``.
    LabValueError
        A marker value or unit is unusable (the first bad cell is named).
    """
    import pandas as pd

    from b12brain.labs import read_cohort

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "does not exist; give a CSV of dated lab panels (--labs-series)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputFileError(path, f"is not a readable table ({err}); give a CSV with a date column") from err
    dates = [c for c in frame.columns if str(c).strip().lower() == "date"]
    if len(dates) != 1:
        raise InputFileError(path, "has no 'date' column (or more than one); add one, YYYY-MM-DD per row")
    when = [parse_date(text, f"{path}, row {i + 1}, date") for i, text in enumerate(frame.pop(dates[0]))]
    cohort = read_cohort(frame, source=str(path))
    if cohort.errors:
        raise cohort.errors[0]
    draws = []
    for i, row in enumerate(cohort.columns.rows):
        panel = cohort.panel(i)
        values = {k: float(v) for k in TIMELINE_MARKERS if (v := panel.marker(k)) is not None}
        draws.append(MarkerDraw(when[int(row) - 1], values))
    if not draws:
        raise LabValueError(str(path), "(rows)", "no row holds a usable panel", "one dated panel per row")
    return sorted(draws, key=lambda d: d.date)
