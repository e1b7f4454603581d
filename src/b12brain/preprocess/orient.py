"""Lossless reorientation to the closest RAS+ voxel order, and back.

Processing runs on the closest-canonical grid (axis flips and permutations only, no
resampling), so every result maps back to the input's native grid voxel for voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel.orientations as nio
import numpy as np
import numpy.typing as npt

from b12brain.types import Volume


@dataclass(frozen=True)
class Reorientation:
    """How a native grid maps to its closest-canonical (RAS+) grid."""

    ornt: npt.NDArray[np.float64]
    native_shape: tuple[int, int, int]
    native_affine: npt.NDArray[np.float64]

    def to_native(self, array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """Map an array on the canonical grid back to the native voxel order."""
        back = nio.ornt_transform(nio.axcodes2ornt(("R", "A", "S")), self.ornt)
        out = nio.apply_orientation(array, back)
        assert out.shape == self.native_shape, (out.shape, self.native_shape)
        return np.ascontiguousarray(out)


def to_canonical(volume: Volume) -> tuple[Volume, Reorientation]:
    """Reorder ``volume``'s axes so that they run closest to R, A, S.

    Oblique grids stay oblique (the affine keeps the rotation); only the voxel order changes.

    Examples
    --------
    >>> import numpy as np
    >>> from b12brain.types import Volume
    >>> lps = Volume(np.zeros((10, 12, 14), np.float32), np.diag([-1.0, -1.0, 2.0, 1.0]))
    >>> ras, how = to_canonical(lps)
    >>> ras.shape, np.diag(ras.affine).tolist()
    ((10, 12, 14), [1.0, 1.0, 2.0, 1.0])
    >>> how.to_native(ras.data).shape
    (10, 12, 14)
    """
    ornt = nio.io_orientation(volume.affine)
    to_ras = nio.ornt_transform(ornt, nio.axcodes2ornt(("R", "A", "S")))
    data = np.ascontiguousarray(nio.apply_orientation(volume.data, to_ras))
    affine = volume.affine @ nio.inv_ornt_aff(to_ras, volume.shape)
    how = Reorientation(ornt, volume.shape, volume.affine)
    return Volume(data, affine, volume.source), how
