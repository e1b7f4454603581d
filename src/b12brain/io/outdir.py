"""All-or-nothing output folders: results appear complete, or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from b12brain.errors import OutputError
from b12brain.io.atomic import atomic_path


def check_output_dir(out_dir: Path | str, *, overwrite: bool = False) -> Path:
    """Return ``out_dir`` as a Path if results may be written there, else raise.

    A missing or empty folder is accepted (missing parents are created on publishing). A folder with other content is refused unless
    ``overwrite`` is set, and then only when it holds a previous b12brain result (a
    ``summary.json`` or ``truth.json``), so that no unrelated file is ever deleted.

    Raises
    ------
    OutputError
        The path is a file, or a folder with other content, or it cannot be created there.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(out_dir, "exists and is not a folder; choose a new output folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        ours = (out_dir / "summary.json").is_file() or (out_dir / "truth.json").is_file()
        if not overwrite:
            raise OutputError(
                out_dir, "output folder exists and is not empty; choose a new folder or pass --overwrite"
            )
        if not ours:
            raise OutputError(
                out_dir, "output folder holds files that b12brain did not write; refusing to overwrite them"
            )
    _check_parent_writable(out_dir)
    return out_dir


def _check_parent_writable(path: Path) -> None:
    """Missing parent folders are created when a result is published; the nearest one that
    exists must be a writable folder."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(path, f"{ancestor} is a file, not a folder; choose another output path")
    if not os.access(ancestor, os.W_OK):
        raise OutputError(path, f"folder {ancestor} is not writable; choose another output path")


@contextmanager
def staged_output_dir(out_dir: Path | str, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden staging folder beside ``out_dir``; publish it as ``out_dir`` on success.

    On any exception the staging folder is removed and ``out_dir`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_output_dir(root / "res") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in (root / "res").iterdir())
    ['a.txt']
    """
    out_dir = check_output_dir(out_dir, overwrite=overwrite)
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=parent))
    try:
        yield stage
        _publish(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _publish(stage: Path, out_dir: Path) -> None:
    if out_dir.is_dir():
        # Move the old result aside first so that a failed rename loses nothing.
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.absolute().parent))
        old.rmdir()
        os.replace(out_dir, old)
        try:
            os.replace(stage, out_dir)
        except BaseException:
            os.replace(old, out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(stage, out_dir)
    os.chmod(out_dir, 0o755)


def check_output_file(path: Path | str, *, overwrite: bool = False) -> Path:
    """Return ``path`` as a Path if a result file may be written there, else raise.

    Raises
    ------
    OutputError
        ``path`` is a folder, exists without ``overwrite``, or lies under a file or an
        unwritable folder.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; give the path of the file to write")
    if path.exists() and not overwrite:
        raise OutputError(path, "already exists; choose another file name or pass --overwrite (overwrite=True)")
    _check_parent_writable(path)
    return path


def write_text_file(text: str, path: Path | str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (missing folders created); return the path.

    Raises
    ------
    OutputError
        As :func:`check_output_file`, or the write itself fails.
    """
    path = check_output_file(path, overwrite=overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=path.suffix) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as err:
        raise OutputError(path, f"cannot be written ({err.strerror}); choose another path") from err
    return path
