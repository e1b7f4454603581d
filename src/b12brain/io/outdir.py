"""Output locations that cannot hurt: results appear complete or not at all, and nothing
b12brain did not write is ever replaced or deleted.

The rules, for a result folder ``--out DIR`` (single files follow the same rules, without the
manifest):

* ``DIR`` is locked for the whole run (``fcntl.flock`` on ``.DIR.b12brain-lock`` beside it);
  a second run on it fails at once. The kernel drops the lock when a process dies.
* Results are written into ``.DIR.b12brain-partial-XXXX`` (marked by a ``.b12brain-staging``
  file until it is complete), listed in ``b12brain-manifest.json`` (written last), then renamed
  to ``DIR`` without ever replacing a path another process made meanwhile.
* ``overwrite`` replaces ``DIR`` only when its manifest shows that b12brain wrote every file in it
  and none has changed, and never when ``DIR`` holds an input of the run. The old result is
  swapped out in one atomic step (``renameat2(RENAME_EXCHANGE)`` where available), then removed.
* A symbolic link given as the output is refused (b12brain does not write through links).
* Leftovers of a killed run of the same output (``.DIR.b12brain-partial-*``,
  ``.DIR.b12brain-old-*``) are removed by the next run and reported (logger ``b12brain``).
* Length, place, writability and free space are checked before any work; every ``OSError``
  becomes an :class:`~b12brain.errors.OutputError` naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from b12brain.errors import OutputError
from b12brain.io.atomic import (
    LOCK_SUFFIX,
    OLD_INFIX,
    PARTIAL_INFIX,
    exchange_paths,
    fsync_path,
    make_partial_file,
    rename_no_replace,
    signals_deferred,
)
from b12brain.io.manifest import MANIFEST_NAME, manifest_problem, write_manifest
from b12brain.io.outpath import InputPaths, check_free_space, check_output_path

STAGING_MARKER = ".b12brain-staging"

_log = logging.getLogger("b12brain")
#: Lock files this process holds: the CLI locks ``--out`` before its work and the writer it
#: calls locks again in the same thread; flock would refuse a second open of the same file.
_held: dict[str, _Hold] = {}
_held_guard = threading.Lock()



def check_output_dir(out_dir: Path | str, *, overwrite: bool = False, inputs: InputPaths = ()) -> Path:
    """Return ``out_dir`` as a Path if a result folder may be published there, else raise.

    A missing or empty folder is accepted (missing parents are created on publishing). A folder
    with other content is refused unless ``overwrite`` is set, and then only when it is an
    unchanged b12brain result (see :func:`~b12brain.io.manifest.manifest_problem`) that holds
    none of ``inputs``. Checking writes nothing.

    Raises
    ------
    OutputError
        The path is a link or a file, its name is too long, its parent is not a writable folder,
        it holds or lies inside an input, or it is a folder with other content.
    """
    out_dir = check_output_path(out_dir, inputs, folder=True)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise OutputError(out_dir, "output folder exists and is not empty; choose a new folder or pass --overwrite")
        problem = manifest_problem(out_dir)
        if problem is not None:
            raise OutputError(
                out_dir, f"{problem}; --overwrite replaces only an unchanged b12brain result, and never deletes "
                "files b12brain did not write: choose another output folder or empty this one yourself"
            )
    return out_dir


def check_output_file(path: Path | str, *, overwrite: bool = False, inputs: InputPaths = ()) -> Path:
    """Return ``path`` as a Path if a result file may be written there, else raise.

    Raises
    ------
    OutputError
        ``path`` is a folder or a link, exists without ``overwrite``, is one of ``inputs``, its
        name is too long, or it lies under a file or an unwritable folder.
    """
    path = check_output_path(path, inputs, folder=False)
    if path.exists() and not overwrite:
        raise OutputError(path, "already exists; choose another file name or pass --overwrite (overwrite=True)")
    if path.exists() and not path.is_file():
        raise OutputError(path, "exists and is not a regular file; choose another file name")
    return path


@contextmanager
def reserve_output_dir(
    out_dir: Path | str, *, overwrite: bool = False, inputs: InputPaths = (), need_bytes: int = 0
) -> Iterator[Path]:
    """Lock ``out_dir`` for this process, clear a killed run's leftovers, check it; yield it.

    Enter it before the work of a run so that a second run on the same folder fails at once;
    :func:`staged_output_dir` inside the block reuses the lock. Missing parent folders are
    created for the lock file and removed again if nothing else was put in them.

    Raises
    ------
    OutputError
        As :func:`check_output_dir` and :func:`check_free_space`, or another process holds the lock.
    """
    out_dir = check_output_path(out_dir, inputs, folder=True)
    with _output_lock(out_dir):
        check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)
        check_free_space(out_dir, need_bytes)
        yield out_dir


@contextmanager
def reserve_output_file(path: Path | str, *, overwrite: bool = False, inputs: InputPaths = ()) -> Iterator[Path]:
    """Lock a result file's path for this process and check it; yield it (see :func:`reserve_output_dir`)."""
    path = check_output_path(path, inputs, folder=False)
    with _output_lock(path):
        yield check_output_file(path, overwrite=overwrite, inputs=inputs)


@contextmanager
def staged_output_dir(
    out_dir: Path | str,
    *,
    overwrite: bool = False,
    inputs: InputPaths = (),
    need_bytes: int = 0,
    command: str | None = None,
) -> Iterator[Path]:
    """Yield a hidden staging folder beside ``out_dir``; publish it as ``out_dir`` on success.

    After the block, ``b12brain-manifest.json`` (with ``command``) is written into the folder,
    which then replaces ``out_dir`` in one step. On any exception (or signal turned into one)
    the staging folder is removed and ``out_dir`` is left as it was.

    Raises
    ------
    OutputError
        As :func:`reserve_output_dir`; writing fails (any ``OSError``, named); or a folder
        appeared at ``out_dir`` while the block ran.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_output_dir(root / "res") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in (root / "res").iterdir())
    ['a.txt', 'b12brain-manifest.json']
    """
    with (
        reserve_output_dir(out_dir, overwrite=overwrite, inputs=inputs, need_bytes=need_bytes) as out_dir,
        _output_lock(out_dir) as found,
    ):
        stage: Path | None = None
        try:
            try:
                # Signals wait, so that the folder is always marked and known to the clean-up below.
                with signals_deferred():
                    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{PARTIAL_INFIX}", dir=out_dir.parent))
                    (stage / STAGING_MARKER).write_text(f"b12brain staging folder, pid {os.getpid()}\n")
                yield stage
                write_manifest(stage, command=command, skip=frozenset({STAGING_MARKER}))
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes 0700; results are ordinary folders
                (stage / STAGING_MARKER).unlink()  # from here on the manifest marks the folder as ours
            except OSError as err:
                raise _output_error(out_dir, err) from err
            _publish(stage, out_dir, found, overwrite=overwrite, inputs=inputs)
        finally:
            # After publishing, ``stage`` names the replaced old result (or nothing).
            with signals_deferred():
                if stage is not None:
                    _remove_folder_or_warn(stage)


def write_text_file(text: str, path: Path | str, *, overwrite: bool = False, inputs: InputPaths = ()) -> Path:
    """Write ``text`` to ``path`` atomically (missing folders created); return the path.

    ``path`` is locked while it is written; a file that appears there meanwhile is never
    replaced (unless ``overwrite`` is set and it was there before).

    Raises
    ------
    OutputError
        As :func:`check_output_file`, another process holds the lock, or the write fails.
    """
    with reserve_output_file(path, overwrite=overwrite, inputs=inputs) as path, _output_lock(path) as found:
        tmp: Path | None = None
        try:
            try:
                with signals_deferred():  # so that the clean-up below always knows the file
                    tmp = make_partial_file(path, suffix=path.suffix)
                tmp.write_text(text, encoding="utf-8")
                fsync_path(tmp)
                with signals_deferred():
                    if found is None:
                        rename_no_replace(tmp, path)
                    elif _same(found, path):
                        os.replace(tmp, path)
                    else:
                        raise _appeared(path)
            finally:
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
            fsync_path(path.parent)
        except FileExistsError as err:
            raise _appeared(path) from err
        except OSError as err:
            raise _output_error(path, err) from err
    return path


def _publish(
    stage: Path, out_dir: Path, found: os.stat_result | None, *, overwrite: bool, inputs: InputPaths
) -> None:
    """Put ``stage`` at ``out_dir``; afterwards ``stage`` holds the replaced result, if any.

    ``out_dir`` is replaced only if it is still the folder ``found`` when it was locked.
    """
    with signals_deferred():
        try:
            if found is not None and not _same(found, out_dir):
                raise _appeared(out_dir)
            if out_dir.is_dir() and any(out_dir.iterdir()):
                if not overwrite:  # it was empty when the run started
                    raise _appeared(out_dir)
                # Checked again: the folder may have been changed while the result was computed.
                check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)
                _swap(stage, out_dir)
                if not _same(found, stage):  # replaced between the check and the swap
                    _swap(stage, out_dir)
                    raise _appeared(out_dir)
            else:
                emptied = found is not None
                if emptied:
                    os.rmdir(out_dir)  # the empty folder there at the start is replaced by the result
                try:
                    rename_no_replace(stage, out_dir)
                except FileExistsError as err:
                    raise _appeared(out_dir) from err
                except OSError:
                    if emptied:
                        out_dir.mkdir()  # put the empty folder back as it was
                    raise
            fsync_path(out_dir.parent)
        except OSError as err:
            raise _output_error(out_dir, err) from err


def _swap(stage: Path, out_dir: Path) -> None:
    if exchange_paths(stage, out_dir):
        return
    # No atomic exchange here: move the old result aside (restored by the next run if this
    # process is killed before the new one is in place), then rename.
    old = stage.with_name(stage.name.replace(PARTIAL_INFIX, OLD_INFIX))
    os.rename(out_dir, old)
    try:
        rename_no_replace(stage, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    os.rename(old, stage)


@dataclass(frozen=True)
class _Hold:
    thread: int  # the thread that holds the lock
    found: os.stat_result | None  # what the output path was when it was locked


@contextmanager
def _output_lock(target: Path) -> Iterator[os.stat_result | None]:
    """Hold the lock of ``target`` (re-entrant in one thread); yield what ``target`` was when
    first locked (after a killed run's leftovers were cleared), or None if it did not exist."""
    lock_path = target.absolute().parent / f".{target.name}{LOCK_SUFFIX}"
    key = str(lock_path)
    with _held_guard:
        hold = _held.get(key)
    if hold is not None:
        if hold.thread != threading.get_ident():
            raise OutputError(target, "is in use by another thread of this process; wait for it to finish or "
                              "choose another output")
        yield hold.found
        return
    created: list[Path] = []
    fd = -1
    try:
        with signals_deferred():  # so that the clean-up below always knows what was made
            created = _make_parents(lock_path.parent)
            fd = _acquire(lock_path, target)
        try:
            _clear_leftovers(target)
        except OSError as err:
            raise _output_error(target, err) from err
        hold = _Hold(threading.get_ident(), _lstat(target))
        with _held_guard:
            _held[key] = hold
        yield hold.found
    finally:
        with _held_guard, signals_deferred():
            _held.pop(key, None)
            if fd >= 0:
                _release(lock_path, fd)
            _remove_empty(created)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _same(found: os.stat_result | None, path: Path) -> bool:
    """Whether ``path`` is still the very file or folder that was ``found`` when it was locked."""
    now = _lstat(path)
    return found is not None and now is not None and os.path.samestat(found, now)


def _acquire(lock_path: Path, target: Path) -> int:
    """Open and flock ``lock_path`` without waiting; retry while another process unlinks it."""
    for _ in range(20):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise _output_error(target, err) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip().removeprefix("b12brain lock, ")
            os.close(fd)
            raise OutputError(target, f"is in use by another b12brain process ({holder or 'lock ' + lock_path.name}); "
                              "wait for it to finish or choose another output") from None
        try:
            current = os.stat(lock_path, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            try:
                content = os.read(fd, 200)
                if content and not content.startswith(b"b12brain lock"):
                    raise OutputError(target, f"{lock_path} is not a b12brain lock file; move it away and run again")
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"b12brain lock, pid {os.getpid()}\n".encode(), 0)
            except OSError as err:
                _release(lock_path, fd)
                raise _output_error(target, err) from err
            except OutputError:
                os.close(fd)  # not ours: leave it
                raise
            return fd
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    raise OutputError(target, f"could not lock {lock_path}; run again")


def _release(lock_path: Path, fd: int) -> None:
    lock_path.unlink(missing_ok=True)  # while still locked: a waiter re-checks the name
    os.close(fd)


def _clear_leftovers(target: Path) -> None:
    """Remove what a killed b12brain run on ``target`` left beside it (we hold the lock, so no
    live b12brain process is using these); restore a previous result that was moved aside."""
    parent = target.absolute().parent
    if not parent.is_dir():
        return
    pattern = re.compile(rf"\.{re.escape(target.name)}({re.escape(PARTIAL_INFIX)}|{re.escape(OLD_INFIX)})\w{{8}}.*",
                         re.DOTALL)
    for entry in sorted(parent.iterdir()):
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        if entry.is_symlink() or not (entry.is_dir() or entry.is_file()):
            _log.warning("left %s as it is: it looks like a b12brain temporary name but is not a file or folder", entry)
        elif entry.is_file():
            entry.unlink()
            _log.warning("removed %s, a partial file left by an interrupted b12brain run", entry)
        elif (entry / STAGING_MARKER).is_file():
            _remove_folder(entry, last=STAGING_MARKER)
            _log.warning("removed %s, a partial result left by an interrupted b12brain run", entry)
        elif manifest_problem(entry, allow_missing=True) is not None:
            _log.warning("left %s as it is: b12brain cannot tell that it wrote it", entry)
        elif match[1] == OLD_INFIX and not os.path.lexists(target) and manifest_problem(entry) is None:
            os.rename(entry, target)
            _log.warning("restored %s, the previous result that an interrupted b12brain run had moved aside", target)
        else:
            _remove_folder(entry, last=MANIFEST_NAME)
            _log.warning("removed %s, an old result left by an interrupted b12brain run", entry)


def _remove_folder_or_warn(stage: Path) -> None:
    try:
        _remove_folder(stage, last=STAGING_MARKER if (stage / STAGING_MARKER).exists() else MANIFEST_NAME)
    except OSError as err:
        _log.warning("could not remove %s (%s); the next run on the same output removes it", stage, err)


def _remove_folder(folder: Path, *, last: str) -> None:
    """Remove ``folder``, the file named ``last`` (what marks it as b12brain's) last of all, so
    that a process killed halfway leaves a folder that is still recognisably b12brain's."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in folder.iterdir():
        if entry.name == last:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (folder / last).unlink(missing_ok=True)
    folder.rmdir()


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; return the folders it created, innermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            _remove_empty(created)
            raise _output_error(path, err) from err
        created.insert(0, path)
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (innermost first) as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _appeared(path: Path) -> OutputError:
    return OutputError(path, "was created by another process while b12brain worked; it was left as it is and "
                       "nothing was written: choose another output or run again")


def _output_error(path: Path, err: OSError) -> OutputError:
    """An OSError met while writing ``path``, as an OutputError naming both paths."""
    where = f" at {err.filename}" if err.filename and str(err.filename) != str(path) else ""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(path, f"cannot be written: no space left on the device{where}; free some space or choose "
                           "another place (nothing was written)")
    return OutputError(path, f"cannot be written ({err.strerror or err}{where}); check the folder and its "
                       "permissions or choose another place (nothing was written)")
