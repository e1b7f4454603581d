"""Unpacking a zip or tar of a study into a private temporary folder, with bounds set in advance.

An archive from outside is untrusted: it may unpack to far more than it holds (a "zip bomb",
or a header that lies about a member's size), or name paths outside the folder it is unpacked
into (``/etc/x``, ``../../x``) or links and devices. The rules, checked before a byte of a member
is written:

* a zip's central directory is read first: more than :data:`MAX_MEMBERS` members, a declared
  unpacked total over :data:`MAX_UNPACKED_BYTES`, a member that unpacks more than
  :data:`MAX_RATIO` times its packed size (over 1 MiB), an absolute path, a ``..`` component,
  a link, a device or an encrypted member refuse the whole archive (exit 2, naming the member);
* a tar has no directory: each member's header is checked (same rules) before its data is
  unpacked, and the declared sizes are added up as they come, so a bomb costs at most the cap;
* while unpacking, a member that yields more bytes than declared stops the unpacking.

This tool's own bounds (not a clinical rule): a DVD holds 4.7 GB and a patient CD about
700 MB, so a study archive over 4 GiB or 100,000 files is not what b12brain reads.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from b12brain.errors import InputFileError

#: Largest total unpacked size of an archive (bytes).
MAX_UNPACKED_BYTES = 4 << 30
#: Most members (files and folders) in an archive.
MAX_MEMBERS = 100_000
#: Largest unpacked/packed ratio of a zip member over :data:`_RATIO_FLOOR_BYTES` (DICOM images
#: compress 2-20 times; a block of zeros 1000 times).
MAX_RATIO = 100
_RATIO_FLOOR_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20
_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def is_archive_path(path: Path) -> bool:
    """True for a file named like a zip or tar archive (``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``...)."""
    return path.is_file() and path.name.lower().endswith(_SUFFIXES)


@contextmanager
def unpacked_archive(path: Path, *, max_bytes: int = MAX_UNPACKED_BYTES, max_members: int = MAX_MEMBERS) -> Iterator[Path]:
    """Unpack the zip or tar ``path`` into a private temporary folder; yield it; remove it after.

    The folder (mode 0700, in the system's temporary folder, never beside the input) is removed
    when the block ends, however it ends.

    Raises
    ------
    InputFileError
        The archive is unreadable, or breaks a rule of the module docstring (the message names
        the member and the rule); nothing of it is left on disk.
    """
    folder = Path(tempfile.mkdtemp(prefix="b12brain-archive-"))
    try:
        try:
            if zipfile.is_zipfile(path):
                _unpack_zip(path, folder, max_bytes, max_members)
            else:
                _unpack_tar(path, folder, max_bytes, max_members)
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, RuntimeError, ValueError) as err:
            if isinstance(err, InputFileError):
                raise
            reason = str(err).splitlines()[0].rstrip(":") or type(err).__name__
            raise InputFileError(path, f"cannot be unpacked ({reason}); expected a readable zip or tar archive of "
                                 "DICOM files, copy it again") from err
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unpack_zip(path: Path, folder: Path, max_bytes: int, max_members: int) -> None:
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise _refused(path, f"holds {len(members):,} members, over b12brain's limit of {max_members:,}")
        total = 0
        for info in members:
            _check_name(path, info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0 where the tool stored no file type (Windows)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise _refused(path, f"member {info.filename!r} is a link or device, not a file")
            if info.flag_bits & 0x1:
                raise _refused(path, f"member {info.filename!r} is encrypted")
            if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise _refused(path, f"member {info.filename!r} unpacks {info.file_size / max(info.compress_size, 1):,.0f} "
                               f"times its packed size (a zip bomb; limit {MAX_RATIO})")
            total += info.file_size
        _check_total(path, folder, total, max_bytes)
        for info in members:
            if info.is_dir():
                _target(folder, info.filename).mkdir(parents=True, exist_ok=True)
                continue
            with archive.open(info) as source:
                _copy(path, info.filename, source, _target(folder, info.filename), info.file_size)


def _unpack_tar(path: Path, folder: Path, max_bytes: int, max_members: int) -> None:
    with tarfile.open(path, "r:*") as archive:
        total = count = 0
        # Iterated lazily: each header is checked before the member's data is read.
        for member in archive:
            count += 1
            if count > max_members:
                raise _refused(path, f"holds more than {max_members:,} members, b12brain's limit")
            _check_name(path, member.name)
            if not (member.isreg() or member.isdir()):
                raise _refused(path, f"member {member.name!r} is a link or device, not a file")
            total += member.size
            _check_total(path, folder, total, max_bytes)
            if member.isdir():
                _target(folder, member.name).mkdir(parents=True, exist_ok=True)
                continue
            source = archive.extractfile(member)
            if source is None:  # pragma: no cover - isreg() members always have data
                continue
            with source:
                _copy(path, member.name, source, _target(folder, member.name), member.size)


def _check_name(path: Path, name: str) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _refused(path, f"member {name!r} has an absolute path")
    if ".." in parts:
        raise _refused(path, f"member {name!r} climbs out of the archive ('..')")
    if not parts:
        raise _refused(path, "holds a member with an empty name")


def _check_total(path: Path, folder: Path, total: int, max_bytes: int) -> None:
    if total > max_bytes:
        raise _refused(path, f"unpacks to more than {max_bytes:,} bytes (b12brain's limit for a study; a zip bomb?)")
    free = shutil.disk_usage(folder).free
    if total > free:
        raise InputFileError(path, f"unpacks to {total:,} bytes but the temporary folder {folder.parent} has "
                             f"{free:,} free; free some space or unpack the archive yourself")


def _target(folder: Path, name: str) -> Path:
    return folder.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)


def _copy(path: Path, name: str, source: IO[bytes], target: Path, declared: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        handle = target.open("xb")
    except FileExistsError as err:
        raise _refused(path, f"member {name!r} appears twice") from err
    with handle:
        while chunk := source.read(_CHUNK_BYTES):
            written += len(chunk)
            if written > declared:
                raise _refused(path, f"member {name!r} unpacks to more than the {declared:,} bytes its header declares")
            handle.write(chunk)


def _refused(path: Path, problem: str) -> InputFileError:
    return InputFileError(path, f"{problem}; the archive was refused (nothing of it was read): check where it "
                          "came from, or export the study again")
