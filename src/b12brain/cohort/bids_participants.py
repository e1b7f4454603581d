"""A cohort's age, sex, labs and vascular risk factors, read from ``participants.tsv`` (units from
``participants.json``) or from a CSV manifest's lab columns.

Lab columns are read by :func:`b12brain.labs.read_cohort`, one column at a time, so that they
are understood exactly as ``b12brain labs`` understands them (aliases such as ``Vitamin B12``,
units in the header, the cells or the JSON sidecar's ``Units``, decimal commas, censored values
such as ``<150``), and a bad cell costs that value only, not the subject's other labs. Every
problem becomes a flag of its subject (in the group table) or, for a whole column, a dataset
note; nothing here stops a cohort run.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from b12brain.errors import LabValueError
from b12brain.labs import CB12_CATEGORIES, compute_cb12, read_cohort
from b12brain.labs.censored import CENSOR_SIGNS
from b12brain.labs.headers import map_headers
from b12brain.labs.tablefile import MAX_TABLE_BYTES

#: Lab columns of the group table, canonical names and units (b12brain.labs.fields).
LAB_COLUMNS = ("b12", "holotc", "mma", "homocysteine", "folate", "egfr")
#: Vascular risk factors passed through as written (``n/a`` becomes empty).
PASSTHROUGH_COLUMNS = ("hypertension", "diabetes", "smoking")
#: Columns every table has: the key, age, sex, labs, cB12 and the risk factors.
PARTICIPANT_COLUMNS = ("age", "sex", *LAB_COLUMNS, "cb12", "cb12_category", *PASSTHROUGH_COLUMNS)
_KEY_COLUMNS = ("participant_id", "session_id")
_MISSING_TEXT = {"", "n/a", "na", "nan"}
_SEX = {"f": "female", "female": "female", "m": "male", "male": "male"}
_ROW = re.compile(r", row (\d+) ")


@dataclass(frozen=True)
class Participants:
    """Per subject (and session, from a manifest): the :data:`PARTICIPANT_COLUMNS` values, the
    subject's flags and the notes on the table as a whole."""

    values: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    flags: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def lookup(self, participant_id: str, session_id: str) -> tuple[dict[str, Any], list[str]]:
        """The subject's values (session's first, else the subject's) and flags."""
        for key in ((participant_id, session_id), (participant_id, "")):
            if key in self.values or key in self.flags:
                return self.values.get(key, dict.fromkeys(PARTICIPANT_COLUMNS)), list(self.flags.get(key, []))
        return dict.fromkeys(PARTICIPANT_COLUMNS), ["not in the participants table: no age, sex or labs"]


def read_participants_tsv(bids_dir: Path) -> Participants:
    """Read ``participants.tsv`` and ``participants.json`` of a BIDS dataset; a missing or
    unreadable table gives empty values and a dataset note."""
    tsv = bids_dir / "participants.tsv"
    if not tsv.is_file():
        return Participants(notes=(f"{tsv}: missing; age, sex and labs are empty for every subject",))
    if (size := tsv.stat().st_size) > MAX_TABLE_BYTES:
        return Participants(notes=(f"{tsv}: holds {size:,} bytes, more than the {MAX_TABLE_BYTES:,} read; age, sex "
                                   "and labs are empty for every subject",))
    try:
        rows = list(csv.reader(tsv.read_text(encoding="utf-8-sig").splitlines(), delimiter="\t"))
    except (OSError, ValueError) as err:
        return Participants(notes=(f"{tsv}: cannot be read as UTF-8 text ({err}); age, sex and labs are empty for "
                                   "every subject",))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return Participants(notes=(f"{tsv}: empty; age, sex and labs are empty for every subject",))
    header, body = rows[0], rows[1:]
    notes = [f"{tsv}: row {i} has {len(row)} cells where the header has {len(header)}; row not used"
             for i, row in enumerate(body, start=1) if len(row) != len(header)]
    frame = pd.DataFrame([row for row in body if len(row) == len(header)], columns=header, dtype=str)
    units, note = _sidecar_units(bids_dir / "participants.json")
    table = read_participants(frame, source=tsv.name, units=units)
    return Participants(table.values, table.flags, tuple(notes) + ((note,) if note else ()) + table.notes)


def read_participants(frame: pd.DataFrame, *, source: str, units: Mapping[str, str] | None = None) -> Participants:
    """Read a table of participants: ``participant_id``, optional ``session_id``, ``age``,
    ``sex``, lab columns and :data:`PASSTHROUGH_COLUMNS`; see the module docstring.

    ``units`` maps a column to its unit (``participants.json``'s ``Units``), used where neither
    the header nor the cells give one.
    """
    frame = frame.rename(columns=lambda c: str(c).strip())
    if "participant_id" not in frame.columns:
        return Participants(notes=(f"{source}: has no participant_id column; age, sex and labs are empty for "
                                   "every subject",))
    cells = frame.map(lambda x: "" if str(x).strip().lower() in _MISSING_TEXT else str(x).strip())
    ids = [p if p.startswith("sub-") else f"sub-{p}" for p in cells["participant_id"]]
    sessions = list(cells["session_id"].str.removeprefix("ses-")) if "session_id" in cells else [""] * len(cells)
    keys = list(zip(ids, sessions, strict=True))
    n = len(keys)
    out: dict[str, Any] = {c: np.full(n, np.nan) for c in ("age", *LAB_COLUMNS)}
    out["sex"] = np.full(n, None, dtype=object)
    flags: list[list[str]] = [[] for _ in range(n)]
    notes: list[str] = []
    for column in cells.columns:
        if column in _KEY_COLUMNS or column in PASSTHROUGH_COLUMNS:
            continue
        if column.lower() in ("sex", "gender"):
            _read_sex(cells[column], out["sex"], flags)
            continue
        header = column
        if units and column in units and "(" not in column and "[" not in column:
            header = f"{column} ({units[column]})"
        try:
            (_, name, _), = map_headers([header], source).columns
        except LabValueError as err:
            if _names_lab_field(column):
                notes.append(f"{source}: column {column!r} not read: {err.problem}; expected {err.expected}")
            else:
                notes.append(f"{source}: column {column!r} is not used (not a field b12brain reads)")
            continue
        if name not in out:
            notes.append(f"{source}: column {column!r} ({name}) is not used by the group table")
            continue
        _read_lab_column(cells[column], header, name, source, out[name], flags)
    for column in PASSTHROUGH_COLUMNS:
        out[column] = np.array(cells[column] if column in cells else [""] * n, dtype=object)
    cb12_inputs = ("b12", "holotc", "mma", "homocysteine", "age")
    out["cb12"] = compute_cb12(*(out[c] for c in cb12_inputs))
    codes = CB12_CATEGORIES.classify(out["cb12"])
    out["cb12_category"] = np.array([CB12_CATEGORIES.labels[c] if c >= 0 else "" for c in codes], dtype=object)
    seen: dict[tuple[str, str], int] = {}
    values: dict[tuple[str, str], dict[str, Any]] = {}
    all_flags: dict[tuple[str, str], list[str]] = {}
    for i, key in enumerate(keys):
        if key in seen:
            duplicate = f"{source}: {key[0]}{' ses-' + key[1] if key[1] else ''} is given in rows {seen[key] + 1} and " \
                        f"{i + 1}; its age, sex and labs are not used"
            values[key] = dict.fromkeys(PARTICIPANT_COLUMNS)
            all_flags[key] = [duplicate]
            continue
        seen[key] = i
        values[key] = {c: _plain(out[c][i]) for c in PARTICIPANT_COLUMNS}
        all_flags[key] = flags[i]
    return Participants(values, all_flags, tuple(notes))


def _read_lab_column(raw: pd.Series, header: str, name: str, source: str, into: np.ndarray,  # type: ignore[type-arg]
                     flags: list[list[str]]) -> None:
    """Read one lab (or age) column into ``into`` (canonical; NaN where missing, bad or censored)."""
    present = raw != ""
    if not present.any():
        return
    rows = np.flatnonzero(present)
    cohort = read_cohort(pd.DataFrame({header: raw.to_numpy()[rows]}), source=f"{source} column {header!r}")
    good = cohort.columns.rows - 1
    is_marker = name in cohort.columns.markers and name != "age"
    values = cohort.columns.markers[name] if is_marker else cohort.columns.numbers[name]
    censors = cohort.columns.censors[name] if is_marker else np.zeros(len(good), dtype=np.int8)
    for k, (j, value, censor) in enumerate(zip(good, values, censors, strict=True)):
        if censor:
            seen, unit = cohort.columns.seen_values[name][k], cohort.columns.seen_units[name][k]
            flags[rows[j]].append(f"{name}: given as a bound ({CENSOR_SIGNS[censor]}{seen:g} {unit}); left empty")
        else:
            into[rows[j]] = value
    for error in cohort.errors:
        if match := _ROW.search(error.source):
            flags[rows[int(match.group(1)) - 1]].append(f"{name}: {error.problem}; expected {error.expected}")


def _read_sex(raw: pd.Series, into: np.ndarray, flags: list[list[str]]) -> None:  # type: ignore[type-arg]
    for i, text in enumerate(raw):
        if not text:
            continue
        sex = _SEX.get(text.lower())
        if sex is None:
            flags[i].append(f"sex: {text!r} not understood; expected female or male (F/M)")
        into[i] = sex


def _sidecar_units(path: Path) -> tuple[dict[str, str], str]:
    """Column -> unit from a BIDS ``participants.json`` (``{"b12": {"Units": "pg/mL"}}``)."""
    if not path.is_file():
        return {}, ""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return {}, f"{path}: not readable JSON ({err}); units are taken from the table only"
    if not isinstance(document, dict):
        return {}, f"{path}: not a JSON object; units are taken from the table only"
    return {str(k): str(v["Units"]) for k, v in document.items() if isinstance(v, dict) and "Units" in v}, ""


def _names_lab_field(column: str) -> bool:
    """Whether a header names a lab field, whatever its (possibly bad) unit."""
    base = re.split(r"[(\[]", column, maxsplit=1)[0].strip()
    try:
        map_headers([base], "")
    except LabValueError:
        return False
    return True


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, NaN as None."""
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else float(value)
    return value
