"""Whether the image agrees with a "new" or "resolved" call: lesion contrast at both visits.

A segmenter can miss a faint lesion on one scan and find it on the next (thick slices cut a
small lesion differently when the head moves). b12brain's own rule [U] (:data:`CONFIRM_RULE`):
a group segmented at one visit only is called new (or resolved) only when its FLAIR contrast
at the visit without it is less than :data:`CONFIRM_SHARE` of its contrast at the visit with
it; otherwise the lesion is visible at both visits and the group is called stable, with that
reason in its note. Contrast is the mean FLAIR of the group's footprint (its voxels at either
visit, on the reference grid) over the median of a ring 1-2 voxels around it in-plane, minus 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

CONFIRM_SHARE = 0.5
CONFIRM_RULE = (
    f"b12brain's own rule [U]: a lesion segmented at one visit only is new/resolved only when its FLAIR "
    f"contrast (footprint mean / median of a 1-2 voxel in-plane ring, minus 1) at the visit without it is "
    f"below {CONFIRM_SHARE:.0%} of its contrast at the visit with it; else it is called stable (seen on both images)"
)
_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[:, :, 1] = ndi.generate_binary_structure(2, 1)


def footprint_contrast(flair: npt.NDArray[np.floating], footprint: npt.NDArray[np.bool_]) -> float:
    """Contrast of ``footprint`` against its in-plane surroundings in ``flair`` (see the module).

    Examples
    --------
    >>> image = np.full((9, 9, 1), 100.0); image[3:6, 3:6] = 150.0
    >>> round(footprint_contrast(image, image > 120), 2)
    0.5
    """
    near = ndi.binary_dilation(footprint, _IN_PLANE)
    ring = ndi.binary_dilation(near, _IN_PLANE) & ~near
    if not ring.any() or not footprint.any():
        return 0.0
    background = float(np.median(flair[ring]))
    return float(flair[footprint].mean()) / background - 1.0 if background > 0 else 0.0


def seen_at_both(flair_without: npt.NDArray[np.floating], flair_with: npt.NDArray[np.floating],
                 footprint: npt.NDArray[np.bool_]) -> bool:
    """Whether the lesion shows on the scan where it was not segmented (see :data:`CONFIRM_RULE`)."""
    with_contrast = footprint_contrast(flair_with, footprint)
    return with_contrast > 0 and footprint_contrast(flair_without, footprint) >= CONFIRM_SHARE * with_contrast
