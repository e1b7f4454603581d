"""`b12brain report RUN [--prior RUN] --out DIR`: rebuilds the report; bad run folders are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from b12brain.cli.main import main


def test_rebuilds_the_report_and_leaves_the_run_alone(demo_run: Path, tmp_path: Path, tree_of) -> None:
    before = tree_of(demo_run)
    assert main(["report", str(demo_run), "--out", str(tmp_path / "out")]) == 0
    assert tree_of(demo_run) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b12brain-manifest.json", "report.html", "report.pdf"]


def test_prior_adds_the_followup_view(demo_run: Path, tmp_path: Path) -> None:
    prior = shutil.copytree(demo_run, tmp_path / "prior")
    out = tmp_path / "out"
    assert main(["report", str(demo_run), "--prior", str(prior), "--dates", "2026-01-05,2026-06-05",
                 "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert ">Follow-up</h2>" in html and "2026-01-05" in html and "stable" in html


@pytest.mark.parametrize("damage", ["missing summary", "corrupt summary", "other schema", "changed flair"])
def test_bad_run_folder_is_refused(demo_run: Path, tmp_path: Path, damage: str, capsys) -> None:
    run = shutil.copytree(demo_run, tmp_path / "run")
    summary = run / "summary.json"
    if damage == "missing summary":
        summary.unlink()
    elif damage == "corrupt summary":
        summary.write_text(summary.read_text()[:100])
    elif damage == "other schema":
        summary.write_text(json.dumps(json.loads(summary.read_text()) | {"schema_version": "0.9"}))
    else:
        flair = tmp_path / "flair.nii.gz"
        shutil.copy(json.loads(summary.read_text())["inputs"][0]["path"], flair)
        flair.write_bytes(flair.read_bytes() + b"\0")
        content = json.loads(summary.read_text())
        content["inputs"][0]["path"] = str(flair)
        summary.write_text(json.dumps(content))
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("b12brain report: error: ") and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


def test_a_run_without_its_flair_path_needs_flair(demo_run: Path, tmp_path: Path) -> None:
    run = shutil.copytree(demo_run, tmp_path / "run")
    content = json.loads((run / "summary.json").read_text())
    flair = content["inputs"][0]["path"]
    content["inputs"][0]["path"] = None  # as `run --deidentify` records it
    (run / "summary.json").write_text(json.dumps(content))
    assert main(["report", str(run), "--out", str(tmp_path / "refused")]) == 2
    assert not (tmp_path / "refused").exists()
    assert main(["report", str(run), "--flair", flair, "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "not recorded (the run was made with --deidentify)" in html
