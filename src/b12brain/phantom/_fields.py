"""Smooth random fields and small geometric helpers shared by the phantom modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def smooth_field(
    rng: np.random.Generator,
    coords: tuple[npt.NDArray[np.float64], ...],
    *,
    wavelength_mm: tuple[float, float],
    terms: int = 6,
) -> FloatArray:
    """A smooth random field of zero mean and unit standard deviation (approximately).

    The field is a sum of separable products of cosines,
    ``sum_k a_k cos(wx_k x + px_k) cos(wy_k y + py_k) cos(wz_k z + pz_k)``, so it costs a
    few multiply-adds per voxel and broadcasts over open coordinate grids.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random wavelengths, phases and amplitudes.
    coords : tuple of 3 broadcastable ndarrays, mm
        Open grids of x, y, z world coordinates (shapes (X,1,1), (1,Y,1), (1,1,Z)).
    wavelength_mm : (float, float)
        Range of the wavelengths drawn for each axis.
    terms : int
        Number of cosine products.
    """
    shape = np.broadcast_shapes(*(c.shape for c in coords))
    out = np.zeros(shape, dtype=np.float32)
    amps = rng.uniform(0.5, 1.0, size=terms)
    for amp in amps:
        factors = []
        for axis_coords in coords:
            omega = 2.0 * np.pi / rng.uniform(*wavelength_mm)
            phase = rng.uniform(0.0, 2.0 * np.pi)
            factors.append(np.cos(omega * axis_coords + phase).astype(np.float32))
        out += np.float32(amp) * factors[0] * factors[1] * factors[2]
    # Each product of three cosines with random phases has variance 1/8.
    out *= np.float32(1.0 / np.sqrt(np.sum(amps**2) / 8.0))
    return out


def mm_grids(affine: npt.NDArray[np.float64], shape: tuple[int, ...], box: tuple[slice, ...] | None = None) -> tuple[npt.NDArray[np.float64], ...]:
    """Open world-coordinate grids (mm) of an axis-aligned grid, optionally of a sub-box."""
    grids = []
    for axis, n in enumerate(shape):
        idx = np.arange(n, dtype=np.float64)
        if box is not None:
            idx = idx[box[axis]]
        world = affine[axis, axis] * idx + affine[axis, 3]
        grids.append(world.reshape([-1 if a == axis else 1 for a in range(3)]))
    return tuple(grids)


def random_rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A uniformly random 3D rotation matrix."""
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
