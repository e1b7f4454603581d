"""``b12brain run --study``: a patient CD (folder, DICOMDIR or zip) in, the right series out.

Acceptance: the 3D FLAIR and the 3D T1 are taken from the CD and the zipped CD alike, with the
same result; bad input (bombs, path tricks, link loops, two patients, a DICOMDIR pointing at
missing files, a series with a missing or duplicated slice) exits 2 with a message naming the
path and the cause, or is skipped with a note; nothing is written outside --out and no
temporary folder is left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from b12brain.cli.main import main
from b12brain.study import resolve_scans


def _our_temp_folders() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("b12brain-")}


@pytest.fixture(scope="module", autouse=True)
def _private_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This module's runs make their temporary folders in a folder of their own, so that what
    they leave there can be seen apart from other processes'."""
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tmp"))
    yield
    tempfile.tempdir = before


def _run(argv: list[str]) -> SimpleNamespace:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return SimpleNamespace(code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())


@pytest.fixture(scope="module")
def runs(patient_cd: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The CD run as a folder and as a zip (classical segmenter: fast and deterministic)."""
    work = tmp_path_factory.mktemp("runs")
    archive = Path(shutil.make_archive(str(work / "cd"), "zip", patient_cd.parent, patient_cd.name))
    temp_before = _our_temp_folders()
    folder = _run(["run", "--study", str(patient_cd), "--out", str(work / "folder"), "--segmenter", "classical"])
    zipped = _run(["run", "--study", str(archive), "--out", str(work / "zipped"), "--segmenter", "classical"])
    return SimpleNamespace(folder=folder, zipped=zipped, work=work, archive=archive, leftovers=_our_temp_folders() - temp_before)


def test_run_study_takes_the_3d_flair_and_the_t1_and_says_why(runs: SimpleNamespace, patient_cd: Path) -> None:
    assert runs.folder.code == 0, runs.folder.stderr
    lines = runs.folder.stderr.splitlines()
    flair = next(line for line in lines if "as the FLAIR" in line)
    assert flair.startswith(f"b12brain run: took series 6 '3D_Brain_VIEW_FLAIR' of {patient_cd} as the FLAIR: looks like "
                            "a FLAIR: description '3D_Brain_VIEW_FLAIR' names FLAIR")
    assert "3D, 6 mm slices; preferred to series 5 'Ax T2 FLAIR', series 4 't2_tirm_tra_dark-fluid'" in flair
    assert any(line.startswith("b12brain run: took series 8 't1_mprage_sag_p2_iso'") and "as the T1" in line
               for line in lines)
    assert "b12brain run: note: skipped 5 files that are not DICOM (viewer programs, pictures, text)" in lines
    summary = json.loads((runs.work / "folder" / "summary.json").read_text())
    chosen = summary["series"]["chosen"]
    assert [(c["role"], c["number"], c["uid"]) for c in chosen] == [("flair", 6, "2.25.4242.1.6"), ("t1", 8, "2.25.4242.1.8")]
    assert chosen[0]["why"] in flair and chosen[0]["found_in"] == str(patient_cd)
    assert [i["role"] for i in summary["inputs"]] == ["flair", "t1"]
    assert summary["inputs"][0]["shape"] == [256, 256, 28]
    assert not any("DOE" in text or "PID0001" in text for text in (runs.folder.stderr, runs.folder.stdout))


def test_zipped_cd_gives_the_same_choice_and_result(runs: SimpleNamespace) -> None:
    assert runs.zipped.code == 0, runs.zipped.stderr
    folder = json.loads((runs.work / "folder" / "summary.json").read_text())
    zipped = json.loads((runs.work / "zipped" / "summary.json").read_text())
    assert [c["uid"] for c in zipped["series"]["chosen"]] == [c["uid"] for c in folder["series"]["chosen"]]
    assert zipped["series"]["chosen"][0]["found_in"] == str(runs.archive)
    assert zipped["lesions"] == folder["lesions"] and zipped["fazekas_estimate"] == folder["fazekas_estimate"]
    assert runs.zipped.stdout == runs.folder.stdout.replace("folder", "zipped")


def test_nothing_is_left_in_the_temporary_folder(runs: SimpleNamespace) -> None:
    assert runs.leftovers == set()


def test_flair_given_a_cd_takes_its_flair_only(patient_cd: Path) -> None:
    with resolve_scans(flair=patient_cd / "DICOMDIR") as scans:
        assert [c.series.number for c in scans.choices] == [6] and scans.t1 is None
        links = scans.flair
        assert sorted(p.name for p in links.iterdir()) == [f"IM{i:06d}" for i in range(28)]
        assert all(p.is_symlink() for p in links.iterdir())
    assert not links.exists()


# --- bad input: one message naming the path and the cause, nothing written -------------------

BadInput = Callable[[Path, SimpleNamespace], tuple[list[str], Path, str]]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _bomb(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    path = _zip(d / "cd.zip", {"DICOM/IM1": bytes(64 << 20)})
    return ["--study", str(path)], path, r"member 'DICOM/IM1' unpacks [\d,]+ times its packed size \(a zip bomb"


def _dotdot(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    path = _zip(d / "cd.zip", {"DICOM/IM1": b"x", "../../etc/cron.d/evil": b"x"})
    return ["--study", str(path)], path, r"member '../../etc/cron.d/evil' climbs out of the archive"


def _absolute(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    path = _zip(d / "cd.zip", {"/etc/evil": b"x"})
    return ["--flair", str(path)], path, r"member '/etc/evil' has an absolute path"


def _two_patients(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    c.write_series(d / "export" / "a", c.small_volume(), c.SeriesSpec(3, "Ax T2 FLAIR", "GE"))
    c.write_series(d / "export" / "b", c.small_volume(), c.SeriesSpec(3, "Ax T2 FLAIR", "GE"), study_uid="2.25.9",
                   patient="ROE^RICHARD", patient_id="PID0002")
    return ["--study", str(d / "export")], d / "export", r"holds 2 studies of 2 patients:$"


def _dicomdir_missing(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    from pydicom.fileset import FileSet

    fileset = FileSet()
    for ds in c.series_datasets(c.small_volume(), c.SeriesSpec(3, "Ax T2 FLAIR", "GE")):
        fileset.add(ds)
    fileset.write(d / "CD")
    shutil.rmtree(d / "CD" / "PT000000")
    return ["--study", str(d / "CD" / "DICOMDIR")], d / "CD" / "DICOMDIR", r"the DICOMDIR lists 8 files and none of them exists"


def _missing_slice(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    c.write_series(d / "study" / "s2", c.small_volume(), c.SeriesSpec(2, "Ax T1 SE", "GE", tr=500, te=10))
    c.write_series(d / "study" / "s3", c.small_volume(12), c.SeriesSpec(3, "Ax T2 FLAIR", "GE"), skip=(6,))
    return ["--study", str(d / "study")], d / "study", r"^[^:]*study \(series 3 'Ax T2 FLAIR'\): 1 missing slice"


def _duplicated_slice(d: Path, c: SimpleNamespace) -> tuple[list[str], Path, str]:
    c.write_series(d / "study" / "s3", c.small_volume(12), c.SeriesSpec(3, "Ax T2 FLAIR", "GE"), duplicate=(6,))
    c.write_series(d / "study" / "s4", c.small_volume(), c.SeriesSpec(4, "3-Plane Loc", "GE"))
    return ["--study", str(d / "study")], d / "study", r"study \(series 3 'Ax T2 FLAIR'\): two slices share the position"


@pytest.mark.parametrize("build", [_bomb, _dotdot, _absolute, _two_patients, _dicomdir_missing, _missing_slice,
                                   _duplicated_slice], ids=lambda f: f.__name__.strip("_"))
def test_bad_input_exits_2_naming_the_path_and_writes_nothing(tmp_path: Path, corpus, tree_of, build: BadInput) -> None:  # type: ignore[no-untyped-def]
    options, named, problem = build(tmp_path, corpus)
    before, temp_before = tree_of(tmp_path), _our_temp_folders()
    result = _run(["run", *options, "--out", str(tmp_path / "out"), "--segmenter", "classical"])
    assert result.code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"b12brain run: error: {named}"), first
    import re

    assert re.search(problem, first.removeprefix("b12brain run: error: ")), first
    assert "Traceback" not in result.stderr and "DOE" not in result.stderr and "ROE" not in result.stderr
    assert tree_of(tmp_path) == before
    assert _our_temp_folders() == temp_before


def test_symlink_loop_is_skipped_with_a_note(tmp_path: Path, corpus, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    corpus.write_series(tmp_path / "study" / "s3", corpus.small_volume(), corpus.SeriesSpec(3, "Ax T2 FLAIR", "GE"))
    os.symlink("..", tmp_path / "study" / "s3" / "loop")
    assert main(["series", str(tmp_path / "study")]) == 0
    out = capsys.readouterr().out
    assert "FLAIR  3" in out
    assert out.splitlines()[-1].startswith("note: did not follow 1 linked folder (links are not searched")
