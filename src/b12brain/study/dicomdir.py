"""The files a DICOMDIR (the index file of a DICOM CD or DVD) refers to."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom

from b12brain.errors import InputFileError

#: A DICOMDIR larger than this is not read (one of 100,000 records is a few hundred bytes).
MAX_DICOMDIR_BYTES = 64 << 20


@dataclass(frozen=True)
class DicomdirFiles:
    """What a DICOMDIR lists: the files that exist, and the file IDs that name no file."""

    present: tuple[Path, ...]
    missing: tuple[str, ...]


def is_dicomdir(path: Path) -> bool:
    """True for a file named ``DICOMDIR`` (any case), as DICOM media name it."""
    return path.is_file() and path.name.upper() == "DICOMDIR"


def read_dicomdir(path: Path) -> DicomdirFiles:
    """The files the records of the DICOMDIR ``path`` refer to (``ReferencedFileID``).

    File IDs are resolved against the DICOMDIR's folder; a CD mounted with other letter case
    (``IMAGES/IM0001`` stored as ``images/im0001``) is matched without regard to case.

    Raises
    ------
    InputFileError
        The file is too large or is not a readable DICOMDIR.
    """
    if path.stat().st_size > MAX_DICOMDIR_BYTES:
        raise InputFileError(path, f"is over {MAX_DICOMDIR_BYTES >> 20} MB, too large for a DICOMDIR; point at the "
                             "study's folder instead")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's notes on odd values: an unusable file is refused below
            dataset = pydicom.dcmread(path)
            records = list(dataset.DirectoryRecordSequence)
    except Exception as err:  # noqa: BLE001 - a damaged DICOMDIR makes pydicom raise many kinds of error
        raise InputFileError(path, f"is not a readable DICOMDIR ({err}); point at the study's folder instead") from err
    present: list[Path] = []
    missing: list[str] = []
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [str(file_id)] if isinstance(file_id, str) else [str(p) for p in file_id]
        found = _find_ignoring_case(path.parent, parts)
        if found is None:
            missing.append("/".join(parts))
        else:
            present.append(found)
    return DicomdirFiles(tuple(dict.fromkeys(present)), tuple(missing))


def _find_ignoring_case(root: Path, parts: list[str]) -> Path | None:
    current = root
    for part in parts:
        exact = current / part
        if os.path.lexists(exact):
            current = exact
            continue
        try:
            matches = [entry for entry in os.listdir(current) if entry.upper() == part.upper()]
        except OSError:
            return None
        if not matches:
            return None
        current = current / matches[0]
    return current if current.is_file() else None
