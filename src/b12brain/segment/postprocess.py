"""Post-processing shared by every segmenter: probability to lesion mask, small lesions dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26
from b12brain.segment.edges import brain_tissue_ceiling, refine_lesion_edges
from b12brain.types import BoolArray, FloatArray, Volume

if TYPE_CHECKING:  # the anatomy stage (and SimpleITK) is not needed to import segmenters
    from b12brain.anatomy.localise import Anatomy


def lesion_mask_from_probability(
    probability: FloatArray, threshold: float, voxel_volume_ml: float, *, min_lesion_ml: float
) -> BoolArray:
    """Threshold a probability map and drop 26-connected lesions smaller than ``min_lesion_ml``.

    Examples
    --------
    >>> p = np.zeros((10, 10, 10), np.float32); p[2:5, 2:5, 2:5] = 0.9; p[8, 8, 8] = 0.9
    >>> int(lesion_mask_from_probability(p, 0.5, 0.001, min_lesion_ml=0.005).sum())
    27
    """
    return drop_small_lesions(probability >= threshold, voxel_volume_ml, min_lesion_ml=min_lesion_ml)


def drop_small_lesions(mask: BoolArray, voxel_volume_ml: float, *, min_lesion_ml: float) -> BoolArray:
    """``mask`` without its 26-connected lesions smaller than ``min_lesion_ml``."""
    labels, n = ndi.label(mask, structure=CONNECTIVITY_26)
    if n == 0:
        return np.asarray(mask, bool)
    sizes = np.bincount(labels.ravel()) * voxel_volume_ml
    keep = sizes >= min_lesion_ml
    keep[0] = False
    return keep[labels]


def found_lesion_mask(
    probability: FloatArray,
    flair: Volume,
    anatomy: Anatomy,
    *,
    threshold: float,
    min_lesion_ml: float,
    refine_edges: bool,
) -> BoolArray:
    """The lesions :func:`b12brain.pipeline.run_pipeline` finds in a probability map (caps and
    lining not yet set apart): ``probability >= threshold``, small lesions dropped, and with
    ``refine_edges`` each edge put at the FLAIR half-maximum of the bias-corrected ``flair``
    (:func:`~b12brain.segment.edges.refine_lesion_edges`), small lesions dropped again.
    """
    mask = lesion_mask_from_probability(probability, threshold, flair.voxel_volume_ml, min_lesion_ml=min_lesion_ml)
    if not refine_edges:
        return mask
    levels = anatomy.levels
    mask = refine_lesion_edges(
        mask,
        flair.data,
        anatomy.parenchyma,
        flair.spacing_mm,
        ceiling=brain_tissue_ceiling(levels.wm, levels.wm_sd, levels.gm),
    )
    return drop_small_lesions(mask, flair.voxel_volume_ml, min_lesion_ml=min_lesion_ml)
