"""Output folders that cannot hurt, tried through the commands a user types.

Each data-loss case a tester found is replayed: every file that existed before stays byte
for byte, and no hidden or partial file is left. Kills, signals and concurrent runs need
real processes, each a whole ``b12brain run`` command (classical segmenter, a small phantom).
Where a test starts many of them (SIGKILL at random moments, four runs on four folders) or must
stop one in a chosen phase (the signal tests), the analysis is a result computed once by this
module and returned after ``delay`` seconds standing for the analysis work: the analysis never
touches ``--out`` (it is given the scans, not the folder), and everything that does (lock,
staging, writing, swapping into place, clean-up) runs for real. The runs on one folder and the
run after the kills use the real analysis too.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from b12brain.cli.main import main
from b12brain.io import load_volume
from b12brain.io.manifest import MANIFEST_NAME, manifest_problem
from b12brain.pipeline import PipelineConfig, PipelineResult, run_pipeline

pytestmark = pytest.mark.slow

_STUB = """
import pickle, sys, time
import b12brain.pipeline
with open(sys.argv[1], "rb") as handle:
    result = pickle.load(handle)

def run_pipeline(*args, **kwargs):
    time.sleep(float(sys.argv[2]))
    return result

b12brain.pipeline.run_pipeline = run_pipeline
from b12brain.cli.main import main
sys.exit(main(sys.argv[3:]))
"""

#: The ``tree_of`` fixture (tests/conftest.py): a folder snapshot.
TreeOf = Callable[[Path], dict[str, str]]


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder written by ``b12brain phantom`` (a b12brain result, with truth.json and a manifest)."""
    folder = tmp_path_factory.mktemp("phantom") / "ph"
    assert main(["phantom", "--out", str(folder), "--slice-mm", "6", "--lesion-load", "mild", "--seed", "2"]) == 0
    return folder


@pytest.fixture(scope="module")
def computed(phantom: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The classical pipeline's result on the phantom, pickled for the subprocesses."""
    result = run_pipeline(load_volume(phantom / "flair.nii.gz"), None, PipelineConfig(segmenter="classical"))
    path = tmp_path_factory.mktemp("computed") / "result.pkl"
    path.write_bytes(pickle.dumps(result))
    return SimpleNamespace(result=result, pickle=path)


def _start(computed: SimpleNamespace | None, argv: list[str], *, delay: float = 0.0) -> subprocess.Popen[str]:
    """``b12brain ARGV`` in a subprocess: the whole run, or with ``computed`` the stand-in pipeline."""
    command = [sys.executable, "-m", "b12brain.cli.main"] if computed is None else [
        sys.executable, "-c", _STUB, str(computed.pickle), str(delay)]
    return subprocess.Popen(
        [*command, *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _run_argv(phantom: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--flair", str(phantom / "flair.nii.gz"), "--out", str(out), "--segmenter", "classical", *extra]


@pytest.fixture
def pipeline_done(computed: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> PipelineResult:
    """In-process runs return the computed result at once."""
    monkeypatch.setattr("b12brain.pipeline.run_pipeline", lambda *args, **kwargs: computed.result)
    return computed.result  # type: ignore[no-any-return]


# --- the tester's data-loss cases ------------------------------------------------------------


def test_a_phantom_folder_given_as_out_keeps_its_inputs(tree_of: TreeOf, 
    phantom: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run --flair X/flair.nii.gz --t1 X/t1.nii.gz --out X --overwrite`` deleted the inputs."""
    folder = tmp_path / "X"
    shutil.copytree(phantom, folder)  # still a valid b12brain result: its manifest holds
    assert manifest_problem(folder) is None
    before = tree_of(tmp_path)
    code = main(["run", "--flair", str(folder / "flair.nii.gz"), "--t1", str(folder / "t1.nii.gz"), "--out",
                 str(folder), "--overwrite", "--segmenter", "classical"])
    err = capsys.readouterr().err
    assert code == 2 and f"{folder}: holds an input of this run" in err and len(err.splitlines()) == 1, err
    assert tree_of(tmp_path) == before


def test_a_foreign_folder_that_looks_like_a_result_is_never_replaced(tree_of: TreeOf, 
    phantom: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``summary.json`` did not make a folder b12brain's: its files were deleted."""
    folder = tmp_path / "F"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    (folder / "notes.txt").write_text("k\n")
    before = tree_of(tmp_path)
    for argv in (_run_argv(phantom, folder, "--overwrite"), ["phantom", "--out", str(folder), "--overwrite"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{folder}: has no {MANIFEST_NAME}" in err and len(err.splitlines()) == 1, err
        assert tree_of(tmp_path) == before


@pytest.mark.parametrize("command", ["labs", "assess"])
def test_a_single_file_output_is_never_an_input(tree_of: TreeOf, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    """``labs cohort.csv --out cohort.csv --overwrite`` must not replace the table it reads."""
    panel = tmp_path / "cohort.csv"
    panel.write_text("b12,age\n350 pmol/L,50\n150 pmol/L,70\n")
    before = tree_of(tmp_path)
    argv = ["labs", str(panel)] if command == "labs" else ["assess", "--labs", str(panel)]
    assert main([*argv, "--out", str(panel), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"{panel}: is an input of this run" in err and len(err.splitlines()) == 1, err
    assert tree_of(tmp_path) == before


def test_a_symlinked_out_is_refused_and_left_as_it_is(tree_of: TreeOf, 
    phantom: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    before = tree_of(tmp_path)
    assert main(_run_argv(phantom, tmp_path / "link")) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'link'}: is a symbolic link" in err and len(err.splitlines()) == 1, err
    assert tree_of(tmp_path) == before


# --- paths that cannot work are refused before the work ------------------------------------


@pytest.mark.parametrize("case", ["240-character name", "unwritable parent", "parent is a file", "full disk"])
def test_an_unusable_out_exits_2_before_the_work(tree_of: TreeOf, 
    phantom: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    out = tmp_path / "results"
    if case == "240-character name":
        out = tmp_path / ("r" * 240)
    elif case == "unwritable parent":
        out = tmp_path / "ro" / "results"
        (tmp_path / "ro").mkdir(mode=0o555)
        if os.geteuid() == 0:  # root writes anywhere; an ordinary user would be told this
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, m, **kw: Path(p) != tmp_path / "ro" and real_access(p, m, **kw))
    elif case == "parent is a file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "results"
    else:
        real_statvfs = os.statvfs

        def nearly_full(path: object) -> os.statvfs_result:
            stats = list(real_statvfs(path))  # type: ignore[arg-type]
            stats[4] = 100 * 1024 // stats[1]  # f_bavail: 100 KiB left
            return os.statvfs_result(stats)

        monkeypatch.setattr(os, "statvfs", nearly_full)
    monkeypatch.setattr("b12brain.pipeline.run_pipeline", _must_not_run)
    before = tree_of(tmp_path)
    assert main(_run_argv(phantom, out)) == 2
    err = capsys.readouterr().err
    expected = {"240-character name": "name is 240 bytes", "unwritable parent": "is not writable",
                "parent is a file": "is a file, not a folder", "full disk": "needs about"}[case]
    assert err.startswith(f"b12brain run: error: {out}: ") and expected in err and len(err.splitlines()) == 1, err
    assert tree_of(tmp_path) == before


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("the analysis ran although the output could not be written")


def test_a_disk_that_fills_while_writing_exits_2_naming_the_folder(
    phantom: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    pipeline_done: PipelineResult,
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[3]))

    monkeypatch.setattr("b12brain.outputs.write_qc_image", disk_full)
    out = tmp_path / "results"
    assert main(_run_argv(phantom, out, "--quiet")) == 2
    err = capsys.readouterr().err
    assert f"error: {out}: cannot be written: no space left on the device" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_any_os_error_exits_2_naming_its_path(
    phantom: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    pipeline_done: PipelineResult,
) -> None:
    """An OSError raised where no writer wraps it still names its file, with exit 2."""

    def unreadable(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/somewhere/atlas.nii.gz")

    monkeypatch.setattr("b12brain.pipeline.run_pipeline", unreadable)
    assert main(_run_argv(phantom, tmp_path / "results", "--quiet")) == 2
    err = capsys.readouterr().err
    assert "error: /somewhere/atlas.nii.gz: Permission denied" in err and "unexpected" not in err, err
    assert list(tmp_path.iterdir()) == []


# --- processes: concurrency, signals, kills ----------------------------------------------------


def test_four_runs_on_one_folder_one_wins_the_others_fail_at_once(phantom: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    runs = [_start(None, _run_argv(phantom, out)) for _ in range(4)]
    finished: dict[int, tuple[int, str, set[int]]] = {}  # index -> exit code, stderr, runs still going
    while len(finished) < 4:
        for index, run in enumerate(runs):
            if index not in finished and run.poll() is not None:
                going = {i for i, other in enumerate(runs) if other.poll() is None}
                finished[index] = (run.returncode, run.communicate()[1], going)
        time.sleep(0.05)
    assert sorted(code for code, _, _ in finished.values()) == [0, 2, 2, 2], finished
    winner = next(index for index, (code, _, _) in finished.items() if code == 0)
    for code, err, going in finished.values():
        if code == 2:
            assert f"{out}: is in use by another b12brain process (pid {runs[winner].pid})" in err, err
            assert len(err.splitlines()) == 1 and winner in going  # it failed at once, not after the winner
    assert manifest_problem(out) is None and [p.name for p in tmp_path.iterdir()] == ["shared"]


def test_four_runs_on_four_folders_all_succeed(phantom: Path, computed: SimpleNamespace, tmp_path: Path) -> None:
    runs = [_start(computed, _run_argv(phantom, tmp_path / f"out{i}", "--quiet"), delay=1.0) for i in range(4)]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.communicate()[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out0", "out1", "out2", "out3"]
    assert all(manifest_problem(tmp_path / f"out{i}") is None for i in range(4))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("phase", ["analysis", "writing"])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(
    phantom: Path, computed: SimpleNamespace, tmp_path: Path, signum: signal.Signals, phase: str
) -> None:
    """Stopped while it works or while it writes: nothing partial is left. (A signal that comes
    while the finished result is being swapped into place is acted on just after: the result
    is then complete.)"""
    out = tmp_path / "results"
    run = _start(computed, _run_argv(phantom, out), delay=60.0 if phase == "analysis" else 0.0)
    assert run.stderr is not None
    if phase == "analysis":
        assert "] read " in run.stderr.readline()  # it holds the folder and is working
    else:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".results.b12brain-partial-") for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline and run.poll() is None, "the run never started writing"
            time.sleep(0.01)
    run.send_signal(signum)
    assert run.wait(timeout=30) == 128 + signum
    err = run.stderr.read()
    assert f"interrupted ({signum.name}); no partial output was left" in err, err
    assert [p.name for p in tmp_path.iterdir()] in ([], ["results"] if phase == "writing" else [])
    assert not out.exists() or manifest_problem(out) is None


def test_sigkill_at_random_moments_leaves_nothing_or_a_complete_result(
    phantom: Path, computed: SimpleNamespace, tmp_path: Path
) -> None:
    """Killed anywhere (half the moments in the run's last second, where it writes), ``--out``
    holds nothing or a result that passes its manifest check; the next run (with the real
    analysis) clears what the killed one left, and succeeds."""
    out = tmp_path / "results"
    argv = _run_argv(phantom, out, "--overwrite", "--quiet")
    start = time.monotonic()
    assert _start(computed, argv, delay=2.0).wait(timeout=300) == 0
    seconds = time.monotonic() - start
    rng = np.random.default_rng(16)
    moments = np.concatenate([rng.uniform(0.0, seconds, 5), rng.uniform(max(seconds - 1.0, 0.0), seconds, 5)])
    for moment in moments:
        run = _start(computed, argv, delay=2.0)
        time.sleep(float(moment))
        run.kill()
        run.wait()
        run.communicate()
        assert not out.exists() or manifest_problem(out) is None, f"killed at {moment:.2f} s: {manifest_problem(out)}"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    rerun = _start(None, argv)
    assert rerun.wait(timeout=300) == 0, rerun.communicate()[1]
    err = rerun.communicate()[1]
    for name in left:  # each reported (the lock file is simply reused)
        assert name.endswith(".b12brain-lock") or f"removed {tmp_path / name}, " in err, (name, err)
    assert manifest_problem(out) is None
    assert [p.name for p in tmp_path.iterdir()] == ["results"]
    assert json.loads((out / "summary.json").read_text())["schema_version"]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), filled up; skipped where mounting is not permitted."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (the same errors are simulated in the tests above)")
    try:
        fd = os.open(mount_point / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError, match="No space left"):
                for _ in range(1024):
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def test_a_really_full_disk_exits_2_naming_the_path(tree_of: TreeOf, 
    phantom: Path, full_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = tmp_path / "panel.json"
    panel.write_text(json.dumps({"b12": "150 pmol/L", "age": 70}))
    before = tree_of(full_disk)
    for argv in (["labs", str(panel), "--out", str(full_disk / "report.txt")], _run_argv(phantom, full_disk / "res")):
        assert main(argv) == 2  # on a full disk even the lock file cannot be written
        err = capsys.readouterr().err
        assert f"{argv[-3 if argv[0] == 'run' else -1]}: cannot be written: no space left on the device" in err, err
        assert len(err.splitlines()) == 1 and tree_of(full_disk) == before
    filler = full_disk / "filler"
    os.truncate(filler, filler.stat().st_size - 200 * 1024)  # 200 KiB free: too little for a result
    before = tree_of(full_disk)
    assert main(_run_argv(phantom, full_disk / "res")) == 2
    err = capsys.readouterr().err
    assert f"{full_disk / 'res'}: needs about" in err and len(err.splitlines()) == 1, err
    assert tree_of(full_disk) == before
