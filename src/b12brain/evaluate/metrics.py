"""The five MICCAI WMH 2017 segmentation metrics (Kuijf et al., IEEE TMI 2019).

Definitions follow ``/work/shared/METRICS.md``:

=================  ===========================================================================
metric             definition
=================  ===========================================================================
Dice               ``2·|T∩P| / (|T|+|P|)`` on binary masks
H95 (mm)           boundary = mask minus its in-plane (3×3×1) erosion; world-mm distances
                   between the two boundaries' voxel centres, nearest neighbour both ways;
                   the larger of the two 95th percentiles
AVD (%)            ``|V_T − V_P| / V_T × 100``
lesion recall      lesions = 26-connected components; true lesions touched by P ÷ true lesions
lesion precision   predicted lesions touching T ÷ predicted lesions
lesion F1          ``2·precision·recall / (precision + recall)``
=================  ===========================================================================

Empty masks (documented conventions, T = truth, P = prediction):

=====================  ======  =====  =====  ======  =========  =====
case                   Dice    H95    AVD    recall  precision  F1
=====================  ======  =====  =====  ======  =========  =====
T empty, P empty       1       NaN    NaN    1       1          1
T empty, P non-empty   0       NaN    NaN    NaN     0          0
T non-empty, P empty   0       NaN    100    0       NaN        0
=====================  ======  =====  =====  ======  =========  =====

"Both empty" counts as perfect agreement where the metric compares the masks as sets (Dice,
lesion detection); H95 is a distance between boundaries and is undefined when one is
missing; AVD divides by the true volume. NaN values are left out of dataset means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from b12brain.geometry import CONNECTIVITY_26, voxel_volume_ml


@dataclass(frozen=True)
class SegmentationScores:
    """Agreement of one predicted lesion mask with one manual (truth) mask.

    Attributes
    ----------
    dice : float
        Dice overlap, 0..1 (1 when both masks are empty).
    h95_mm : float
        95th-percentile Hausdorff distance in mm; NaN when either mask is empty.
    avd_percent : float
        Absolute volume difference as % of the true volume; NaN when the truth is empty.
    lesion_recall : float
        Fraction of true lesions touched by the prediction, 0..1 (NaN when the truth has no
        lesion but the prediction has; 1 when both are empty).
    lesion_precision : float
        Fraction of predicted lesions touching the truth, 0..1 (NaN when the prediction is
        empty but the truth is not; 1 when both are empty).
    lesion_f1 : float
        Harmonic mean of lesion precision and recall, 0..1 (0 when either is 0).
    truth_ml, pred_ml : float
        Mask volumes in mL.
    n_truth_lesions, n_pred_lesions : int
        Number of 26-connected components in each mask.
    """

    dice: float
    h95_mm: float
    avd_percent: float
    lesion_recall: float
    lesion_precision: float
    lesion_f1: float
    truth_ml: float
    pred_ml: float
    n_truth_lesions: int
    n_pred_lesions: int

    def as_dict(self) -> dict[str, float | int]:
        """Field name → value, in declaration order."""
        return asdict(self)


#: Metric names in reporting order (the fields of :class:`SegmentationScores`).
METRIC_NAMES: tuple[str, ...] = tuple(SegmentationScores.__dataclass_fields__)


def score_masks(
    truth: npt.NDArray[Any],
    pred: npt.NDArray[Any],
    affine: npt.NDArray[np.float64],
) -> SegmentationScores:
    """Score a predicted lesion mask against a manual one (MICCAI WMH 2017 metrics).

    Parameters
    ----------
    truth, pred : (X, Y, Z) ndarray of bool
        Binary masks on the same grid (nonzero = lesion). The third array axis is the slice
        axis: the H95 boundary erosion is 3×3 in the plane of axes 0 and 1, as in the
        challenge's ``BinaryErode(image, (1, 1, 0))``.
    affine : (4, 4) ndarray of float
        Voxel index → world mm of that grid; distances and volumes use it, so anisotropic and
        oblique grids are measured correctly.

    Returns
    -------
    SegmentationScores
        See the module docstring for the empty-mask conventions.

    Raises
    ------
    ValueError
        The masks are not 3D, differ in shape, or the affine is not 4×4.

    Notes
    -----
    Voxels on the outer face of the image count as boundary (erosion treats outside the
    image as background). Work is restricted to the bounding box of ``truth | pred``, so a
    182×218×182 pair scores in well under a second.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((10, 10, 10), bool); t[2:6, 2:6, 2:6] = True
    >>> p = np.zeros_like(t); p[3:7, 2:6, 2:6] = True
    >>> round(score_masks(t, p, np.eye(4)).dice, 3)
    0.75
    """
    truth = np.asarray(np.asarray(truth) != 0, dtype=bool)
    pred = np.asarray(np.asarray(pred) != 0, dtype=bool)
    affine = np.asarray(affine, dtype=np.float64)
    if truth.ndim != 3 or pred.ndim != 3:
        raise ValueError(f"masks must be 3D, not {truth.ndim}D and {pred.ndim}D")
    if truth.shape != pred.shape:
        raise ValueError(f"mask shapes differ: truth {truth.shape}, prediction {pred.shape}")
    if affine.shape != (4, 4):
        raise ValueError(f"affine must be (4, 4), not {affine.shape}")

    voxel_ml = voxel_volume_ml(affine)
    box = _bounding_box(truth | pred)
    if box is None:  # both empty
        return SegmentationScores(1.0, float("nan"), float("nan"), 1.0, 1.0, 1.0, 0.0, 0.0, 0, 0)
    offset = np.array([s.start for s in box])
    t, p = truth[box], pred[box]

    n_t, n_p = int(t.sum()), int(p.sum())
    dice = 2.0 * int(np.count_nonzero(t & p)) / (n_t + n_p)
    avd = abs(n_t - n_p) / n_t * 100.0 if n_t else float("nan")
    h95 = _h95_mm(t, p, affine, offset) if n_t and n_p else float("nan")
    recall, precision, f1, n_tl, n_pl = _lesion_detection(t, p)
    return SegmentationScores(
        dice=dice,
        h95_mm=h95,
        avd_percent=avd,
        lesion_recall=recall,
        lesion_precision=precision,
        lesion_f1=f1,
        truth_ml=n_t * voxel_ml,
        pred_ml=n_p * voxel_ml,
        n_truth_lesions=n_tl,
        n_pred_lesions=n_pl,
    )


def _bounding_box(mask: npt.NDArray[np.bool_]) -> tuple[slice, slice, slice] | None:
    """Smallest box around ``mask`` grown by one voxel (clipped to the image), or None."""
    if not mask.any():
        return None
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        # One voxel of margin keeps the erosion at the box edge identical to the full image.
        box.append(slice(max(int(idx[0]) - 1, 0), min(int(idx[-1]) + 2, mask.shape[axis])))
    return (box[0], box[1], box[2])


def _boundary_world_mm(
    mask: npt.NDArray[np.bool_], affine: npt.NDArray[np.float64], offset: npt.NDArray[np.int_]
) -> npt.NDArray[np.float64]:
    """World coordinates (N, 3) in mm of the mask voxels removed by a 3×3×1 erosion."""
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[:, :, 1] = True
    eroded = ndimage.binary_erosion(mask, structure=in_plane, border_value=0)
    ijk = np.argwhere(mask & ~eroded) + offset
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def _h95_mm(
    truth: npt.NDArray[np.bool_],
    pred: npt.NDArray[np.bool_],
    affine: npt.NDArray[np.float64],
    offset: npt.NDArray[np.int_],
) -> float:
    a = _boundary_world_mm(truth, affine, offset)
    b = _boundary_world_mm(pred, affine, offset)
    d_ab = cKDTree(b).query(a, k=1)[0]
    d_ba = cKDTree(a).query(b, k=1)[0]
    return float(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)))


def _lesion_detection(
    truth: npt.NDArray[np.bool_], pred: npt.NDArray[np.bool_]
) -> tuple[float, float, float, int, int]:
    """(recall, precision, F1, n true lesions, n predicted lesions) with 26-connectivity."""
    t_labels, n_t = ndimage.label(truth, structure=CONNECTIVITY_26)
    p_labels, n_p = ndimage.label(pred, structure=CONNECTIVITY_26)
    overlap = truth & pred
    hit_t = np.unique(t_labels[overlap]).size  # labels are > 0 inside the overlap
    hit_p = np.unique(p_labels[overlap]).size
    if n_t == 0 and n_p == 0:
        return 1.0, 1.0, 1.0, 0, 0
    recall = hit_t / n_t if n_t else float("nan")
    precision = hit_p / n_p if n_p else float("nan")
    if n_t == 0 or n_p == 0 or hit_t == 0:
        # Nothing found, or everything predicted is false: F1 is 0 whichever side is 0/0.
        f1 = 0.0
    else:
        f1 = 2.0 * precision * recall / (precision + recall)
    return float(recall), float(precision), float(f1), int(n_t), int(n_p)
