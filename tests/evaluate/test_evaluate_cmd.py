"""``b12brain evaluate`` through the CLI entry point."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from b12brain.cli.main import main

SHAPE = (16, 16, 10)
SPACING = (3.0, 3.0, 5.0)


@pytest.fixture
def mask_file(write_nifti, affine_mm):
    def _write(folder, name, shift=0, shape=SHAPE):
        folder.mkdir(parents=True, exist_ok=True)
        mask = np.zeros(shape, np.uint8)
        mask[4 + shift : 8 + shift, 4:8, 3:5] = 1
        return write_nifti(folder, mask, affine_mm(shape, SPACING), name, dtype=np.uint8)

    return _write


def test_pair_form_prints_the_table(tmp_path, mask_file, capsys):
    truth = mask_file(tmp_path, "lesion.nii.gz")
    pred = mask_file(tmp_path, "pred.nii.gz", shift=1)
    assert main(["evaluate", "--truth", str(truth), "--pred", str(pred)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "dice" in lines[0]
    mean = next(line for line in lines if line.startswith("mean"))
    assert mean.split()[:3] == ["mean", "(n=1)", "0.750"]
    # The size-bin table follows: the one 1.44 mL lesion is found, in the > 0.5 mL bin.
    assert lines[-1].split()[1:] == [">", "0.5", "mL", "1", "1", "1.000", "1", "1", "1.000"]


def test_dataset_form_writes_csv(tmp_path, mask_file, capsys):
    mask_file(tmp_path / "data" / "ds" / "a", "lesion.nii.gz")
    mask_file(tmp_path / "data" / "ds" / "b", "lesion.nii.gz")
    mask_file(tmp_path / "preds" / "ds" / "a", "lesion_mask.nii.gz")
    mask_file(tmp_path / "preds" / "ds", "b.nii.gz", shift=1)
    out_csv, out_json = tmp_path / "scores.csv", tmp_path / "scores.json"
    code = main(
        ["evaluate", "--dataset", str(tmp_path / "data"), "--pred-dir", str(tmp_path / "preds"),
         "--csv", str(out_csv), "--json", str(out_json)]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "mean" in out and str(out_csv) in out and str(out_json) in out
    assert "by lesion size" in out
    with out_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["dice"]) for r in rows] == pytest.approx([1.0, 0.75])
    record = json.loads(out_json.read_text())
    assert record["size_bins_pooled"]["over_0.5_ml"]["n_truth_found"] == 2


def test_missing_prediction_exits_2_naming_the_file(tmp_path, mask_file, capsys):
    mask_file(tmp_path / "data" / "ds" / "a", "lesion.nii.gz")
    (tmp_path / "preds").mkdir()
    code = main(["evaluate", "--dataset", str(tmp_path / "data"), "--pred-dir", str(tmp_path / "preds")])
    assert code == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "preds" / "ds" / "a" / "lesion_mask.nii.gz") in err
    assert "Traceback" not in err


def test_grid_mismatch_exits_2_naming_the_prediction(tmp_path, mask_file, capsys):
    truth = mask_file(tmp_path, "lesion.nii.gz")
    pred = mask_file(tmp_path, "pred.nii.gz", shape=(16, 16, 12))
    assert main(["evaluate", "--truth", str(truth), "--pred", str(pred)]) == 2
    err = capsys.readouterr().err
    assert str(pred) in err and "grid" in err


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--truth", "t.nii.gz"],
        ["--pred-dir", "p"],
        ["--truth", "t.nii.gz", "--pred", "p.nii.gz", "--dataset", "d", "--pred-dir", "p"],
        ["--truth", "t.nii.gz", "--pred-dir", "p"],
    ],
)
def test_anything_but_one_form_is_a_usage_error(extra, capsys):
    assert main(["evaluate", *extra]) == 2
    assert "either --truth" in capsys.readouterr().err
