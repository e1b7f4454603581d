"""Which series of a study ``b12brain run`` takes as the FLAIR and as the T1.

The rules (docs/series-selection.md): a series is a candidate for a role when its metadata
call (:func:`b12brain.qc.sequence.call_sequence`) is that contrast and it is one image volume
(not a non-image object, not several volumes such as DWI or fMRI); localizers, derived and
reformatted images, ADC/trace and phase images are called as such and so are never candidates.
Among candidates: 3D before 2D, then the thinnest slices, then the latest. Two candidates equal
on all three are ambiguous: the user chooses (``--flair-series``, ``--t1-series``). A path
holding several studies or patients is refused unless one study is chosen (``--study-uid``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from b12brain.errors import InputFileError
from b12brain.io.dicom_headers import non_image_kind
from b12brain.qc.sequence import call_sequence
from b12brain.study.index import SeriesInfo, StudyIndex

Role = Literal["flair", "t1"]
_ROLE_NAMES = {"flair": "FLAIR", "t1": "T1"}
#: Slice thicknesses closer than this are "the same" when ranking candidates (scanner rounding).
_THICKNESS_TOL_MM = 0.05


@dataclass(frozen=True)
class SeriesCall:
    """What a series looks like (the metadata call) and why it can never be taken, if so."""

    series: SeriesInfo
    contrast: str | None
    reasons: tuple[str, ...]
    acquisition: str | None
    excluded: str | None

    @property
    def why(self) -> str:
        """The call's reasons, or the exclusion, in one short phrase."""
        called = "; ".join(self.reasons) if self.reasons else "the metadata names no contrast"
        return f"never taken: {self.excluded} ({called})" if self.excluded else called


@dataclass(frozen=True)
class SeriesChoice:
    """The series taken for a role, and why (one line a user can check)."""

    role: Role
    series: SeriesInfo
    why: str
    source: Path

    def as_dict(self) -> dict[str, Any]:
        """The record kept in ``summary.json`` (``series``)."""
        return {
            "role": self.role,
            "number": self.series.number,
            "description": self.series.description,
            "uid": self.series.uid,
            "study_uid": self.series.study_uid,
            "files": len(self.series.files),
            "why": self.why,
            "found_in": str(self.source),
        }


def call_series(series: SeriesInfo) -> SeriesCall:
    """Call the contrast of ``series`` from its metadata; say why it is excluded, if it is."""
    call = call_sequence(series.metadata)
    excluded = None
    kind = non_image_kind(series.sop_class)
    if not series.is_image or kind is not None:
        excluded = f"not an image a scan can be read from: {kind or series.sop_class}"
    elif series.volumes > 1:
        excluded = f"{series.volumes} volumes in one series (DWI, fMRI or perfusion), not one 3D image"
    return SeriesCall(series, call.contrast, call.reasons, call.acquisition, excluded)


def one_study(index: StudyIndex, study_uid: str | None = None) -> tuple[SeriesInfo, ...]:
    """The series of the one study in ``index`` (or of ``study_uid``).

    Raises
    ------
    InputFileError
        ``index`` holds several studies or patients and none was chosen, or ``study_uid`` is not
        among them. The message lists the studies by date, description, UID and series count
        (never by patient).
    """
    series = index.series
    if study_uid is not None:
        series = tuple(s for s in series if s.study_uid == study_uid)
        if not series:
            raise InputFileError(index.path, f"holds no study with the UID {study_uid}; it holds:\n"
                                 f"{_study_lines(index.series)}\nchoose one of these with --study-uid")
    studies = {s.study_uid for s in series}
    patients = {s.patient_key for s in series}
    if len(studies) > 1 or len(patients) > 1:
        of = f" of {len(patients)} patients" if len(patients) > 1 else ""
        raise InputFileError(index.path, f"holds {len(studies)} studies{of}:\n{_study_lines(series)}\nchoose one with "
                             "--study-uid UID, or point at the folder of one study")
    return series


def choose_series(
    source: Path, series: Sequence[SeriesInfo], role: Role, *, pick: str | None = None, take_only: bool = False,
    required: bool = True,
) -> SeriesChoice | None:
    """The series of ``series`` to take as ``role`` (rules of the module docstring).

    Parameters
    ----------
    source : Path
        The path the series were found in (named in messages).
    pick : str, optional
        The user's choice: a series number or a SeriesInstanceUID.
    take_only : bool
        When ``series`` holds one image series only, take it whatever it looks like (the user
        named that path as the ``role``; the scan checks judge the image).
    required : bool
        Raise when no series fits; otherwise return None.

    Raises
    ------
    InputFileError
        ``pick`` matches no series or several; no candidate and ``required``; or two candidates
        are equally good (the message lists them and how to choose).
    """
    name = _ROLE_NAMES[role]
    if pick is not None:
        chosen = _picked(source, series, pick, role)
        return SeriesChoice(role, chosen, f"chosen with --{role}-series {pick}", source)
    calls = [call_series(s) for s in series]
    images = [c for c in calls if c.series.is_image]
    if take_only and len(images) == 1:
        return SeriesChoice(role, images[0].series, f"the only image series there; it looks like: {_looks(images[0])}",
                            source)
    candidates = [c for c in calls if c.excluded is None and c.contrast == role]
    if not candidates:
        if not required:
            return None
        if len(calls) == 1:
            only = calls[0]
            raise InputFileError(source, f"its only series ({only.series.label}) is not a {name}: {_looks(only)}; "
                                 f"give the {name} series")
        raise InputFileError(source, f"none of its {len(series)} series looks like a {name} from its metadata; "
                             f"`b12brain series {source}` lists them: choose one with --{role}-series NUMBER")
    # Stable sorts: latest first, then thinnest, then 3D first, so 3D > thinnest > latest.
    ranked = sorted(candidates, key=lambda c: c.series.date_time, reverse=True)
    ranked.sort(key=lambda c: round((c.series.thickness_mm or 1e3) / _THICKNESS_TOL_MM))
    ranked.sort(key=lambda c: c.acquisition != "3D")
    best = ranked[0]
    ties = [c for c in ranked if _rank(c) == _rank(best)]
    if len(ties) > 1:
        lines = "\n".join(f"  {_short(c)}" for c in ties)
        raise InputFileError(source, f"{len(ties)} series are equally good as the {name} (same acquisition, slice "
                             f"thickness and time):\n{lines}\nchoose one with --{role}-series NUMBER (or its UID)")
    why = f"looks like a {name}: {best.why}; {_geometry(best)}"
    others = [c for c in ranked if c is not best]
    if others:
        why += f"; preferred to {', '.join(o.series.label for o in others)} (3D first, then thinnest slices, then latest)"
    return SeriesChoice(role, best.series, why, source)


def _picked(source: Path, series: Sequence[SeriesInfo], pick: str, role: Role) -> SeriesInfo:
    text = pick.strip()
    found = [s for s in series if s.uid == text or (text.isdigit() and s.number == int(text))]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputFileError(source, f"holds no series numbered or with the UID {text!r} (--{role}-series); "
                             f"`b12brain series {source}` lists them")
    lines = "\n".join(f"  {_short(call_series(s))}" for s in found)
    raise InputFileError(source, f"{len(found)} series are numbered {text}:\n{lines}\nchoose one with "
                         f"--{role}-series UID")


def _rank(call: SeriesCall) -> tuple[bool, int, str]:
    return (call.acquisition != "3D", round((call.series.thickness_mm or 1e3) / _THICKNESS_TOL_MM),
            call.series.date_time)


def _looks(call: SeriesCall) -> str:
    if call.excluded:
        return call.excluded
    return f"{call.contrast or 'unknown'}: {call.why}"


def _geometry(call: SeriesCall) -> str:
    thickness = f"{call.series.thickness_mm:g} mm slices" if call.series.thickness_mm else "slice thickness unknown"
    return f"{call.acquisition or 'acquisition (2D/3D) unknown'}, {thickness}"


def _short(call: SeriesCall) -> str:
    s = call.series
    return (f"{s.number if s.number is not None else '-'}  '{s.description}'  {_geometry(call)}, {s.slices} slices"
            f"{', ' + s.date_time if s.date_time else ''}  UID {s.uid}")


def _study_lines(series: Sequence[SeriesInfo]) -> str:
    studies: dict[str, list[SeriesInfo]] = {}
    for s in series:
        studies.setdefault(s.study_uid, []).append(s)
    return "\n".join(
        f"  {members[0].study_date or 'date unknown'}  '{members[0].study_description}'  "
        f"{len(members)} series  UID {uid or 'none'}"
        for uid, members in studies.items()
    )
