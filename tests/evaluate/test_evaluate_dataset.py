"""Scoring mask files and folders of subjects (tiny synthetic NIfTIs in tmp_path)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from b12brain.errors import InputFileError, OutputError
from b12brain.evaluate import SIZE_BIN_NAMES, DatasetEvaluation, evaluate_dataset, evaluate_pair, evaluate_subject

SHAPE = (16, 16, 10)
SPACING = (3.0, 3.0, 5.0)  # 48 × 48 × 50 mm: passes the loader's field-of-view check


def _mask(start=(4, 4, 3), size=(4, 4, 2)) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))] = 1
    return mask


@pytest.fixture
def write(write_nifti, affine_mm):
    def _write(folder, data, name, affine=None):
        folder.mkdir(parents=True, exist_ok=True)
        aff = affine_mm(SHAPE, SPACING) if affine is None else affine
        return write_nifti(folder, data, aff, name, dtype=np.uint8)

    return _write


@pytest.fixture
def tree(tmp_path, write):
    """Two datasets, three subjects; predictions in both accepted layouts, one empty."""
    data, preds = tmp_path / "data", tmp_path / "preds"
    write(data / "alpha" / "s1", _mask(), "lesion.nii.gz")
    write(preds / "alpha" / "s1", _mask(), "lesion_mask.nii.gz")  # perfect
    write(data / "alpha" / "s2", _mask(), "lesion.nii.gz")
    write(preds / "alpha", np.zeros(SHAPE, np.uint8), "s2.nii.gz")  # empty prediction
    write(data / "beta" / "s3", _mask(), "lesion.nii.gz")
    write(preds / "beta" / "s3", _mask(start=(5, 4, 3)), "lesion_mask.nii.gz")  # shifted: Dice 0.75
    (data / "beta" / "notes").mkdir()  # a folder without lesion.nii.gz is not a subject
    return data, preds


def test_evaluate_pair_scores_files(tmp_path, write):
    truth = write(tmp_path, _mask(), "lesion.nii.gz")
    pred = write(tmp_path, _mask(start=(5, 4, 3)), "pred.nii.gz")
    scores = evaluate_pair(truth, pred)
    assert scores.dice == pytest.approx(0.75)
    assert scores.truth_ml == pytest.approx(32 * 45 / 1000)
    assert scores.h95_mm == pytest.approx(3.0)  # one voxel along x at 3 mm


def test_evaluate_pair_thresholds_at_one_half(tmp_path, write_nifti, affine_mm):
    truth = write_nifti(tmp_path, _mask().astype(np.float32), affine_mm(SHAPE, SPACING), "t.nii.gz")
    soft = _mask().astype(np.float32) * 0.6
    soft[0, 0, 0] = 0.4  # below threshold: not lesion
    pred = write_nifti(tmp_path, soft, affine_mm(SHAPE, SPACING), "p.nii.gz")
    assert evaluate_pair(truth, pred).dice == 1.0


def test_evaluate_pair_rejects_another_shape(tmp_path, write, write_nifti, affine_mm):
    truth = write(tmp_path, _mask(), "lesion.nii.gz")
    other = np.zeros((16, 16, 11), np.uint8)
    other[4, 4, 4] = 1
    pred = write_nifti(tmp_path, other, affine_mm(other.shape, SPACING), "pred.nii.gz", dtype=np.uint8)
    with pytest.raises(InputFileError, match="grid") as info:
        evaluate_pair(truth, pred)
    assert info.value.path == str(pred)


def test_evaluate_pair_rejects_a_shifted_affine_but_tolerates_rounding(tmp_path, write, affine_mm):
    truth = write(tmp_path, _mask(), "lesion.nii.gz")
    shifted = affine_mm(SHAPE, SPACING)
    shifted[0, 3] += 0.5
    pred = write(tmp_path, _mask(), "pred.nii.gz", affine=shifted)
    with pytest.raises(InputFileError, match="affine differs") as info:
        evaluate_pair(truth, pred)
    assert info.value.path == str(pred)
    nearly = affine_mm(SHAPE, SPACING)
    nearly[:3, 3] += 1e-5
    close = write(tmp_path, _mask(), "close.nii.gz", affine=nearly)
    assert evaluate_pair(truth, close).dice == 1.0


def test_evaluate_pair_names_a_missing_file(tmp_path, write):
    truth = write(tmp_path, _mask(), "lesion.nii.gz")
    with pytest.raises(InputFileError, match="does not exist") as info:
        evaluate_pair(truth, tmp_path / "nope.nii.gz")
    assert info.value.path == str(tmp_path / "nope.nii.gz")


def test_evaluate_dataset_rows_and_means(tree):
    evaluation = evaluate_dataset(*tree)
    assert [(r.dataset, r.subject) for r in evaluation.rows] == [("alpha", "s1"), ("alpha", "s2"), ("beta", "s3")]
    dice = [r.scores.dice for r in evaluation.rows]
    assert dice == pytest.approx([1.0, 0.0, 0.75])
    assert evaluation.mean["dice"] == pytest.approx(1.75 / 3)
    # H95 is NaN for the empty prediction and left out of the mean: (0 + 3) / 2.
    assert math.isnan(evaluation.rows[1].scores.h95_mm)
    assert evaluation.mean["h95_mm"] == pytest.approx(1.5)
    by_dataset = evaluation.means_by_dataset()
    assert by_dataset["alpha"]["dice"] == pytest.approx(0.5)
    assert by_dataset["beta"]["dice"] == pytest.approx(0.75)


def test_evaluate_dataset_reports_progress(tree):
    lines = []
    evaluate_dataset(*tree, progress=lines.append)
    assert len(lines) == 3 and lines[0].startswith("alpha/s1")


def test_table_has_a_row_per_subject_and_a_mean(tree):
    table = evaluate_dataset(*tree).format_table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["dataset", "subject", "dice"]
    assert len(lines) == 1 + 3 + 2  # header, subjects, rule, mean
    assert lines[-1].split()[:3] == ["mean", "(n=3)", "0.583"]
    # Right-aligned metric columns: every dice value ends where the "dice" title ends.
    dice_end = lines[0].index("dice") + len("dice")
    assert all(line[dice_end - 5 : dice_end] in {"1.000", "0.000", "0.750", "0.583"} for line in lines[1:4] + lines[-1:])
    assert "nan" in lines[2]  # H95 of the empty prediction


def test_csv_round_trip(tree, tmp_path):
    evaluation = evaluate_dataset(*tree)
    out = evaluation.to_csv(tmp_path / "scores.csv")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["subject"] for r in rows] == ["s1", "s2", "s3"]
    assert float(rows[2]["dice"]) == pytest.approx(0.75)
    assert math.isnan(float(rows[1]["h95_mm"]))
    assert int(rows[0]["n_truth_lesions"]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".scores.csv")]  # no temp left


def test_missing_prediction_names_the_expected_path(tree):
    data, preds = tree
    (preds / "beta" / "s3" / "lesion_mask.nii.gz").unlink()
    with pytest.raises(InputFileError, match="prediction for beta/s3 is missing") as info:
        evaluate_dataset(data, preds)
    assert info.value.path == str(preds / "beta" / "s3" / "lesion_mask.nii.gz")


def test_empty_dataset_folder_is_an_error(tmp_path):
    (tmp_path / "data" / "alpha" / "s1").mkdir(parents=True)
    (tmp_path / "preds").mkdir()
    with pytest.raises(InputFileError, match="holds no") as info:
        evaluate_dataset(tmp_path / "data", tmp_path / "preds")
    assert info.value.path == str(tmp_path / "data")
    with pytest.raises(InputFileError, match="not a folder"):
        evaluate_dataset(tmp_path / "missing", tmp_path / "preds")


def test_mean_of_no_rows_is_nan():
    assert math.isnan(DatasetEvaluation(()).mean["dice"])


# Every lesion of the tree is 4 x 4 x 2 voxels of 45 uL: 1.44 mL, in the > 0.5 mL bin.
LARGE = SIZE_BIN_NAMES[2]


def test_size_bins_per_subject_and_pooled(tree):
    evaluation = evaluate_dataset(*tree)
    assert [r.size_bins[LARGE].n_truth_found for r in evaluation.rows] == [1, 0, 1]
    pooled = evaluation.pooled_size_bins()
    assert (pooled[LARGE].n_truth, pooled[LARGE].n_truth_found) == (3, 2)
    assert pooled[LARGE].precision == 1.0
    assert evaluation.pooled_size_bins("alpha")[LARGE].recall == pytest.approx(0.5)
    assert all(pooled[name].n_truth == 0 for name in SIZE_BIN_NAMES[:2])


def test_size_table_has_a_block_per_dataset_and_all(tree):
    lines = evaluate_dataset(*tree).format_size_table().splitlines()
    assert lines[0].split() == ["dataset", "lesion", "size", "n_true", "found", "recall", "n_pred", "real", "precision"]
    assert [line.split()[0] for line in lines[1:]] == 3 * ["alpha"] + 3 * ["beta"] + 3 * ["all"]
    assert lines[-1].split()[-6:] == ["3", "2", "0.667", "2", "2", "1.000"]


def test_evaluate_subject_matches_evaluate_pair(tmp_path, write):
    truth = write(tmp_path, _mask(), "lesion.nii.gz")
    pred = write(tmp_path, _mask(start=(5, 4, 3)), "pred.nii.gz")
    row = evaluate_subject(truth, pred, dataset="d", subject="s")
    assert row.scores == evaluate_pair(truth, pred)
    assert (row.dataset, row.subject, row.size_bins[LARGE].n_truth_found) == ("d", "s", 1)


def test_csv_has_the_size_bin_columns(tree, tmp_path):
    out = evaluate_dataset(*tree).to_csv(tmp_path / "scores.csv")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r[f"{LARGE}_recall"]) for r in rows] == [1.0, 0.0, 1.0]
    assert math.isnan(float(rows[0][f"{SIZE_BIN_NAMES[0]}_recall"]))  # no small lesion: nan
    assert math.isnan(float(rows[1][f"{LARGE}_precision"]))  # nothing predicted
    assert int(rows[2][f"{LARGE}_n_pred_real"]) == 1


def test_json_holds_subjects_means_and_pooled_bins(tree, tmp_path):
    out = evaluate_dataset(*tree).to_json(tmp_path / "scores.json")
    record = json.loads(out.read_text())  # strict JSON: NaN became null
    assert record["size_bin_edges_ml"] == [0.05, 0.5]
    assert [s["subject"] for s in record["subjects"]] == ["s1", "s2", "s3"]
    assert record["subjects"][1]["h95_mm"] is None
    assert record["mean"]["dice"] == pytest.approx(1.75 / 3)
    assert record["size_bins_pooled"][LARGE]["recall"] == pytest.approx(2 / 3)
    assert record["by_dataset"]["alpha"]["n_subjects"] == 2
    assert record["by_dataset"]["beta"]["size_bins_pooled"][LARGE]["n_truth_found"] == 1
    assert "NaN" not in out.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".scores.json")]  # no temp left


def test_json_into_a_missing_folder_is_an_output_error(tree, tmp_path):
    with pytest.raises(OutputError, match="folder does not exist"):
        evaluate_dataset(*tree).to_json(tmp_path / "nope" / "scores.json")
