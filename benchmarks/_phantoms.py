"""Phantom inputs shared by the benchmarks: a clinical 256×256×20 and an MNI-sized 1 mm FLAIR."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from b12brain.io import save_nifti
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.types import Volume


def clinical_flair(seed: int = 0, load: str = "moderate") -> Volume:
    """A 256×256×20 axial FLAIR with 7 mm slices (the 20 most superior slices of a phantom)."""
    return clinical_scans(seed, load, slice_mm=7.0)[0]


def clinical_scans(seed: int = 0, load: str = "moderate", slice_mm: float = 6.0) -> tuple[Volume, Volume]:
    """A 256×256×20 axial FLAIR and the T1 on its grid (the 20 most superior slices of a phantom)."""
    phantom = make_phantom(PhantomConfig(seed=seed, lesion_load=load, slice_mm=slice_mm))
    box = (slice(None), slice(None), slice(phantom.flair.shape[2] - 20, None))
    return _crop(phantom.flair, box), _crop(phantom.t1, box)


def research_flair(seed: int = 0, load: str = "moderate") -> Volume:
    """A 182×218×182 1 mm FLAIR (the FSL MNI grid size), centre crop of a 1 mm phantom."""
    flair = make_phantom(PhantomConfig(seed=seed, lesion_load=load, slice_mm=1.0)).flair
    starts = [(n - m) // 2 for n, m in zip(flair.shape, (182, 218, 182), strict=True)]
    return _crop(flair, tuple(slice(s, s + m) for s, m in zip(starts, (182, 218, 182), strict=True)))


def write(volume: Volume, path: Path) -> Path:
    save_nifti(volume.data, volume.affine, path)
    return path


def _crop(volume: Volume, box: tuple[slice, ...]) -> Volume:
    start = np.array([s.indices(n)[0] for s, n in zip(box, volume.shape, strict=True)] + [1.0])
    affine = volume.affine.copy()
    affine[:, 3] = volume.affine @ start
    return Volume(np.ascontiguousarray(volume.data[box]), affine, volume.source)
