"""Checks of an output path that need no lock and write nothing: it can be written, and by
b12brain's rules may be (see :mod:`b12brain.io.outdir`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from b12brain.errors import OutputError
from b12brain.io.atomic import LOCK_SUFFIX, OLD_INFIX, PARTIAL_INFIX

#: Bytes b12brain adds to an output's name for the names it uses beside it (lock, staging,
#: old result): a leading dot, the longest infix, 8 random characters and ``.nii.gz``.
NAME_ROOM_BYTES = 1 + max(len(PARTIAL_INFIX), len(OLD_INFIX), len(LOCK_SUFFIX)) + 8 + len(".nii.gz")
#: Room kept in a full path for the names of files inside a staging folder.
_INNER_PATH_BYTES = 100

InputPaths = Sequence[Path | str]


def check_free_space(path: Path | str, need_bytes: int) -> None:
    """Raise unless the file system that will hold ``path`` has ``need_bytes`` free.

    Raises
    ------
    OutputError
        Less space is free than needed.
    """
    path = Path(path)
    place = _nearest_existing(path.absolute().parent)
    stats = os.statvfs(place)
    free = stats.f_bavail * stats.f_frsize
    if free < need_bytes:
        raise OutputError(path, f"needs about {_mb(need_bytes)} but {place} has {_mb(free)} free; "
                          "free some space or choose another place")



def check_output_path(path: Path | str, inputs: InputPaths, *, folder: bool) -> Path:
    """Return ``path`` as a Path if a result ``folder`` (or file) could be written there, else raise.

    Raises
    ------
    OutputError
        ``path`` is a symbolic link, of the wrong kind (a file for a folder or the reverse), its
        name or whole path too long for b12brain's temporary names beside it, its nearest existing
        parent not a writable folder, it is or holds the current folder, or it is, holds or lies
        inside one of ``inputs``.
    """
    path = Path(path)
    if path.name in ("", ".."):  # "." or "..": name the folder itself, so names beside it are right
        path = Path(os.path.abspath(path))
    if path.name == "":
        raise OutputError(path, "is the root folder; give the path of a new folder")
    if path.is_symlink():
        raise OutputError(path, f"is a symbolic link (to {os.readlink(path)}); b12brain does not write "
                          "through links: give the real path")
    if folder and path.exists() and not path.is_dir():
        raise OutputError(path, "exists and is not a folder; choose a new output folder")
    if not folder and path.is_dir():
        raise OutputError(path, "is a folder; give the path of the file to write")
    if folder and Path(os.path.realpath(path)) in (cwd := Path.cwd().resolve(), *cwd.parents):
        raise OutputError(path, "is (or holds) the current folder, which the result would replace; give the "
                          "path of a folder elsewhere")
    _check_length(path)
    _check_parent_writable(path)
    _check_inputs(path, inputs, folder=folder)
    return path


def _check_length(path: Path) -> None:
    place = _nearest_existing(path.absolute().parent)
    name_max = _pathconf(place, "PC_NAME_MAX", 255)
    path_max = _pathconf(place, "PC_PATH_MAX", 4096)
    for part in path.absolute().parts[len(place.parts):-1]:
        if len(os.fsencode(part)) > name_max:
            raise OutputError(path, f"folder name {part[:40]}... is {len(os.fsencode(part))} bytes, over this file "
                              f"system's limit of {name_max}; choose a shorter name")
    name_bytes = len(os.fsencode(path.name))
    if name_bytes + NAME_ROOM_BYTES > name_max:
        raise OutputError(path, f"name is {name_bytes} bytes; b12brain writes beside it under names {NAME_ROOM_BYTES} "
                          f"bytes longer and this file system allows {name_max}: choose a name of at most "
                          f"{name_max - NAME_ROOM_BYTES} bytes")
    total = len(os.fsencode(str(path.absolute()))) + NAME_ROOM_BYTES + _INNER_PATH_BYTES
    if total > path_max:
        raise OutputError(path, f"path is too long for this file system ({total} of {path_max} bytes with "
                          "b12brain's temporary names); choose a shorter path")


def _check_parent_writable(path: Path) -> None:
    """Missing parent folders are created when a result is published; the nearest one that
    exists must be a writable folder."""
    ancestor = _nearest_existing(path.absolute().parent)
    if not ancestor.is_dir():
        raise OutputError(path, f"{ancestor} is a file, not a folder; choose another output path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(path, f"folder {ancestor} is not writable; choose another output path")


def _check_inputs(path: Path, inputs: InputPaths, *, folder: bool) -> None:
    """Refuse an output that is, holds, or lies inside an input of the run."""
    real = Path(os.path.realpath(path))
    for item in inputs:
        source = Path(os.path.realpath(item))
        same = source == real or (path.exists() and Path(item).exists() and os.path.samefile(path, item))
        if same or (folder and real in source.parents):
            what = "is" if same else "holds"
            raise OutputError(path, f"{what} an input of this run ({item}); b12brain never replaces its inputs: "
                              f"choose another output {'folder' if folder else 'file'}")
        if source.is_dir() and source in real.parents:
            raise OutputError(path, f"lies inside the input folder {item}; b12brain never changes its inputs: "
                              "choose an output outside it")



def _nearest_existing(folder: Path) -> Path:
    while not folder.exists():
        folder = folder.parent
    return folder


def _pathconf(place: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(place, name)
    except (OSError, ValueError):
        return default


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
