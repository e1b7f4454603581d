"""The segmenter interface a learned model plugs into, and the shared post-processing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy import ndimage as ndi

from b12brain.errors import ConfigError
from b12brain.types import BoolArray, FloatArray, Volume

if TYPE_CHECKING:  # the anatomy stage (and SimpleITK) is not needed to import segmenters
    from b12brain.anatomy.localise import Anatomy

#: 26-connectivity, the lesion definition of the WMH challenge (METRICS.md).
CONNECTIVITY_26 = np.ones((3, 3, 3), bool)


class Segmenter(Protocol):
    """Turns a preprocessed scan and its anatomy into a lesion probability map.

    Implementations receive the bias-corrected FLAIR on its closest-canonical grid, the
    anatomy found for it, and the T1 registered to that grid (or None).
    """

    @property
    def name(self) -> str:
        """Name under which the segmenter is registered."""
        ...

    @property
    def threshold(self) -> float:
        """Probability at or above which a voxel is called lesion."""
        ...

    @property
    def min_lesion_ml(self) -> float:
        """Lesions smaller than this (mL) are dropped unless the pipeline is told otherwise."""
        ...

    @property
    def provenance(self) -> dict[str, str]:
        """What identifies the segmenter's weights (recorded in ``summary.json``); empty when
        it has none."""
        ...

    def predict(self, flair: Volume, anatomy: Anatomy, t1: Volume | None) -> FloatArray:
        """Return the lesion probability (0..1) of every voxel of ``flair``."""
        ...


def _classical(model: Path | str | None = None) -> Segmenter:
    from b12brain.segment.classical import ClassicalSegmenter

    if model is not None:
        raise ConfigError(f"{model}: the classical segmenter takes no model file; use --segmenter learned")
    return ClassicalSegmenter()


def _learned(model: Path | str | None = None) -> Segmenter:
    from b12brain.segment.learned import LearnedSegmenter

    return LearnedSegmenter.from_file(model)


#: Segmenters by name; ``b12brain run --segmenter NAME``. Each factory takes an optional model
#: file (None: the segmenter's default).
SEGMENTERS: dict[str, Callable[[Path | str | None], Segmenter]] = {"classical": _classical, "learned": _learned}


def get_segmenter(name: str, *, model: Path | str | None = None) -> Segmenter:
    """Build the segmenter called ``name``, with the weights in ``model`` if given.

    Raises
    ------
    ConfigError
        No segmenter has that name, or it takes no model file.
    ModelError
        The learned segmenter's weights are missing, corrupt or of the wrong shape.
    """
    try:
        factory = SEGMENTERS[name]
    except KeyError:
        raise ConfigError(f"segmenter {name!r} is unknown; choose one of {', '.join(sorted(SEGMENTERS))}") from None
    return factory(model)


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
