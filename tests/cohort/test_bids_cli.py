"""``b12brain bids`` on a CSV manifest with the default local cluster: a refused scan is recorded,
the labs come through, the group level refuses a folder that is not its derivative."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from b12brain.cli.main import main


def test_manifest_run_on_a_local_cluster_records_each_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "a.nii.gz").write_bytes(b"not a NIfTI file")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("subject,session,flair,t1,age,sex,Vitamin B12 (ng/L),mma\n"
                        "01,1,scans/a.nii.gz,,70,female,271,0.3 µmol/L\n"
                        "02,,,,65,male,300,abc\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["bids", str(manifest), str(out), "group"]) == 2
    assert "not a b12brain derivative dataset" in capsys.readouterr().err

    assert main(["bids", str(manifest), str(out), "participant", "--segmenter", "classical", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "participant level: 0 ok, 1 failed, 0 done before (not run again), 1 skipped" in captured.out
    assert "skipped sub-02: " in captured.err and "no FLAIR path given" in captured.err
    assert main(["bids", str(manifest), str(out), "group"]) == 0
    table = pd.read_csv(out / "group" / "b12brain_group.tsv", sep="\t", keep_default_na=False, na_values=["n/a"])
    first, second = table.to_dict("records")
    assert (first["participant_id"], first["session_id"], first["status"]) == ("sub-01", "1", "failed")
    assert "a.nii.gz" in first["error"] and first["b12"] == pytest.approx(200.0, rel=1e-3) and first["mma"] == 0.3
    assert (second["status"], second["age"], second["sex"]) == ("skipped", 65.0, "male")
    assert pd.isna(second["mma"]) and second["qc_flags"].startswith("mma: ")
