"""`b12brain phantom --followup`: a follow-up pair with the truth of what changed, all at once."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib

from b12brain.cli.main import main


def test_followup_pair_is_written_with_its_truth(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pair"
    assert main(["phantom", "--followup", "--out", str(out), "--seed", "3", "--slice-mm", "6"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["b12brain-manifest.json", "baseline", "change_truth.json", "followup"]
    for visit in ("baseline", "followup"):
        assert nib.load(out / visit / "flair.nii.gz").shape == nib.load(out / "baseline" / "flair.nii.gz").shape
    truth = json.loads((out / "change_truth.json").read_text())
    kinds = {change["change"] for change in truth["changes"]}
    assert {"new", "enlarged", "shrunk", "resolved"} <= kinds
    assert truth["truth"]["rotation_deg"] and "2 new" in capsys.readouterr().out


def test_followup_pair_refuses_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / "pair").mkdir()
    (tmp_path / "pair" / "mine.txt").write_text("not b12brain's")
    assert main(["phantom", "--followup", "--out", str(tmp_path / "pair"), "--slice-mm", "6"]) == 2
    assert [p.name for p in (tmp_path / "pair").iterdir()] == ["mine.txt"]
