"""Voxel-grid geometry shared by every stage: voxel size and volume from an affine, and the
26-neighbourhood that defines a connected lesion.

Only numpy is imported, so any module (and ``import b12brain``) can use it at no cost.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: 26-connectivity (the 3×3×3 cube): the lesion definition of the MICCAI WMH challenge
#: (METRICS.md). Read-only, as it is shared.
CONNECTIVITY_26: npt.NDArray[np.bool_] = np.ones((3, 3, 3), bool)
CONNECTIVITY_26.setflags(write=False)


def voxel_spacing_mm(affine: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Voxel size along each array axis, in mm: the lengths of the affine's first three columns.

    Parameters
    ----------
    affine : (4, 4) array_like
        Voxel-to-world affine (mm).

    Returns
    -------
    (3,) ndarray of float64

    Examples
    --------
    >>> voxel_spacing_mm(np.diag([0.9, -0.9, 6.0, 1.0])).tolist()
    [0.9, 0.9, 6.0]
    """
    linear = np.asarray(affine, dtype=np.float64)[:3, :3]
    return np.sqrt((linear**2).sum(axis=0))


def voxel_volume_ml(affine: npt.ArrayLike) -> float:
    """Volume of one voxel in mL (1 mL = 1000 mm³): the absolute determinant of the affine's
    linear part, so sheared grids are measured right too.

    Examples
    --------
    >>> round(voxel_volume_ml(np.diag([1.0, 1.0, 5.0, 1.0])), 6)
    0.005
    """
    linear = np.asarray(affine, dtype=np.float64)[:3, :3]
    return float(abs(np.linalg.det(linear))) / 1000.0
