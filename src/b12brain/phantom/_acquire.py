"""Simulated 2D thick-slice acquisition: slice profile and in-plane resampling as matrices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

#: In-plane matrix and field of view of the simulated clinical 2D scan.
MATRIX = 256
FOV_MM = 230.0


@dataclass(frozen=True, eq=False)
class Acquisition:
    """Linear maps from the 1 mm source grid to the output grid, per axis.

    ``out = Wx @ src @ Wy.T`` in-plane and ``@ Wz.T`` across slices (applied by
    :meth:`apply`). ``affine`` is the output voxel -> RAS mm map.
    """

    wx: FloatArray
    wy: FloatArray
    wz: FloatArray
    affine: npt.NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.wx.shape[0], self.wy.shape[0], self.wz.shape[0])

    def apply(self, src: FloatArray) -> FloatArray:
        """Resample a (X, Y, Z) source array to the output grid."""
        out = np.tensordot(src, self.wz, axes=([2], [1]))  # (X, Y, N)
        out = np.tensordot(self.wx, out, axes=([1], [0]))  # (Mx, Y, N)
        out = np.tensordot(self.wy, out, axes=([1], [1]))  # (My, Mx, N)
        return np.ascontiguousarray(out.transpose(1, 0, 2), dtype=np.float32)


def plan_acquisition(
    src_affine: npt.NDArray[np.float64],
    src_shape: tuple[int, int, int],
    slice_mm: float,
    z_range_mm: tuple[float, float],
    centre_xy_mm: tuple[float, float],
    *,
    gap_mm: float = 0.0,
) -> Acquisition:
    """Axial slices of ``slice_mm`` (box slice profile) every ``slice_mm + gap_mm`` covering
    ``z_range_mm``, each a ``MATRIX`` x ``MATRIX`` image of ``FOV_MM`` centred on ``centre_xy_mm``."""
    pixel = FOV_MM / MATRIX
    origin = np.array(centre_xy_mm) - pixel * (MATRIX - 1) / 2.0
    wx = _linear_weights(src_affine[0, 3], src_shape[0], origin[0], pixel, MATRIX)
    wy = _linear_weights(src_affine[1, 3], src_shape[1], origin[1], pixel, MATRIX)
    step = slice_mm + gap_mm
    n_slices = int(np.ceil((z_range_mm[1] - z_range_mm[0]) / step))
    z0 = 0.5 * (z_range_mm[0] + z_range_mm[1]) - step * (n_slices - 1) / 2.0
    wz = _slab_weights(src_affine[2, 3], src_shape[2], z0, slice_mm, n_slices, step)
    affine = np.diag([pixel, pixel, step, 1.0])
    affine[:3, 3] = [origin[0], origin[1], z0]
    return Acquisition(wx, wy, wz, affine)


def _linear_weights(src_origin: float, n_src: int, out_origin: float, step: float, n_out: int) -> FloatArray:
    """Linear interpolation from a 1 mm grid; samples outside it get weight 0 (air)."""
    pos = out_origin + step * np.arange(n_out) - src_origin  # in source voxels
    w = np.zeros((n_out, n_src), dtype=np.float32)
    left = np.floor(pos).astype(int)
    frac = pos - left
    for idx, weight in ((left, 1.0 - frac), (left + 1, frac)):
        ok = (idx >= 0) & (idx < n_src)
        w[np.flatnonzero(ok), idx[ok]] += weight[ok]
    return w


def _slab_weights(src_origin: float, n_src: int, z0: float, thickness: float, n_out: int, step: float) -> FloatArray:
    """Average over [centre - t/2, centre + t/2] of the linearly interpolated 1 mm profile, for
    slices centred every ``step`` mm from ``z0``."""
    w = np.zeros((n_out, n_src), dtype=np.float32)
    fine = 8  # sub-samples per mm to integrate the box profile
    for k in range(n_out):
        centre = z0 + step * k - src_origin
        offsets = (np.arange(int(np.ceil(thickness * fine))) + 0.5) / fine - thickness / 2.0
        pos = centre + offsets
        left = np.floor(pos).astype(int)
        frac = pos - left
        for idx, weight in ((left, 1.0 - frac), (left + 1, frac)):
            ok = (idx >= 0) & (idx < n_src)
            np.add.at(w[k], idx[ok], weight[ok] / offsets.size)
    return w
