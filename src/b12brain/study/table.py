"""The listing ``b12brain series`` prints: every series, what it looks like and why, and the
ones ``b12brain run --study`` would take."""

from __future__ import annotations

from typing import Any

from b12brain.errors import InputFileError
from b12brain.study.index import StudyIndex
from b12brain.study.select import call_series, choose_series, one_study

_COLUMNS = ("run", "number", "description", "looks like", "2D/3D", "voxel mm", "slices", "date", "why")


def series_table(index: StudyIndex, *, study_uid: str | None = None) -> dict[str, Any]:
    """Every series of ``index`` as a row, with the FLAIR and T1 a run would take marked.

    Returns
    -------
    dict
        ``path``; ``series``: one dict per series (``number``, ``description``, ``protocol``,
        ``uid``, ``study_uid``, ``looks_like``, ``why``, ``acquisition``, ``voxel_mm``,
        ``slices``, ``volumes``, ``date``, ``files``, ``run_takes_as``: "FLAIR", "T1" or None);
        ``notes``: what was skipped, and why nothing is marked if so. No patient identifiers.
    """
    notes = list(index.notes)
    taken: dict[str, str] = {}
    try:
        series = one_study(index, study_uid)
    except InputFileError as err:
        notes.append(err.problem.replace("\n", " "))
        series = ()
    for role in ("flair", "t1"):
        if not series:
            break
        try:
            choice = choose_series(index.path, series, role, required=False)  # type: ignore[arg-type]
        except InputFileError as err:
            notes.append(err.problem.replace("\n", " "))
            continue
        if choice is not None:
            taken[choice.series.uid] = "FLAIR" if role == "flair" else "T1"
    rows = []
    for s in index.series:
        call = call_series(s)
        rows.append({
            "run_takes_as": taken.get(s.uid),
            "number": s.number,
            "description": s.description,
            "protocol": s.protocol,
            "looks_like": call.contrast,
            "why": call.why,
            "acquisition": call.acquisition,
            "voxel_mm": None if s.voxel_mm is None else [round(v, 3) for v in s.voxel_mm],
            "slices": s.slices,
            "volumes": s.volumes,
            "date": s.date_time,
            "files": len(s.files),
            "uid": s.uid,
            "study_uid": s.study_uid,
        })
    return {"path": str(index.path), "series": rows, "notes": notes}


def format_series_table(table: dict[str, Any]) -> str:
    """``table`` (from :func:`series_table`) as aligned text lines, the notes after it."""
    lines = [list(_COLUMNS)]
    for row in table["series"]:
        voxel = "x".join(f"{v:g}" for v in row["voxel_mm"]) if row["voxel_mm"] else "?"
        lines.append([
            row["run_takes_as"] or "", "" if row["number"] is None else str(row["number"]), _cut(row["description"], 32),
            row["looks_like"] or "?", row["acquisition"] or "?", voxel, str(row["slices"]), row["date"] or "?",
            _cut(row["why"], 70),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(_COLUMNS))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]
    text += [f"note: {note}" for note in table["notes"]]
    return "\n".join(text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
