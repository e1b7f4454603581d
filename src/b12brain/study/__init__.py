"""Finding the series in what hospitals hand over: studies, CDs (DICOMDIR), zips.

:func:`open_study` indexes every DICOM series under a path, :func:`choose_series` picks the
FLAIR or T1 among them (rules: docs/series-selection.md), :func:`resolve_scans` turns a run's
``--flair``/``--study``/``--t1`` into the paths to read, and :func:`series_table` lists a study.
"""

from __future__ import annotations

from b12brain.study.index import SeriesInfo, StudyIndex, open_study
from b12brain.study.resolve import ResolvedScans, resolve_scans
from b12brain.study.select import SeriesCall, SeriesChoice, call_series, choose_series, one_study
from b12brain.study.table import series_table

__all__ = [
    "ResolvedScans",
    "SeriesCall",
    "SeriesChoice",
    "SeriesInfo",
    "StudyIndex",
    "call_series",
    "choose_series",
    "one_study",
    "open_study",
    "resolve_scans",
    "series_table",
]
