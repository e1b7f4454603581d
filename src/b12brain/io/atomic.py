"""Atomic file-system steps: a file appears complete under its name, or not at all.

The primitives here do one step each; the rules of when to use them (locks, checks,
manifests) live in :mod:`b12brain.io.outdir`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

#: Names b12brain uses beside a result NAME: ``.NAME.b12brain-partial-XXXX`` (being written),
#: ``.NAME.b12brain-old-XXXX`` (a replaced result, briefly) and ``.NAME.b12brain-lock``.
PARTIAL_INFIX = ".b12brain-partial-"
OLD_INFIX = ".b12brain-old-"
LOCK_SUFFIX = ".b12brain-lock"

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_CATCHABLE_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _libc_renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:  # no C library to load (not a glibc/musl system)
        return None


_RENAMEAT2 = _libc_renameat2()


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False when the system or file system lacks it."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(src), None, str(dst))


def rename_no_replace(src: Path | str, dst: Path | str) -> None:
    """Rename ``src`` to ``dst`` unless ``dst`` exists (even as an empty folder).

    Uses ``renameat2(RENAME_NOREPLACE)`` where the system has it, so a ``dst`` made by another
    process at any moment is never replaced; elsewhere ``dst`` is checked just before renaming.

    Raises
    ------
    FileExistsError
        ``dst`` exists.
    """
    src, dst = Path(src), Path(dst)
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def exchange_paths(first: Path | str, second: Path | str) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot.

    Neither name is ever missing, even to a process killed halfway (``RENAME_EXCHANGE``).
    """
    return _renameat2(Path(first), Path(second), _RENAME_EXCHANGE)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP during the block; they are acted on right after it.

    Used around steps that must not stop halfway (swapping a result into place). The Python
    handlers are swapped for a recorder (blocking the signal would not do: the kernel hands a
    process signal to any thread that does not block it, such as a BLAS worker). Only the main
    thread may set handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {}
    for signum in _CATCHABLE_STOPS:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: set outside Python, cannot be put back
            previous[signum] = handler
            signal.signal(signum, record)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])  # now handled as it would have been


def fsync_path(path: Path | str) -> None:
    """Flush a file's or a folder's content to disk (a rename is durable only after this)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path | str, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` when the block succeeds.

    ``suffix`` keeps the extension for writers that choose the format from it (``.nii.gz``,
    ``.png``). On any exception the temporary file is removed and ``path`` is untouched.
    The temporary name is ``.NAME.b12brain-partial-XXXX`` so that a file left by a killed
    process is recognisably b12brain's.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        with signals_deferred():  # a signal cannot come between creating it and knowing its name
            tmp = make_partial_file(path, suffix=suffix)
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def make_partial_file(path: Path, *, suffix: str = "") -> Path:
    """Create an empty ``.NAME.b12brain-partial-XXXX`` file beside ``path`` (mode as umask allows)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{PARTIAL_INFIX}", suffix=suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    return Path(name)
