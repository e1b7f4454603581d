"""``b12brain series``: the listing of a study, CD or archive, and the series a run would take.

(Here rather than in tests/cli/ because it uses the CD built by this folder's conftest.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from b12brain.cli.main import main


def test_table_marks_what_run_takes_and_says_why(patient_cd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series", str(patient_cd)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["run", "number", "description", "looks", "like", "2D/3D", "voxel", "mm", "slices",
                                "date", "why"]
    flair = next(line for line in lines if "3D_Brain_VIEW_FLAIR" in line)
    assert flair.split()[:7] == ["FLAIR", "6", "3D_Brain_VIEW_FLAIR", "flair", "3D", "0.898x0.898x6", "28"]
    assert "names FLAIR" in flair
    assert next(line for line in lines if "t1_mprage" in line).startswith("T1 ")
    cube = next(line for line in lines if "Sag CUBE FLAIR" in line)
    assert cube.split()[:2] == ["7", "Sag"] and "derived" in cube and "REFORMATTED" in cube
    assert "never taken: 2 volumes in one series" in next(line for line in lines if "ep2d_diff_3scan_trace_p2 " in line)
    assert lines[-1] == "note: skipped 5 files that are not DICOM (viewer programs, pictures, text)"
    for identifier in ("DOE", "JANE", "PID0001", "19500101"):
        assert identifier not in out


def test_json_and_zip_give_the_same_listing(patient_cd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series", str(patient_cd), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    archive = Path(shutil.make_archive(str(tmp_path / "cd"), "zip", patient_cd.parent, patient_cd.name))
    assert main(["series", str(archive), "--json"]) == 0
    zipped = json.loads(capsys.readouterr().out)
    assert zipped["path"] == str(archive)
    assert zipped["series"] == listing["series"]
    taken = {row["run_takes_as"]: row["number"] for row in listing["series"] if row["run_takes_as"]}
    assert taken == {"FLAIR": 6, "T1": 8}
    row = next(r for r in listing["series"] if r["number"] == 6)
    assert (row["looks_like"], row["acquisition"], row["slices"], row["voxel_mm"]) == ("flair", "3D", 28, [0.898, 0.898, 6.0])


def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"b12brain series: error: {tmp_path / 'nope'}: does not exist; check the path"
