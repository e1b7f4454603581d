"""Lesion segmentation scoring: the MICCAI WMH 2017 metrics (Dice, H95, AVD, lesion recall
and F1) and lesion-wise detection by lesion size, for one mask pair or a folder of subjects."""

from b12brain.evaluate.dataset import (
    DatasetEvaluation,
    SubjectEvaluation,
    evaluate_dataset,
    evaluate_pair,
    evaluate_subject,
)
from b12brain.evaluate.metrics import METRIC_NAMES, SegmentationScores, score_masks
from b12brain.evaluate.size_bins import (
    SIZE_BIN_EDGES_ML,
    SIZE_BIN_NAMES,
    SizeBin,
    SizeBinScores,
    pool_size_bins,
    score_size_bins,
)

__all__ = [
    "METRIC_NAMES",
    "SIZE_BIN_EDGES_ML",
    "SIZE_BIN_NAMES",
    "DatasetEvaluation",
    "SegmentationScores",
    "SizeBin",
    "SizeBinScores",
    "SubjectEvaluation",
    "evaluate_dataset",
    "evaluate_pair",
    "evaluate_subject",
    "pool_size_bins",
    "score_masks",
    "score_size_bins",
]
