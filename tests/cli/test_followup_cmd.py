"""``b12brain followup`` from the command line: outputs, the markers timeline, and exit 2 on bad input."""

from __future__ import annotations

import json

import numpy as np

from b12brain.cli.main import main


def _runs(tmp_path, builders, write_run_folder):
    blob = builders.make_blob()
    labels = np.zeros(blob.shape, dtype=np.uint16)
    labels[20:23, 20:23, 18:21] = 1
    runs = []
    for name, seed in (("a", 0), ("b", 1)):
        flair = builders.make_blob(seed=seed)
        flair[labels > 0] += 600.0
        runs.append(write_run_folder(tmp_path / name, flair, labels))
    return runs


def test_followup_writes_every_output_with_markers_and_treatment(tmp_path, builders, write_run_folder, capsys):
    a, b = _runs(tmp_path, builders, write_run_folder)
    labs = tmp_path / "labs.csv"
    labs.write_text("date,b12,b12_unit,mma,mma_unit\n2025-01-05,110,pmol/L,0.9,umol/L\n2025-06-20,420,pmol/L,0.3,umol/L\n")
    code = main(["followup", str(a), str(b), "--out", str(tmp_path / "out"), "--dates", "2025-01-10,2025-07-02",
                 "--treatment-start", "2025-01-20", "--labs-series", str(labs), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 stable" in out and "2025-01-10 to 2025-07-02" in out
    document = json.loads((tmp_path / "out" / "followup.json").read_text())
    assert document["treatment_start"] == "2025-01-20"
    assert [m["b12"] for m in document["markers"]] == [110.0, 420.0]
    assert (tmp_path / "out" / "followup_timeline.png").stat().st_size > 10_000
    manifest = json.loads((tmp_path / "out" / "b12brain-manifest.json").read_text())
    assert manifest["command"].startswith("b12brain followup")


def test_bad_dates_exit_2_with_one_message_and_nothing_written(tmp_path, builders, write_run_folder, capsys, tree_of):
    a, b = _runs(tmp_path, builders, write_run_folder)
    before = tree_of(tmp_path)
    code = main(["followup", str(a), str(b), "--out", str(tmp_path / "out"), "--dates", "2025-07-02,2025-01-10"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("error:") == 1 and "is not after" in err and "Traceback" not in err
    assert tree_of(tmp_path) == before


def _with_subject(run, **subject):
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps(summary | {"schema_version": "1.6", "subject": subject}))
    return run


def test_runs_of_different_patients_exit_2_naming_field_and_folders(tmp_path, builders, write_run_folder, capsys,
                                                                     tree_of):
    a, b = _runs(tmp_path, builders, write_run_folder)
    _with_subject(a, PatientID="MRN-1111", visit_date="2025-01-10")
    _with_subject(b, PatientID="MRN-2222", visit_date="2025-07-02")
    before = tree_of(tmp_path)
    code = main(["followup", str(a), str(b), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("b12brain followup: error: ") and "Traceback" not in err
    assert f"PatientID differs between {a} and {b}" in lines[0] and "--allow-different-ids" in lines[0]
    assert "MRN-" not in err  # identifiers never reach stderr
    assert tree_of(tmp_path) == before  # nothing half-written


def test_allow_different_ids_compares_with_the_warning_recorded(tmp_path, builders, write_run_folder, capsys):
    a, b = _runs(tmp_path, builders, write_run_folder)
    _with_subject(a, PatientID="MRN-1111", visit_date="2025-01-10")
    _with_subject(b, PatientID="MRN-2222", visit_date="2025-07-02")
    code = main(["followup", str(a), str(b), "--out", str(tmp_path / "out"), "--allow-different-ids", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2025-01-10 to 2025-07-02" in out  # the dates the runs recorded
    document = json.loads((tmp_path / "out" / "followup.json").read_text())
    warning = next(w for w in document["warnings"] if w["code"] == "followup.identifiers_differ")
    assert "PatientID differs" in warning["message"] and "--allow-different-ids" in warning["message"]
    assert "warning: PatientID differs" in err and "MRN-" not in err
    assert [v["date_source"] for v in document["visits"]] == ["summary.json subject.visit_date (from the run)"] * 2
