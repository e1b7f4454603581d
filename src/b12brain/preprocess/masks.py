"""Head masks from intensity alone, used to seed bias correction and registration."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from b12brain.types import BoolArray, FloatArray


def head_mask(data: FloatArray) -> BoolArray:
    """Foreground (head) of an MRI: above a fraction of the Otsu level, holes filled, largest part.

    Works slice-wise for hole filling so that thick-slice 2D scans (where the skull can leave
    dark rings open in 3D) are filled too.
    """
    values = data[data > 0]
    level = _otsu(values if values.size else data.ravel())
    mask = ndi.binary_opening(data > 0.4 * level, iterations=1)
    mask = largest_component(mask)
    mask = ndi.binary_closing(mask, structure=np.ones((3, 3, 1), bool), iterations=2)
    for k in range(mask.shape[2]):
        mask[:, :, k] = ndi.binary_fill_holes(mask[:, :, k])
    return ndi.binary_fill_holes(mask)


def largest_component(mask: BoolArray) -> BoolArray:
    """The largest 6-connected part of ``mask`` (empty stays empty)."""
    labels, n = ndi.label(mask)
    if n <= 1:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


def _otsu(values: FloatArray, bins: int = 256) -> float:
    """Otsu's threshold on a robustly clipped histogram (99.5th percentile cap)."""
    hi = float(np.percentile(values, 99.5))
    lo = float(values.min())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(np.clip(values, lo, hi), bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(between.argmax())])
