"""Tests of ``b12brain phantom`` through ``b12brain.cli.main.main``."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import pytest

from b12brain.cli.main import main


def test_writes_the_files(tmp_path, capsys) -> None:
    out = tmp_path / "ph"
    assert main(["phantom", "--out", str(out), "--seed", "3", "--lesion-load", "mild", "--slice-mm", "5"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"flair.nii.gz", "t1.nii.gz", "lesion.nii.gz", "lesion_class.nii.gz", "ventricles.nii.gz",
                     "brainmask.nii.gz", "truth.json", "b12brain-manifest.json"}
    assert json.loads((out / "b12brain-manifest.json").read_text())["command"].startswith("b12brain phantom --out")
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 3 and truth["lesion_load"] == "mild" and truth["slice_mm"] == 5.0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and str(out) in line and f"{truth['lesion_ml']:.2f} mL" in line


@pytest.mark.parametrize("value", ["0.5", "10.5", "nan", "-2"])
def test_bad_slice_mm_exits_2(tmp_path, capsys, value) -> None:
    out = tmp_path / "ph"
    assert main(["phantom", "--out", str(out), f"--slice-mm={value}"]) == 2
    assert "--slice-mm" in capsys.readouterr().err
    assert not out.exists()


def test_bad_seed_and_load_exit_2(tmp_path) -> None:
    assert main(["phantom", "--out", str(tmp_path / "a"), "--seed=-1"]) == 2
    assert main(["phantom", "--out", str(tmp_path / "b"), "--lesion-load", "huge"]) == 2


def test_existing_non_empty_folder_exits_2(tmp_path, capsys) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["phantom", "--out", str(out), "--slice-mm", "6"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # --overwrite never deletes a folder b12brain did not write.
    assert main(["phantom", "--out", str(out), "--slice-mm", "6", "--overwrite"]) == 2
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_help_documents_every_option(capsys) -> None:
    assert main(["phantom", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--out", "--seed", "--lesion-load", "--slice-mm", "--overwrite"):
        assert option in text


def test_followup_pair_is_written_with_its_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pair"
    # Seed 3 alone would make a progression pair (by_seed): the option overrides it.
    assert main(["phantom", "--followup", "--out", str(out), "--seed", "3", "--slice-mm", "6",
                 "--scenario", "response"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["b12brain-manifest.json", "baseline", "change_truth.json", "followup"]
    for visit in ("baseline", "followup"):
        assert nib.load(out / visit / "flair.nii.gz").shape == nib.load(out / "baseline" / "flair.nii.gz").shape
    truth = json.loads((out / "change_truth.json").read_text())
    kinds = {change["change"] for change in truth["changes"]}
    assert {"new", "enlarged", "shrunk", "resolved"} <= kinds
    counts = {kind: sum(change["change"] == kind for change in truth["changes"]) for kind in kinds}
    assert truth["truth"]["scenario"] == "response" and counts["resolved"] == 2 and counts["new"] == 1
    assert truth["truth"]["pv_change"] < 0  # the periventricular band regresses
    printed = capsys.readouterr().out
    assert truth["truth"]["rotation_deg"] and "response" in printed and "1 new" in printed


def test_followup_pair_refuses_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / "pair").mkdir()
    (tmp_path / "pair" / "mine.txt").write_text("not b12brain's")
    assert main(["phantom", "--followup", "--out", str(tmp_path / "pair"), "--slice-mm", "6"]) == 2
    assert [p.name for p in (tmp_path / "pair").iterdir()] == ["mine.txt"]
