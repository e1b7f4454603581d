"""Head masks from intensity alone (to seed bias correction and registration), and the
neighbourhoods that decide when two structures touch."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
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


#: Two structures touch when a voxel of one has a 26-neighbour of the other within this many
#: mm: the whole 3×3×3 cube on 1 mm grids (LST-AI's rule), in-plane only on thick slices.
CONTACT_MM = 1.75


def neighbourhood(spacing: npt.ArrayLike, max_mm: float = CONTACT_MM) -> BoolArray:
    """The 3×3×3 neighbours whose centres lie within ``max_mm`` of the middle voxel.

    Examples
    --------
    >>> int(neighbourhood([1.0, 1.0, 1.0], 1.75).sum()), int(neighbourhood([0.9, 0.9, 6.0], 1.75).sum())
    (27, 9)
    """
    steps = [np.array([-1.0, 0.0, 1.0]) * float(s) for s in np.asarray(spacing, dtype=float)]
    offsets = np.stack(np.meshgrid(*steps, indexing="ij"))
    return np.sqrt((offsets**2).sum(axis=0)) <= max_mm
