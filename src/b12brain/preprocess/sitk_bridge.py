"""Conversions between (array, RAS+ affine) and SimpleITK images (LPS+ physical space), and
deterministic execution of the SimpleITK steps whose results depend on ITK's thread count."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk

from b12brain.geometry import voxel_spacing_mm
from b12brain.types import Affine

_LPS = np.diag([-1.0, -1.0, 1.0])
_ONE_THREAD = threading.Lock()
_one_thread_blocks = 0  # blocks of single_threaded() open in any thread (guarded by _ONE_THREAD)
_threads_before = 0  # ITK's global thread count before the first of them opened


def to_sitk(data: npt.NDArray[np.generic], affine: Affine) -> sitk.Image:
    """Wrap an (X, Y, Z) array on a RAS+ affine as a SimpleITK image with the same geometry."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(data).transpose(2, 1, 0)))
    spacing = voxel_spacing_mm(affine)
    direction = _LPS @ affine[:3, :3] / spacing
    img.SetSpacing([float(s) for s in spacing])
    img.SetDirection([float(v) for v in direction.ravel()])
    img.SetOrigin([float(v) for v in _LPS @ affine[:3, 3]])
    return img


def from_sitk(img: sitk.Image) -> npt.NDArray[np.generic]:
    """The (X, Y, Z) array of a SimpleITK image."""
    return np.ascontiguousarray(sitk.GetArrayFromImage(img).transpose(2, 1, 0))


def sitk_affine(img: sitk.Image) -> Affine:
    """The RAS+ voxel-to-world affine of a SimpleITK image."""
    direction = np.asarray(img.GetDirection(), dtype=float).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = _LPS @ direction @ np.diag(img.GetSpacing())
    affine[:3, 3] = _LPS @ np.asarray(img.GetOrigin(), dtype=float)
    return affine


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run SimpleITK on one thread inside the block, then restore the previous setting.

    ITK's registration metrics add per-thread partial sums in a varying order, and N4's B-spline
    fit adds per-thread sums in the order of its work units, which follow the thread count: one
    thread makes a result reproducible bit for bit, on any machine. Safe to use from several
    threads at once: ITK's thread count is global, so it stays 1 until the last open block ends.
    """
    global _one_thread_blocks, _threads_before
    with _ONE_THREAD:
        if _one_thread_blocks == 0:
            _threads_before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
        _one_thread_blocks += 1
    try:
        yield
    finally:
        with _ONE_THREAD:
            _one_thread_blocks -= 1
            if _one_thread_blocks == 0:
                sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(_threads_before)
