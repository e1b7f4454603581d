"""The learned segmenter's input and output grids: one contract for training and inference.

The model is a 2.5D network on axial slices. A scan on its closest-canonical (RAS) grid is

1. normalised: divided by the median FLAIR intensity of the brain mask (white matter
   dominates it, so lesions read as ~1.2-2 and CSF as ~0.2-0.5), clipped to [0, CLIP];
2. resampled in-plane to ``IN_PLANE_MM`` (linear), keeping the slices as acquired: thick
   clinical slices stay thick, and the network sees each acquired slice as it is;
3. cut into stacks of ``2 * CONTEXT + 1`` neighbouring slices (edge slices repeated), padded
   in-plane to a multiple of ``DIVISOR`` for the U-Net's pooling.

The model returns one logit map per stack (its centre slice); :func:`from_model_grid`
takes the probabilities back to the canonical grid. Training (``b12brain.train``) builds its
inputs with the same functions, so nothing here may change without retraining.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.types import BoolArray, FloatArray

IN_PLANE_MM = 1.0
CONTEXT = 1
CHANNELS = 2 * CONTEXT + 1
DIVISOR = 16
CLIP = 4.0


@dataclass(frozen=True)
class ModelGrid:
    """How a canonical volume maps to the model's slices (to undo it afterwards)."""

    shape: tuple[int, int, int]  # canonical (X, Y, Z)
    resampled: tuple[int, int]  # in-plane size after resampling
    padded: tuple[int, int]  # in-plane size after padding
    pad_before: tuple[int, int]


def normalise_flair(data: npt.NDArray[np.floating], brain: BoolArray) -> FloatArray:
    """FLAIR divided by its median within ``brain``, clipped to [0, CLIP] (float32).

    Examples
    --------
    >>> data = np.full((4, 4, 2), 500.0); brain = np.ones((4, 4, 2), bool)
    >>> float(normalise_flair(data, brain).max())
    1.0
    """
    inside = data[brain]
    scale = float(np.median(inside)) if inside.size else 0.0
    if not np.isfinite(scale) or scale <= 0:
        scale = float(np.percentile(data, 99)) or 1.0
    return np.clip(data / np.float32(scale), 0.0, CLIP).astype(np.float32)


def to_model_grid(normalised: FloatArray, spacing_mm: tuple[float, float, float]) -> tuple[FloatArray, ModelGrid]:
    """Stacks ``(Z, CHANNELS, H, W)`` of a normalised canonical volume, and how to undo them."""
    zoom = (spacing_mm[0] / IN_PLANE_MM, spacing_mm[1] / IN_PLANE_MM)
    resampled = ndi.zoom(normalised, (*zoom, 1.0), order=1, grid_mode=True, mode="grid-constant")
    h, w = resampled.shape[:2]
    ph, pw = -h % DIVISOR, -w % DIVISOR
    before = (ph // 2, pw // 2)
    padded = np.pad(resampled, ((before[0], ph - before[0]), (before[1], pw - before[1]), (0, 0)))
    z = padded.shape[2]
    index = np.clip(np.arange(z)[:, None] + np.arange(-CONTEXT, CONTEXT + 1)[None, :], 0, z - 1)
    stacks = np.ascontiguousarray(np.moveaxis(padded, 2, 0)[index])  # (Z, C, H, W)
    grid = ModelGrid(tuple(normalised.shape), (h, w), padded.shape[:2], before)  # type: ignore[arg-type]
    return stacks.astype(np.float32), grid


def from_model_grid(probability: FloatArray, grid: ModelGrid) -> FloatArray:
    """Per-slice probabilities ``(Z, H, W)`` back on the canonical grid ``(X, Y, Z)``."""
    (b0, b1), (h, w) = grid.pad_before, grid.resampled
    cropped = np.moveaxis(probability, 0, 2)[b0 : b0 + h, b1 : b1 + w, :]
    x, y, _ = grid.shape
    back = ndi.zoom(cropped, (x / h, y / w, 1.0), order=1, grid_mode=True, mode="nearest")
    return np.clip(back, 0.0, 1.0).astype(np.float32)
