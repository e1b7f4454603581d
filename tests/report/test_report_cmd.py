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
    # How far to trust a class change is said beside the table.
    assert "read a class change under about 0.5 mL as no clear change" in html


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
    assert "<th>FLAIR input</th><td>withheld (--deidentify)</td>" in html


def _timeline_src(html: str) -> str:
    start = html.index('<img src="', html.index('id="followup"')) + len('<img src="')
    return html[start:html.index('"', start)]


@pytest.mark.slow
def test_pseudonym_and_date_of_run_reach_the_followup_report_with_treatment_start(
    demo_run: Path, tmp_path: Path, capsys
) -> None:
    # A run given a pseudonym and a visit date; the same scan's earlier run recorded another date.
    later = tmp_path / "later"
    assert main(["run", "--flair", str(demo_run.parent / "phantom" / "flair.nii.gz"), "--out", str(later),
                 "--segmenter", "classical", "--patient-id", "STUDY-0007", "--date", "2025-07-02", "--quiet"]) == 0
    subject = json.loads((later / "summary.json").read_text())["subject"]
    assert (subject["PatientID"], subject["visit_date"]) == ("STUDY-0007", "2025-07-02")
    assert subject["sources"] == {"PatientID": "--patient-id", "visit_date": "--date"}
    assert "STUDY-0007" not in capsys.readouterr().err
    html = (later / "report.html").read_text(encoding="utf-8")
    assert '<td>STUDY-0007 <span class="note">(--patient-id)</span></td>' in html
    assert '<th>Visit date</th><td>2025-07-02 <span class="note">(--date)</span></td>' in html
    assert html.count("<td>not given</td>") == 5  # name, birth date, accession number, study UID and date
    prior = shutil.copytree(later, tmp_path / "prior")
    content = json.loads((prior / "summary.json").read_text())
    (prior / "summary.json").write_text(json.dumps(content | {"subject": subject | {"visit_date": "2025-01-10"}}))
    labs = tmp_path / "labs.csv"
    labs.write_text("date,b12,b12_unit\n2025-01-05,110,pmol/L\n2025-06-20,420,pmol/L\n")
    plain, treated = tmp_path / "plain", tmp_path / "treated"
    assert main(["report", str(later), "--prior", str(prior), "--out", str(plain)]) == 0
    assert main(["report", str(later), "--prior", str(prior), "--out", str(treated), "--treatment-start", "2025-02-01",
                 "--labs-series", str(labs)]) == 0
    without, with_ = (p.joinpath("report.html").read_text(encoding="utf-8") for p in (plain, treated))
    assert "Visits: 2025-01-10, 2025-07-02" in with_  # the dates the runs recorded, no --dates needed
    assert "treatment started 2025-02-01 (dotted line)" in with_ and "treatment started" not in without
    assert "blood markers of 2 dated lab panels" in with_
    assert _timeline_src(with_) != _timeline_src(without)  # the line and the markers are drawn


@pytest.mark.parametrize("option", [["--treatment-start", "2025-02-01"], ["--allow-different-ids"]])
def test_followup_options_without_prior_are_refused(demo_run: Path, tmp_path: Path, option: list[str], capsys) -> None:
    assert main(["report", str(demo_run), "--out", str(tmp_path / "out"), *option]) == 2
    assert f"{option[0]}: only used with --prior" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_prior_of_another_patient_is_refused_unless_allowed(demo_run: Path, tmp_path: Path, capsys) -> None:
    run, prior = (shutil.copytree(demo_run, tmp_path / name) for name in ("run", "prior"))
    for folder, pid, when in ((prior, "MRN-1", "2025-01-10"), (run, "MRN-2", "2025-07-02")):
        content = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps(content | {"subject": {"PatientID": pid, "visit_date": when}}))
    assert main(["report", str(run), "--prior", str(prior), "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err
    assert f"PatientID differs between {prior} and {run}" in err and "MRN-" not in err
    assert not (tmp_path / "refused").exists()
    assert main(["report", str(run), "--prior", str(prior), "--allow-different-ids", "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Follow-up warning (followup.identifiers_differ): PatientID differs" in html
    assert "<th>Patient ID</th><td>MRN-2</td>" in html  # the report's own patient, as recorded
