"""Lesion-wise detection by lesion size: how many true lesions of each size were found, and how
many predicted lesions of each size are real.

Lesions are the 26-connected components of each mask, as for the lesion recall and F1 of
:func:`~b12brain.evaluate.score_masks`, and a lesion counts as found (or as real) when it
touches the other mask. Each lesion goes to the bin of its own volume on the mask's grid:

==============  ==========================
bin             lesion volume ``v`` (mL)
==============  ==========================
``< 0.05 mL``   ``v < 0.05`` (a few voxels on one or two thick slices, a 3 mm focus at 1 mm)
``0.05-0.5``    ``0.05 ≤ v ≤ 0.5``
``> 0.5 mL``    ``v > 0.5``
==============  ==========================

Recall in a bin is found ÷ true lesions of that size (NaN without true lesions there);
precision is real ÷ predicted lesions of that size (NaN without predicted lesions there).
Over a dataset the counts are pooled (summed over subjects) before dividing, so a subject with
one small lesion weighs as much as one lesion, not as much as a whole subject.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from b12brain.geometry import CONNECTIVITY_26, voxel_volume_ml

#: The two edges (mL) between the three size bins.
SIZE_BIN_EDGES_ML: tuple[float, float] = (0.05, 0.5)
#: Machine names of the bins (CSV column prefixes, JSON keys), smallest first.
SIZE_BIN_NAMES: tuple[str, str, str] = ("under_0.05_ml", "0.05_to_0.5_ml", "over_0.5_ml")
#: Printed names of the bins, smallest first.
SIZE_BIN_LABELS: tuple[str, str, str] = ("< 0.05 mL", "0.05-0.5 mL", "> 0.5 mL")
#: Relative slack on the edges, so that 50 voxels of 1 mm³ are 0.05 mL whatever the rounding
#: of the affine's determinant.
_EDGE_SLACK = 1e-9


@dataclass(frozen=True)
class SizeBin:
    """Lesion-wise counts of one size bin.

    Attributes
    ----------
    name : str
        One of :data:`SIZE_BIN_NAMES`.
    n_truth, n_truth_found : int
        True lesions of this size, and how many of them the prediction touches.
    n_pred, n_pred_real : int
        Predicted lesions of this size, and how many of them touch the truth.
    """

    name: str
    n_truth: int
    n_truth_found: int
    n_pred: int
    n_pred_real: int

    @property
    def label(self) -> str:
        """Printed name of the bin (``"< 0.05 mL"``...)."""
        return SIZE_BIN_LABELS[SIZE_BIN_NAMES.index(self.name)]

    @property
    def recall(self) -> float:
        """Found ÷ true lesions of this size; NaN when there is none."""
        return self.n_truth_found / self.n_truth if self.n_truth else float("nan")

    @property
    def precision(self) -> float:
        """Real ÷ predicted lesions of this size; NaN when there is none."""
        return self.n_pred_real / self.n_pred if self.n_pred else float("nan")

    def as_dict(self) -> dict[str, int | float | None]:
        """Counts, recall and precision (None for NaN, as JSON has no NaN)."""
        return {
            "n_truth": self.n_truth,
            "n_truth_found": self.n_truth_found,
            "recall": _none_if_nan(self.recall),
            "n_pred": self.n_pred,
            "n_pred_real": self.n_pred_real,
            "precision": _none_if_nan(self.precision),
        }


@dataclass(frozen=True)
class SizeBinScores:
    """Lesion-wise detection in the three size bins of :data:`SIZE_BIN_NAMES`, smallest first."""

    bins: tuple[SizeBin, SizeBin, SizeBin]

    def __getitem__(self, name: str) -> SizeBin:
        return self.bins[SIZE_BIN_NAMES.index(name)]

    def as_dict(self) -> dict[str, dict[str, int | float | None]]:
        """Bin name → :meth:`SizeBin.as_dict`."""
        return {b.name: b.as_dict() for b in self.bins}


def pool_size_bins(scores: Iterable[SizeBinScores]) -> SizeBinScores:
    """Counts summed over subjects (recall and precision are then of the pooled lesions).

    Examples
    --------
    >>> one = SizeBinScores(tuple(SizeBin(n, 2, 1, 1, 1) for n in SIZE_BIN_NAMES))
    >>> pooled = pool_size_bins([one, one])
    >>> pooled["under_0.05_ml"].n_truth, pooled["under_0.05_ml"].recall
    (4, 0.5)
    """
    totals = np.zeros((len(SIZE_BIN_NAMES), 4), dtype=np.int64)
    for s in scores:
        totals += [[b.n_truth, b.n_truth_found, b.n_pred, b.n_pred_real] for b in s.bins]
    bins = tuple(SizeBin(name, *(int(v) for v in row)) for name, row in zip(SIZE_BIN_NAMES, totals, strict=True))
    return SizeBinScores(bins)  # type: ignore[arg-type]


def score_size_bins(
    truth: npt.NDArray[Any],
    pred: npt.NDArray[Any],
    affine: npt.NDArray[np.float64],
) -> SizeBinScores:
    """Lesion-wise recall and precision by lesion size (bins of :data:`SIZE_BIN_EDGES_ML`).

    Parameters
    ----------
    truth, pred : (X, Y, Z) ndarray of bool
        Binary masks on the same grid (nonzero = lesion).
    affine : (4, 4) ndarray of float
        Voxel index → world mm of that grid (gives each voxel's volume).

    Returns
    -------
    SizeBinScores

    Raises
    ------
    ValueError
        The masks are not 3D or differ in shape.

    Examples
    --------
    >>> t = np.zeros((20, 20, 20), bool); t[1:3, 1:3, 1:3] = True; t[10:16, 10:16, 10:16] = True
    >>> p = np.zeros_like(t); p[12:14, 12:14, 12:14] = True
    >>> s = score_size_bins(t, p, np.eye(4))
    >>> s["under_0.05_ml"].recall, s["0.05_to_0.5_ml"].recall, s["under_0.05_ml"].precision
    (0.0, 1.0, 1.0)
    """
    truth = np.asarray(truth) != 0
    pred = np.asarray(pred) != 0
    if truth.ndim != 3 or truth.shape != pred.shape:
        raise ValueError(f"masks must be 3D of one shape, not {truth.shape} and {pred.shape}")
    voxel_ml = voxel_volume_ml(np.asarray(affine, dtype=np.float64))
    overlap = truth & pred
    t_bin, t_hit = _bin_and_hit(truth, overlap, voxel_ml)
    p_bin, p_hit = _bin_and_hit(pred, overlap, voxel_ml)
    bins = tuple(
        SizeBin(
            name,
            n_truth=int(np.count_nonzero(t_bin == i)),
            n_truth_found=int(np.count_nonzero(t_hit & (t_bin == i))),
            n_pred=int(np.count_nonzero(p_bin == i)),
            n_pred_real=int(np.count_nonzero(p_hit & (p_bin == i))),
        )
        for i, name in enumerate(SIZE_BIN_NAMES)
    )
    return SizeBinScores(bins)  # type: ignore[arg-type]


def _bin_and_hit(
    mask: npt.NDArray[np.bool_], overlap: npt.NDArray[np.bool_], voxel_ml: float
) -> tuple[npt.NDArray[np.int_], npt.NDArray[np.bool_]]:
    """Size bin (0, 1, 2) of every 26-connected lesion of ``mask``, and whether it meets ``overlap``."""
    labels, n = ndimage.label(mask, structure=CONNECTIVITY_26)
    volume_ml = np.bincount(labels.ravel(), minlength=n + 1)[1:] * voxel_ml
    low, high = SIZE_BIN_EDGES_ML
    size_bin = (volume_ml >= low * (1 - _EDGE_SLACK)).astype(int) + (volume_ml > high * (1 + _EDGE_SLACK))
    hit = np.zeros(n + 1, dtype=bool)
    hit[labels[overlap]] = True
    return size_bin, hit[1:]


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value
