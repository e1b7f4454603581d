"""Every DICOM series under a path: a file, a series or study folder, a DICOMDIR, or an archive.

Folders are searched recursively without following linked folders (so a link loop cannot trap
the search). Files that are not DICOM (a CD's viewer program, ``autorun.inf``, thumbnails,
text) are skipped and counted in a note; so are DICOM files that cannot be parsed.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from b12brain.errors import InputFileError
from b12brain.study.archive import MAX_MEMBERS, is_archive_path, unpacked_archive
from b12brain.study.dicomdir import is_dicomdir, read_dicomdir
from b12brain.study.header import FileHeader, read_file_header, series_metadata, starts_like_dicom


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series as its headers describe it.

    ``metadata`` holds BIDS sidecar keys (times in seconds), the input of
    :func:`b12brain.qc.sequence.call_sequence`; ``voxel_mm`` is (column spacing, row spacing,
    slice spacing); ``volumes`` > 1 for a series that repeats its slice positions (DWI, fMRI).
    ``patient_key`` is a hash of the patient's identifiers, for grouping only.
    """

    uid: str
    number: int | None
    description: str
    protocol: str
    metadata: dict[str, Any]
    sop_class: str
    is_image: bool
    voxel_mm: tuple[float, float, float] | None
    thickness_mm: float | None
    slices: int
    frames: int
    volumes: int
    date_time: str
    patient_key: str
    study_uid: str
    study_date: str
    study_description: str
    files: tuple[Path, ...] = field(repr=False)

    @property
    def label(self) -> str:
        """``series 5 'AX FLAIR'``: how messages name the series."""
        number = f"series {self.number}" if self.number is not None else f"series {self.uid}"
        return f"{number} '{self.description}'" if self.description else number


@dataclass(frozen=True)
class StudyIndex:
    """The series found under ``path``, and notes on what was skipped."""

    path: Path
    series: tuple[SeriesInfo, ...]
    notes: tuple[str, ...]


@contextmanager
def open_study(path: Path | str) -> Iterator[StudyIndex]:
    """Index the DICOM series under ``path``; an archive is unpacked for the block's duration.

    Parameters
    ----------
    path : path-like
        A DICOM file (its series, from the files beside it), a folder (searched recursively),
        a DICOMDIR, or a ``.zip``/``.tar``/``.tar.gz``/``.tgz`` of any of these.

    Raises
    ------
    InputFileError
        The path does not exist, is an unsafe or unreadable archive (:mod:`b12brain.study.archive`),
        an unreadable DICOMDIR, or holds no DICOM series.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "does not exist; check the path")
    if is_archive_path(path):
        with unpacked_archive(path) as folder:
            yield index_study(folder, shown_as=path)
    else:
        yield index_study(path)


def index_study(path: Path, *, shown_as: Path | None = None) -> StudyIndex:
    """Index the DICOM series under ``path`` (not an archive; see :func:`open_study`).

    ``shown_as`` is the path messages name (the archive ``path`` was unpacked from).
    """
    shown = shown_as or path
    notes: list[str] = []
    single_series: str | None = None
    if is_dicomdir(path):
        listed = read_dicomdir(path)
        candidates = list(listed.present)
        if listed.missing:
            notes.append(_missing_note(listed.missing))
        if not candidates:
            raise InputFileError(shown, f"the DICOMDIR lists {len(listed.missing)} files and none of them exists; "
                                 "copy the whole CD or DVD, not just its DICOMDIR")
    elif path.is_file():
        header = read_file_header(path) if starts_like_dicom(path) else None
        if header is None:
            raise InputFileError(shown, "unsupported file type (not NIfTI, DICOM, a DICOMDIR or a zip/tar archive); "
                                 "expected NIfTI (.nii, .nii.gz), DICOM files or a folder, DICOMDIR or zip/tar of them")
        single_series = header.series_uid
        candidates = [p for p in sorted(path.parent.iterdir()) if p.is_file()]
    else:
        candidates = _walk(path, shown, notes)
    headers, skipped, unreadable = _read_headers(candidates)
    if single_series is not None:
        headers = [h for h in headers if h.series_uid == single_series]
    if skipped:
        notes.append(f"skipped {skipped} file{'s' if skipped != 1 else ''} that {'are' if skipped != 1 else 'is'} "
                     "not DICOM (viewer programs, pictures, text)")
    if unreadable:
        notes.append(f"{len(unreadable)} DICOM file{'s' if len(unreadable) != 1 else ''} could not be read "
                     f"(truncated or corrupt): {_listing([str(p.relative_to(path) if p.is_relative_to(path) else p.name) for p in unreadable])}")
    if not headers:
        raise InputFileError(shown, f"no DICOM series found ({len(candidates)} files searched"
                             f"{', recursively' if path.is_dir() else ''}); expected DICOM files, a DICOMDIR or a "
                             "zip/tar of them")
    by_series: dict[str, list[FileHeader]] = defaultdict(list)
    for header in headers:
        by_series[header.series_uid].append(header)
    series = sorted((_summarise(files) for files in by_series.values()),
                    key=lambda s: (s.study_uid, s.number if s.number is not None else 1 << 30, s.uid))
    return StudyIndex(shown, tuple(series), tuple(notes))


def _walk(folder: Path, shown: Path, notes: list[str]) -> list[Path]:
    files: list[Path] = []
    linked_folders = 0
    dicomdirs: list[Path] = []
    # followlinks=False: linked folders are listed but not entered, so a link loop ends here.
    for root, folders, names in os.walk(folder, followlinks=False):
        linked_folders += sum(os.path.islink(os.path.join(root, name)) for name in folders)
        for name in names:
            path = Path(root, name)
            if name.upper() == "DICOMDIR":
                dicomdirs.append(path)
            else:
                files.append(path)
        if len(files) > MAX_MEMBERS:
            raise InputFileError(shown, f"holds more than {MAX_MEMBERS:,} files, b12brain's limit for a study; point "
                                 "at the study's own folder")
    if linked_folders:
        notes.append(f"did not follow {linked_folders} linked folder{'s' if linked_folders != 1 else ''} "
                     "(links are not searched, so that a link loop cannot trap the search)")
    for dicomdir in dicomdirs:
        try:
            missing = read_dicomdir(dicomdir).missing
        except InputFileError as err:
            notes.append(f"{err.problem.split(';')[0]}: {dicomdir.relative_to(folder)} was not used, the folder was searched")
            continue
        if missing:
            notes.append(_missing_note(missing))
    return sorted(files)


def _read_headers(paths: list[Path]) -> tuple[list[FileHeader], int, list[Path]]:
    headers: list[FileHeader] = []
    skipped = 0
    unreadable: list[Path] = []
    for path in paths:
        if not starts_like_dicom(path):
            skipped += 1
            continue
        header = read_file_header(path)
        if header is not None:
            headers.append(header)
        elif path.name.upper() != "DICOMDIR":
            unreadable.append(path)
    return headers, skipped, unreadable


def _summarise(headers: list[FileHeader]) -> SeriesInfo:
    headers = sorted(headers, key=lambda h: (h.instance if h.instance is not None else 1 << 30, h.path.name))
    first = headers[0]
    positions = {tuple(round(v, 2) for v in h.position) for h in headers if h.position is not None}
    frames = sum(h.frames for h in headers)
    volumes = 1
    if len(positions) > 1 and len(headers) % len(positions) == 0 and len(headers) > len(positions):
        volumes = len(headers) // len(positions)
    slices = len(positions) if len(positions) > 1 else frames
    metadata = series_metadata(first.dataset)
    if volumes > 1:
        metadata["NumberOfVolumes"] = volumes
    b_values = sorted({h.b_value for h in headers if h.b_value is not None})
    if b_values:
        metadata["DiffusionBValues"] = b_values
    step = _slice_step(headers)
    voxel = None
    if first.pixel_mm is not None:
        across = step or first.between_mm or first.thickness_mm
        if across is not None:
            voxel = (first.pixel_mm[1], first.pixel_mm[0], round(across, 3))
    if first.thickness_mm is not None:
        metadata["SliceThickness"] = first.thickness_mm
    return SeriesInfo(
        uid=first.series_uid,
        number=first.series_number,
        description=metadata.get("SeriesDescription", ""),
        protocol=metadata.get("ProtocolName", ""),
        metadata=metadata,
        sop_class=first.sop_class,
        is_image=first.is_image,
        voxel_mm=voxel,
        thickness_mm=first.thickness_mm or step,
        slices=slices,
        frames=frames,
        volumes=volumes,
        date_time=max(h.date_time for h in headers),
        patient_key=first.patient_key,
        study_uid=first.study_uid,
        study_date=first.study_date,
        study_description=first.study_description,
        files=tuple(h.path for h in headers),
    )


def _slice_step(headers: list[FileHeader]) -> float | None:
    """Median distance between neighbouring slice positions along the slice normal (mm)."""
    first = headers[0]
    if first.orientation is None:
        return None
    normal = np.cross(first.orientation[:3], first.orientation[3:])
    heights = np.unique(np.round([np.dot(h.position, normal) for h in headers if h.position is not None], 3))
    if heights.size < 2:
        return None
    return float(np.median(np.diff(heights)))


def _missing_note(missing: tuple[str, ...]) -> str:
    return (f"{len(missing)} file{'s' if len(missing) != 1 else ''} listed in the DICOMDIR "
            f"{'are' if len(missing) != 1 else 'is'} missing ({_listing(list(missing))}); the other files were used")


def _listing(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
