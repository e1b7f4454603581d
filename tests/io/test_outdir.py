"""Output folders and files: published whole, locked while in use, never replacing what b12brain
did not write, never an input, and leaving nothing behind."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from b12brain.errors import OutputError
from b12brain.io import atomic, outdir
from b12brain.io.manifest import MANIFEST_NAME, manifest_problem
from b12brain.io.outpath import check_free_space
from b12brain.io.outdir import (
    check_output_dir,
    reserve_output_dir,
    reserve_output_file,
    staged_output_dir,
    write_text_file,
)

#: The ``tree_of`` fixture (tests/conftest.py): a folder snapshot.
TreeOf = Callable[[Path], dict[str, str]]


def _result(out: Path, **files: str) -> Path:
    """A b12brain result folder holding ``files`` (name -> text), with its manifest."""
    with staged_output_dir(out, overwrite=True, command="test") as stage:
        for name, text in files.items():
            (stage / name).write_text(text)
    return out


def test_missing_parents_are_created_only_on_publishing(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "result"
    check_output_dir(out)
    assert not (tmp_path / "a").exists()  # checking creates nothing
    with staged_output_dir(out) as stage:
        (stage / "x.txt").write_text("1")
    assert (out / "x.txt").read_text() == "1"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["result"]  # no lock file left


def test_failure_leaves_nothing_not_even_the_parents_it_made(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staged_output_dir(tmp_path / "new" / "res") as stage:
        (stage / "half.txt").write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_manifest_lists_every_file_with_size_and_checksum(tmp_path: Path) -> None:
    out = _result(tmp_path / "res", **{"a.txt": "alpha", "b.json": "{}"})
    document = json.loads((out / MANIFEST_NAME).read_text())
    assert document["tool"] == "b12brain" and document["command"] == "test"
    assert document["files"] == [
        {"path": name, "bytes": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}
        for name, text in (("a.txt", "alpha"), ("b.json", "{}"))
    ]
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.json", MANIFEST_NAME]
    assert manifest_problem(out) is None


def test_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "sub" / "out")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("foreign", "holds notes.txt, which b12brain did not write"),
        ("edited", "a.txt was changed after b12brain wrote it"),
        ("removed", r"a.txt \(listed in b12brain-manifest.json\) is missing"),
        ("no manifest", "has no b12brain-manifest.json"),
        ("subfolder", "holds the folder extra, which b12brain did not make"),
    ],
)
def test_overwrite_refuses_anything_but_an_unchanged_result(tree_of: TreeOf, tmp_path: Path, change: str, problem: str) -> None:
    out = _result(tmp_path / "res", **{"a.txt": "alpha", "summary.json": "{}"})
    if change == "foreign":
        (out / "notes.txt").write_text("mine")
    elif change == "edited":
        (out / "a.txt").write_text("alpha, edited by hand")
    elif change == "removed":
        (out / "a.txt").unlink()
    elif change == "no manifest":  # an older b12brain result, or a folder that only looks like one
        (out / MANIFEST_NAME).unlink()
    else:
        (out / "extra").mkdir()
    before = tree_of(tmp_path)
    with pytest.raises(OutputError, match=problem) as info:
        with staged_output_dir(out, overwrite=True) as stage:
            (stage / "a.txt").write_text("new")
    assert info.value.path == str(out) and "--overwrite replaces only an unchanged b12brain result" in str(info.value)
    assert tree_of(tmp_path) == before


def test_overwrite_replaces_an_unchanged_result(tmp_path: Path) -> None:
    out = _result(tmp_path / "res", **{"old.txt": "old"})
    with pytest.raises(OutputError, match="not empty; choose a new folder or pass --overwrite"):
        check_output_dir(out)
    _result(out, **{"new.txt": "new"})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_overwrite_without_atomic_exchange_still_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where renameat2 is missing, the old result is moved aside, then removed."""
    monkeypatch.setattr(atomic, "_RENAMEAT2", None)
    out = _result(tmp_path / "res", **{"old.txt": "old"})
    _result(out, **{"new.txt": "new"})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_a_folder_holding_an_input_is_never_replaced(tree_of: TreeOf, tmp_path: Path) -> None:
    """A b12brain phantom folder is a valid result, but it holds this run's input."""
    out = _result(tmp_path / "ph", **{"flair.nii.gz": "image"})
    before = tree_of(tmp_path)
    with pytest.raises(OutputError, match=r"holds an input of this run \(.*flair.nii.gz\)"):
        with staged_output_dir(out, overwrite=True, inputs=[out / "flair.nii.gz"]) as stage:
            (stage / "x").write_text("x")
    assert tree_of(tmp_path) == before


def test_an_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    (dicom / "1.dcm").write_text("slice")
    with pytest.raises(OutputError, match="lies inside the input folder"):
        check_output_dir(dicom / "results", inputs=[dicom])
    with pytest.raises(OutputError, match="is an input of this run"):
        write_text_file("x", dicom / "1.dcm", overwrite=True, inputs=[dicom / "1.dcm"])
    (tmp_path / "hardlink.dcm").hardlink_to(dicom / "1.dcm")
    with pytest.raises(OutputError, match="is an input of this run"):
        write_text_file("x", tmp_path / "hardlink.dcm", overwrite=True, inputs=[dicom / "1.dcm"])
    assert (dicom / "1.dcm").read_text() == "slice"


@pytest.mark.parametrize("target", ["empty folder", "result", "file"])
def test_a_symlink_is_refused_and_left_as_it_is(tree_of: TreeOf, tmp_path: Path, target: str) -> None:
    real = tmp_path / "real"
    if target == "empty folder":
        real.mkdir()
    elif target == "result":
        _result(real, **{"a.txt": "a"})
    else:
        real.write_text("text")
    link = tmp_path / "link"
    link.symlink_to(real)
    before = tree_of(tmp_path)
    with pytest.raises(OutputError, match=r"is a symbolic link \(to .*real\); b12brain does not write through links"):
        if target == "file":
            write_text_file("new", link, overwrite=True)
        else:
            with staged_output_dir(link, overwrite=True) as stage:
                (stage / "a.txt").write_text("new")
    assert tree_of(tmp_path) == before


@pytest.mark.parametrize("appears", ["empty folder", "folder with a file", "file"])
def test_a_path_made_by_another_process_meanwhile_is_never_replaced(tree_of: TreeOf, tmp_path: Path, appears: str) -> None:
    out = tmp_path / "res"
    with pytest.raises(OutputError, match="was created by another process while b12brain worked") as info:
        with staged_output_dir(out) as stage:
            (stage / "a.txt").write_text("ours")
            if appears == "file":
                out.write_text("theirs")
            else:
                out.mkdir()
                if appears == "folder with a file":
                    (out / "theirs.txt").write_text("theirs")
            before = tree_of(tmp_path)
    assert info.value.path == str(out)
    after = tree_of(tmp_path)
    assert after == {k: v for k, v in before.items() if not k.startswith(".")}
    assert sorted(after) == (["res", "res/theirs.txt"] if appears == "folder with a file" else ["res"])


def test_a_file_made_by_another_process_meanwhile_is_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "answers.json"
    make_partial = atomic.make_partial_file

    def and_another_process_writes(path: Path, *, suffix: str = "") -> Path:
        out.write_text("theirs")
        return make_partial(path, suffix=suffix)

    monkeypatch.setattr(outdir, "make_partial_file", and_another_process_writes)
    with pytest.raises(OutputError, match="was created by another process"):
        write_text_file("ours", out)
    assert out.read_text() == "theirs" and [p.name for p in tmp_path.iterdir()] == ["answers.json"]


_HOLD_LOCK = """
import sys, time
from b12brain.io.outdir import reserve_output_dir
with reserve_output_dir(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(30)
"""


def test_a_second_process_is_refused_at_once_while_the_first_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "res"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        start = time.monotonic()
        with pytest.raises(OutputError, match=rf"is in use by another b12brain process \(pid {holder.pid}\)") as info:
            with staged_output_dir(out):
                pass
        assert time.monotonic() - start < 2 and info.value.path == str(out)
    finally:
        holder.kill()
        holder.wait()
    # The holder was killed without cleaning up: its lock file stays, but the lock died with it.
    assert [p.name for p in tmp_path.iterdir()] == [".res.b12brain-lock"]
    with staged_output_dir(out) as stage:
        (stage / "a.txt").write_text("a")
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_the_same_process_may_lock_again_inside_its_own_lock(tmp_path: Path) -> None:
    out = tmp_path / "res"
    with reserve_output_dir(out):
        assert (tmp_path / ".res.b12brain-lock").read_text().startswith(f"b12brain lock, pid {os.getpid()}")
        _result(out, **{"a.txt": "a"})
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_a_foreign_file_named_like_the_lock_is_not_used(tmp_path: Path) -> None:
    (tmp_path / ".res.b12brain-lock").write_text("my notes")
    with pytest.raises(OutputError, match="is not a b12brain lock file"):
        with reserve_output_dir(tmp_path / "res"):
            pass
    assert (tmp_path / ".res.b12brain-lock").read_text() == "my notes"


def test_a_killed_runs_leftovers_are_removed_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    staging = tmp_path / ".res.b12brain-partial-abcd1234"
    staging.mkdir()
    (staging / outdir.STAGING_MARKER).write_text("b12brain staging folder, pid 1\n")
    (staging / "lesion_mask.nii.gz").write_bytes(b"half")
    old = _result(tmp_path / "source", **{"a.txt": "a"}).rename(tmp_path / ".res.b12brain-partial-efgh5678")
    (old / "a.txt").unlink()  # killed while removing a replaced result
    (tmp_path / ".res.b12brain-partial-ijkl9012.json").write_text("{half")  # a single file's temporary
    unknown = tmp_path / ".res.b12brain-partial-mnop3456"
    unknown.mkdir()
    (unknown / "mine.txt").write_text("not b12brain's")
    with caplog.at_level(logging.WARNING, logger="b12brain"):
        _result(tmp_path / "res", **{"b.txt": "b"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [unknown.name, "res"]
    messages = "\n".join(caplog.messages)
    for name in (staging.name, old.name, ".res.b12brain-partial-ijkl9012.json"):
        assert f"removed {tmp_path / name}" in messages
    assert f"left {unknown} as it is" in messages


def test_a_result_moved_aside_by_a_killed_run_is_restored(tree_of: TreeOf, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    aside = _result(tmp_path / "previous", **{"a.txt": "a"}).rename(tmp_path / ".res.b12brain-old-abcd1234")
    before = tree_of(aside)
    with caplog.at_level(logging.WARNING, logger="b12brain"), pytest.raises(OutputError, match="not empty"):
        with reserve_output_dir(tmp_path / "res"):
            pass
    assert tree_of(tmp_path / "res") == before and [p.name for p in tmp_path.iterdir()] == ["res"]
    assert "restored" in caplog.text


def test_a_name_too_long_for_the_temporary_names_is_refused_before_anything(tmp_path: Path) -> None:
    out = tmp_path / ("n" * 240)
    with pytest.raises(OutputError, match=r"name is 240 bytes; .* choose a name of at most \d+ bytes") as info:
        check_output_dir(out)
    assert info.value.path == str(out)
    with pytest.raises(OutputError, match="name is 240 bytes"):
        write_text_file("x", tmp_path / ("n" * 240))
    assert list(tmp_path.iterdir()) == []


def test_too_little_free_space_is_refused(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    check_free_space(tmp_path / "res", 1)
    with pytest.raises(OutputError, match=r"needs about .* MB but .* free; free some space"):
        check_free_space(tmp_path / "res", free * 2 + 10**9)


def test_an_unwritable_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: ask os.access what an ordinary user would be told
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != locked)
    else:
        locked.chmod(0o555)
    with pytest.raises(OutputError, match=rf"folder {locked} is not writable"):
        check_output_dir(locked / "res")


def test_a_full_disk_while_writing_is_an_output_error_naming_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "res"
    with pytest.raises(OutputError, match="cannot be written: no space left on the device") as info:
        with staged_output_dir(out) as stage:
            (stage / "a.txt").write_text("a")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(stage / "b.nii.gz"))
    assert info.value.path == str(out)
    assert list(tmp_path.iterdir()) == []


def test_rename_no_replace_never_replaces_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    with pytest.raises(FileExistsError):
        atomic.rename_no_replace(tmp_path / "src", tmp_path / "dst")
    assert (tmp_path / "src").is_dir() and (tmp_path / "dst").is_dir()


def test_write_text_file_replaces_only_with_overwrite_and_leaves_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "a.json"
    write_text_file("1", out)
    with pytest.raises(OutputError, match="already exists"):
        write_text_file("2", out)
    write_text_file("2", out, overwrite=True)
    assert out.read_text() == "2" and [p.name for p in out.parent.iterdir()] == ["a.json"]


def test_a_lock_file_removed_by_its_holder_as_it_is_taken_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder unlinks its lock file as it finishes; a process that opened the old file just
    before must not take a lock on a name nobody else will see: it locks the new file instead."""
    lock = tmp_path / ".res.b12brain-lock"
    lock.write_text("b12brain lock, pid 1\n")
    calls = []
    flock = outdir.fcntl.flock

    def holder_finishes_meanwhile(fd: int, operation: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            lock.unlink()
        flock(fd, operation)

    monkeypatch.setattr(outdir.fcntl, "flock", holder_finishes_meanwhile)
    with reserve_output_dir(tmp_path / "res"):
        assert len(calls) == 2 and lock.read_text() == f"b12brain lock, pid {os.getpid()}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_signal_while_publishing_waits_until_the_result_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    rename = atomic.rename_no_replace

    def terminated_halfway(src: Path, dst: Path) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # time for the signal to arrive, had it not been held back
        rename(src, dst)

    monkeypatch.setattr(outdir, "rename_no_replace", terminated_halfway)
    try:
        with pytest.raises(KeyboardInterrupt), staged_output_dir(tmp_path / "res") as stage:
            (stage / "a.txt").write_text("a")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert manifest_problem(tmp_path / "res") is None and [p.name for p in tmp_path.iterdir()] == ["res"]


def test_another_thread_of_the_same_process_is_refused(tmp_path: Path) -> None:
    errors: list[Exception] = []

    def second_writer() -> None:
        try:
            write_text_file("theirs", tmp_path / "a.json")
        except OutputError as err:
            errors.append(err)

    with reserve_output_file(tmp_path / "a.json"):
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "in use by another thread of this process" in str(errors[0])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("given", [".", "..", "sub/.."])
def test_the_current_folder_or_one_above_it_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    (tmp_path / "here" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "here")
    with pytest.raises(OutputError, match=r"is \(or holds\) the current folder") as info:
        with staged_output_dir(given) as stage:
            (stage / "a.txt").write_text("a")
    assert Path(info.value.path).is_absolute()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["here", "here/sub"]
