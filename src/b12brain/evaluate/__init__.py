"""Lesion segmentation scoring: the MICCAI WMH 2017 metrics (Dice, H95, AVD, lesion recall
and F1), for one mask pair or a folder of subjects."""

from b12brain.evaluate.dataset import (
    DatasetEvaluation,
    SubjectEvaluation,
    evaluate_dataset,
    evaluate_pair,
)
from b12brain.evaluate.metrics import METRIC_NAMES, SegmentationScores, score_masks

__all__ = [
    "METRIC_NAMES",
    "DatasetEvaluation",
    "SegmentationScores",
    "SubjectEvaluation",
    "evaluate_dataset",
    "evaluate_pair",
    "score_masks",
]
