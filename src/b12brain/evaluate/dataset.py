"""Scoring prediction files against manual masks: one pair, or a whole folder of subjects.

Folder layout (the one of ``../shared/data/lesions``)::

    DATASET_DIR/<dataset>/<subject>/lesion.nii.gz          manual mask (truth)
    PRED_DIR/<dataset>/<subject>/lesion_mask.nii.gz        prediction (b12brain run output)
    PRED_DIR/<dataset>/<subject>.nii.gz                    ...or this, also accepted
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from b12brain.errors import InputFileError, OutputError
from b12brain.evaluate.metrics import METRIC_NAMES, SegmentationScores, score_masks
from b12brain.evaluate.size_bins import (
    SIZE_BIN_EDGES_ML,
    SIZE_BIN_NAMES,
    SizeBinScores,
    pool_size_bins,
    score_size_bins,
)
from b12brain.io import load_volume
from b12brain.io.atomic import atomic_path
from b12brain.types import Volume

#: Largest distance (mm) between the two grids' corners still counted as "the same grid".
GRID_TOLERANCE_MM = 1e-3
TRUTH_NAME = "lesion.nii.gz"
PRED_NAME = "lesion_mask.nii.gz"


@dataclass(frozen=True)
class SubjectEvaluation:
    """One row of a dataset evaluation: the five metrics and the detection by lesion size."""

    dataset: str
    subject: str
    scores: SegmentationScores
    size_bins: SizeBinScores


@dataclass(frozen=True)
class DatasetEvaluation:
    """Per-subject scores and their means.

    Attributes
    ----------
    rows : tuple of SubjectEvaluation
        One per subject, sorted by dataset then subject.
    """

    rows: tuple[SubjectEvaluation, ...]

    @property
    def mean(self) -> dict[str, float]:
        """Mean of every metric over the subjects, ignoring NaN (NaN when all are NaN)."""
        return _nanmeans([r.scores for r in self.rows])

    def means_by_dataset(self) -> dict[str, dict[str, float]]:
        """Dataset name → mean of every metric over that dataset's subjects (NaN-aware)."""
        names = sorted({r.dataset for r in self.rows})
        return {n: _nanmeans([r.scores for r in self.rows if r.dataset == n]) for n in names}

    def pooled_size_bins(self, dataset: str | None = None) -> SizeBinScores:
        """Detection by lesion size with the lesions of all subjects pooled (of one dataset
        when ``dataset`` is given)."""
        return pool_size_bins(r.size_bins for r in self.rows if dataset is None or r.dataset == dataset)

    def to_csv(self, path: Path | str) -> Path:
        """Write one line per subject (no mean line) atomically; NaN is written as ``nan``.

        After the metrics come, for each size bin ``B`` of :data:`SIZE_BIN_NAMES`, the columns
        ``B_n_truth``, ``B_n_truth_found``, ``B_recall``, ``B_n_pred``, ``B_n_pred_real`` and
        ``B_precision``.

        Raises
        ------
        OutputError
            The folder does not exist or cannot be written.
        """
        path = Path(path)
        bin_fields = [f"{b}_{f}" for b in SIZE_BIN_NAMES for f in _BIN_FIELDS]
        with _atomic_text(path, "CSV") as handle:
            writer = csv.writer(handle)
            writer.writerow(["dataset", "subject", *METRIC_NAMES, *bin_fields])
            for row in self.rows:
                values = row.scores.as_dict()
                bins = [_csv_value(_nan_if_none(b.as_dict()[f])) for b in row.size_bins.bins for f in _BIN_FIELDS]
                writer.writerow([row.dataset, row.subject, *(_csv_value(values[m]) for m in METRIC_NAMES), *bins])
        return path

    def to_json(self, path: Path | str) -> Path:
        """Write every subject's scores, the means and the pooled size bins (overall and per
        dataset) as JSON, atomically; NaN is written as ``null``.

        Raises
        ------
        OutputError
            The folder does not exist or cannot be written.
        """
        path = Path(path)
        datasets = sorted({r.dataset for r in self.rows})
        means = self.means_by_dataset()
        record = {
            "metrics": "MICCAI WMH 2017 (Kuijf et al., IEEE TMI 2019); lesions are 26-connected components",
            "size_bin_edges_ml": list(SIZE_BIN_EDGES_ML),
            "subjects": [
                {"dataset": r.dataset, "subject": r.subject, **_json_values(r.scores.as_dict()), "size_bins": r.size_bins.as_dict()}
                for r in self.rows
            ],
            "mean": _json_values(self.mean),
            "size_bins_pooled": self.pooled_size_bins().as_dict(),
            "by_dataset": {
                name: {
                    "n_subjects": sum(1 for r in self.rows if r.dataset == name),
                    "mean": _json_values(means[name]),
                    "size_bins_pooled": self.pooled_size_bins(name).as_dict(),
                }
                for name in datasets
            },
        }
        with _atomic_text(path, "JSON") as handle:
            handle.write(json.dumps(record, indent=2) + "\n")
        return path

    def format_size_table(self) -> str:
        """Aligned text table of lesion-wise detection by lesion size, lesions pooled over the
        subjects: one block per dataset when there are several, then all subjects."""
        datasets = sorted({r.dataset for r in self.rows})
        groups = [(name, self.pooled_size_bins(name)) for name in datasets] if len(datasets) > 1 else []
        groups.append(("all" if len(datasets) > 1 else (datasets[0] if datasets else "all"), self.pooled_size_bins()))
        header = ["dataset", "lesion size", "n_true", "found", "recall", "n_pred", "real", "precision"]
        lines = [
            [name, b.label, str(b.n_truth), str(b.n_truth_found), _fmt(b.recall), str(b.n_pred), str(b.n_pred_real), _fmt(b.precision)]
            for name, pooled in groups
            for b in pooled.bins
        ]
        widths = [max(len(x) for x in col) for col in zip(header, *lines, strict=True)]
        return "\n".join(
            "  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
            for cells in [header, *lines]
        )

    def format_table(self) -> str:
        """Aligned text table: one line per subject, then a ``mean`` line."""
        header = ["dataset", "subject", *_COLUMNS.values()]
        lines = [[r.dataset, r.subject, *(_fmt(r.scores.as_dict()[m]) for m in _COLUMNS)] for r in self.rows]
        mean = self.mean
        lines.append(["mean", f"(n={len(self.rows)})", *(_fmt(mean[m]) for m in _COLUMNS)])
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
        out = []
        for i, cells in enumerate([header, *lines]):
            text = [c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))]
            if i == len(lines):  # a rule above the mean line
                out.append("  ".join("-" * w for w in widths))
            out.append("  ".join(text).rstrip())
        return "\n".join(out)


#: Metric → short column title used by :meth:`DatasetEvaluation.format_table`.
_COLUMNS = {
    "dice": "dice",
    "h95_mm": "h95_mm",
    "avd_percent": "avd_%",
    "lesion_recall": "recall",
    "lesion_precision": "precision",
    "lesion_f1": "f1",
    "truth_ml": "truth_ml",
    "pred_ml": "pred_ml",
    "n_truth_lesions": "n_true",
    "n_pred_lesions": "n_pred",
}


def evaluate_pair(truth_path: Path | str, pred_path: Path | str) -> SegmentationScores:
    """Score one prediction file against one manual mask file.

    Parameters
    ----------
    truth_path, pred_path : path-like
        NIfTI masks on the same grid; voxels > 0.5 are lesion. An all-zero mask is accepted.

    Raises
    ------
    InputFileError
        A file is missing or unreadable, or the prediction's grid (shape or affine, beyond
        :data:`GRID_TOLERANCE_MM`) differs from the truth's; the message names the file.
    """
    truth, pred, affine = _load_pair(truth_path, pred_path)
    return score_masks(truth, pred, affine)


def evaluate_subject(
    truth_path: Path | str, pred_path: Path | str, *, dataset: str = "-", subject: str | None = None
) -> SubjectEvaluation:
    """:func:`evaluate_pair` plus the lesion-wise detection by lesion size
    (:func:`~b12brain.evaluate.size_bins.score_size_bins`), as one row.

    ``subject`` defaults to ``pred_path``. Raises as :func:`evaluate_pair` does.
    """
    truth, pred, affine = _load_pair(truth_path, pred_path)
    name = str(pred_path) if subject is None else subject
    return SubjectEvaluation(dataset, name, score_masks(truth, pred, affine), score_size_bins(truth, pred, affine))


def _load_pair(
    truth_path: Path | str, pred_path: Path | str
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """The two masks (voxels > 0.5) and the truth's affine, once the grids are checked to agree."""
    truth = _load_mask(truth_path)
    pred = _load_mask(pred_path)
    if truth.shape != pred.shape:
        raise InputFileError(
            pred_path,
            f"grid {truth.shape} of the truth {truth_path} differs from this prediction's {pred.shape}; "
            "write the prediction on the truth's grid",
        )
    gap_mm = _grid_gap_mm(truth.affine, pred.affine, truth.shape)
    if gap_mm > GRID_TOLERANCE_MM:
        raise InputFileError(
            pred_path,
            f"affine differs from the truth {truth_path} by up to {gap_mm:.3g} mm; "
            "write the prediction on the truth's grid",
        )
    return truth.data > 0.5, pred.data > 0.5, truth.affine


def evaluate_dataset(
    dataset_dir: Path | str,
    pred_dir: Path | str,
    *,
    progress: Callable[[str], None] | None = None,
) -> DatasetEvaluation:
    """Score every subject of ``dataset_dir`` against its prediction in ``pred_dir``.

    Parameters
    ----------
    dataset_dir : path-like
        Holds ``<dataset>/<subject>/lesion.nii.gz``; subject folders without that file are
        skipped.
    pred_dir : path-like
        Holds ``<dataset>/<subject>/lesion_mask.nii.gz`` or ``<dataset>/<subject>.nii.gz``.
    progress : callable, optional
        Called with one line per subject.

    Raises
    ------
    InputFileError
        A folder is missing, ``dataset_dir`` holds no subject, a prediction is missing (the
        message names the expected path) or is on another grid.
    """
    dataset_dir, pred_dir = Path(dataset_dir), Path(pred_dir)
    for folder in (dataset_dir, pred_dir):
        if not folder.is_dir():
            raise InputFileError(folder, "is not a folder; give the folder that holds <dataset>/<subject>/")
    subjects = find_subjects(dataset_dir)
    if not subjects:
        raise InputFileError(
            dataset_dir, f"holds no <dataset>/<subject>/{TRUTH_NAME}; give the folder above the dataset folders"
        )
    rows = []
    for dataset, subject, folder in subjects:
        pred_path = _find_prediction(pred_dir, dataset, subject)
        row = evaluate_subject(folder / TRUTH_NAME, pred_path, dataset=dataset, subject=subject)
        if progress is not None:
            progress(f"{dataset}/{subject}: dice {row.scores.dice:.3f}")
        rows.append(row)
    return DatasetEvaluation(tuple(rows))


def find_subjects(dataset_dir: Path | str) -> list[tuple[str, str, Path]]:
    """``(dataset, subject, folder)`` of every ``<dataset>/<subject>/`` folder under
    ``dataset_dir`` that holds a ``lesion.nii.gz``, in sorted order."""
    found = []
    for dataset in sorted(p for p in Path(dataset_dir).iterdir() if p.is_dir()):
        for subject in sorted(p for p in dataset.iterdir() if p.is_dir()):
            if (subject / TRUTH_NAME).is_file():
                found.append((dataset.name, subject.name, subject))
    return found


def _find_prediction(pred_dir: Path, dataset: str, subject: str) -> Path:
    expected = pred_dir / dataset / subject / PRED_NAME
    for candidate in (expected, pred_dir / dataset / f"{subject}.nii.gz"):
        if candidate.is_file():
            return candidate
    raise InputFileError(
        expected, f"prediction for {dataset}/{subject} is missing (also looked for {dataset}/{subject}.nii.gz)"
    )


def _load_mask(path: Path | str) -> Volume:
    """Load a mask; an all-zero mask is a valid answer ("no lesion")."""
    return load_volume(path, allow_constant=True)


def _grid_gap_mm(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], shape: tuple[int, int, int]) -> float:
    """Largest world distance (mm) between the two affines' images of the grid corners."""
    corners = np.array([[i, j, k, 1.0] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)])
    return float(np.linalg.norm(corners @ (a - b).T, axis=1).max())


def _nanmeans(scores: list[SegmentationScores]) -> dict[str, float]:
    out = {}
    for name in METRIC_NAMES:
        values = np.array([getattr(s, name) for s in scores], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column → NaN, silently
            out[name] = float(np.nanmean(values)) if values.size else float("nan")
    return out


#: Per-bin fields written by :meth:`DatasetEvaluation.to_csv` (keys of ``SizeBin.as_dict``).
_BIN_FIELDS = ("n_truth", "n_truth_found", "recall", "n_pred", "n_pred_real", "precision")


@contextmanager
def _atomic_text(path: Path, kind: str) -> Iterator[TextIO]:
    """A text handle on a temp file that replaces ``path`` once closed without error."""
    if not path.parent.is_dir():
        raise OutputError(path.parent, f"folder does not exist; create it or choose another {kind} path")
    try:
        with atomic_path(path, suffix=".tmp") as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
            yield handle
    except OSError as err:
        raise OutputError(path.parent, f"cannot write here ({err.strerror}); choose another {kind} path") from err


def _json_values(values: dict[str, float] | dict[str, float | int]) -> dict[str, float | int | None]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


def _nan_if_none(value: float | int | None) -> float | int:
    return float("nan") if value is None else value


def _csv_value(value: float | int) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def _fmt(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
