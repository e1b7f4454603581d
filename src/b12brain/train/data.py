"""Training samples on the model grid of ``segment.slices``, from phantoms (and optionally real scans).

A *pool* of scans is made once (phantoms take ~2 s each) and cut into :class:`SliceSet`s:
every input goes through ``normalise_flair`` -> ``to_model_grid`` exactly as at inference, and
the lesion target through the same in-plane resampling and padding (:func:`lesion_targets`).
:class:`SliceSampler` then draws augmented, cropped batches from the pool, with slices that
contain lesion over-represented.

Randomised per phantom: seed (anatomy, lesions, contrast, bias, noise: see
``phantom.generate``), lesion load (weights :data:`LOAD_WEIGHTS`), slice thickness
(1 mm 3D with probability :data:`P_3D`, else uniform 1-8 mm 2D), and the brain mask used for
normalisation (shifted and eroded/dilated by a few mm, as atlas masks err).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.preprocess.orient import to_canonical
from b12brain.segment.slices import CONTEXT, DIVISOR, normalise_flair, to_model_grid
from b12brain.train.augment import AugmentConfig, augment_geometry, augment_intensity
from b12brain.types import BoolArray, Volume

Progress = Callable[[str], None]

LOAD_WEIGHTS = {"none": 0.1, "mild": 0.35, "moderate": 0.35, "severe": 0.2}
P_3D = 0.2
SLICE_MM_2D = (1.0, 8.0)
#: Bumped whenever what a pool holds changes, so stale caches are not reused.
POOL_VERSION = 1


@dataclass(frozen=True, eq=False)
class SliceSet:
    """Model-grid samples of one scan.

    Attributes
    ----------
    stacks : (N, CHANNELS, H, W) ndarray of float16
        Normalised FLAIR stacks (float16 to halve the pool's memory).
    targets : (N, H, W) ndarray of uint8
        Lesion (1) of each stack's centre slice.
    source : str
        What the scan is (phantom config or real subject).
    """

    stacks: npt.NDArray[np.float16]
    targets: npt.NDArray[np.uint8]
    source: str


def lesion_targets(lesion: npt.NDArray[np.generic], spacing_mm: tuple[float, float, float]) -> npt.NDArray[np.uint8]:
    """Binary lesion masks ``(Z, H, W)`` on the model grid: the mask resampled by
    ``to_model_grid`` (linear, like the FLAIR) and thresholded at 0.5.

    Examples
    --------
    >>> m = np.zeros((20, 20, 3), bool); m[5:10, 5:10, 1] = True
    >>> t = lesion_targets(m, (1.0, 1.0, 5.0))
    >>> t.shape, int(t[1].sum()), int(t[0].sum())
    ((3, 32, 32), 25, 0)
    """
    stacks, _ = to_model_grid(np.asarray(lesion, np.float32), spacing_mm)
    return (stacks[:, CONTEXT] >= 0.5).astype(np.uint8)


def perturb_brain(brain: BoolArray, spacing_mm: tuple[float, float, float], rng: np.random.Generator) -> BoolArray:
    """A brain mask as an atlas registration might get it: shifted up to 3 mm per axis, then
    eroded or dilated by up to 4 mm."""
    shift = np.round(rng.uniform(-3.0, 3.0, 3) / np.asarray(spacing_mm)).astype(int)
    out = np.roll(brain, tuple(int(s) for s in shift), axis=(0, 1, 2))
    grow_mm = float(rng.uniform(-4.0, 4.0))
    if grow_mm > 0:
        out = ndi.distance_transform_edt(~out, sampling=spacing_mm) <= grow_mm
    elif grow_mm < 0:
        out = ndi.distance_transform_edt(out, sampling=spacing_mm) > -grow_mm
    return out if out.any() else brain


def slice_set(
    flair: Volume, brain: BoolArray, lesion: npt.NDArray[np.generic], rng: np.random.Generator, *, max_slices: int, source: str
) -> SliceSet:
    """Cut one canonical scan into model-grid samples (at most ``max_slices``, all from slices
    with brain, keeping every lesion slice when it can)."""
    spacing = flair.spacing_mm
    stacks, _ = to_model_grid(normalise_flair(flair.data, brain), spacing)
    targets = lesion_targets(lesion, spacing)
    has_brain = np.flatnonzero(brain.any(axis=(0, 1)))
    has_lesion = np.intersect1d(has_brain, np.flatnonzero(np.asarray(lesion).any(axis=(0, 1))))
    other = np.setdiff1d(has_brain, has_lesion)
    n_les = min(len(has_lesion), max(max_slices // 2, max_slices - len(other)))
    keep = np.concatenate(
        [rng.choice(has_lesion, n_les, replace=False), rng.choice(other, min(len(other), max_slices - n_les), replace=False)]
    )
    keep = np.sort(keep.astype(int))
    return SliceSet(stacks[keep].astype(np.float16), targets[keep], source)


def phantom_configs(size: int, seed: int) -> list[PhantomConfig]:
    """The ``size`` randomised phantom configs of a training pool (seeded)."""
    rng = np.random.default_rng(seed)
    loads = list(LOAD_WEIGHTS)
    out = []
    for _ in range(size):
        load = loads[int(rng.choice(len(loads), p=list(LOAD_WEIGHTS.values())))]
        slice_mm = 1.0 if rng.random() < P_3D else round(float(rng.uniform(*SLICE_MM_2D)), 1)
        out.append(PhantomConfig(seed=int(rng.integers(0, 1_000_000)), lesion_load=load, slice_mm=slice_mm))  # type: ignore[arg-type]
    return out


def phantom_slice_set(config: PhantomConfig, *, max_slices: int = 40) -> SliceSet:
    """Make one phantom and cut it into samples, with a perturbed brain mask for normalisation."""
    ph = make_phantom(config)
    flair, _ = to_canonical(ph.flair)
    brain = to_canonical(ph.brain)[0].data.astype(bool)
    lesion = to_canonical(ph.lesion)[0].data.astype(bool)
    rng = np.random.default_rng([config.seed, 7])
    mask = perturb_brain(brain, flair.spacing_mm, rng)
    return slice_set(flair, mask, lesion, rng, max_slices=max_slices, source=flair.source.removesuffix(" flair"))


def build_pool(
    configs: list[PhantomConfig],
    *,
    max_slices: int = 40,
    cache_dir: Path | str | None = None,
    progress: Progress | None = None,
) -> list[SliceSet]:
    """Slice sets of the given phantoms, read from / written to ``cache_dir/pool-<hash>.npz``."""
    say = progress or (lambda _line: None)
    key = json.dumps([POOL_VERSION, max_slices, [(c.seed, c.lesion_load, c.slice_mm) for c in configs]])
    path = None if cache_dir is None else Path(cache_dir) / f"pool-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if path is not None and path.exists():
        say(f"pool: reading {len(configs)} phantoms from {path}")
        return load_pool(path)
    pool = []
    for i, config in enumerate(configs):
        pool.append(phantom_slice_set(config, max_slices=max_slices))
        say(f"pool: phantom {i + 1}/{len(configs)} {pool[-1].source}: {len(pool[-1].targets)} slices")
    if path is not None:
        save_pool(pool, path)
        say(f"pool: cached in {path}")
    return pool


def save_pool(pool: list[SliceSet], path: Path) -> None:
    """Write a pool as one ``.npz`` (atomically: temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    for i, s in enumerate(pool):
        arrays[f"stacks_{i}"], arrays[f"targets_{i}"] = s.stacks, s.targets
        arrays[f"source_{i}"] = np.array(s.source)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, n=np.array(len(pool)), **arrays)  # type: ignore[arg-type]
    tmp.replace(path)


def load_pool(path: Path) -> list[SliceSet]:
    """Read a pool written by :func:`save_pool`."""
    with np.load(path) as z:
        return [SliceSet(z[f"stacks_{i}"], z[f"targets_{i}"], str(z[f"source_{i}"])) for i in range(int(z["n"]))]


def real_slice_sets(
    root: Path | str, *, exclude_site: str | None = None, max_slices: int = 40, progress: Progress | None = None
) -> list[SliceSet]:
    """Slice sets of real scans laid out as ``root/<site>/<subject>/{flair,lesion}.nii.gz``.

    The brain mask for normalisation is the one inference uses: ``head_mask`` -> N4
    (``correct_bias``) -> atlas ``localise_anatomy(...).brain`` on the bias-corrected FLAIR,
    which is also what the model gets as input (~10 s per scan; cache the result).
    Sites named ``exclude_site`` are left out (leave-one-site-out).
    """
    from b12brain.anatomy.localise import localise_anatomy
    from b12brain.io import load_volume
    from b12brain.preprocess.bias import correct_bias
    from b12brain.preprocess.masks import head_mask

    say = progress or (lambda _line: None)
    out: list[SliceSet] = []
    for flair_path in sorted(Path(root).glob("*/*/flair.nii.gz")):
        site = flair_path.parent.parent.name
        if site == exclude_site:
            continue
        canonical, _ = to_canonical(load_volume(flair_path))
        lesion, _ = to_canonical(load_volume(flair_path.with_name("lesion.nii.gz"), allow_constant=True))
        head = head_mask(canonical.data)
        corrected, _ = correct_bias(canonical, head)
        brain = localise_anatomy(corrected, head).brain
        rng = np.random.default_rng(len(out))
        name = f"{site}/{flair_path.parent.name}"
        out.append(slice_set(corrected, brain, lesion.data > 0, rng, max_slices=max_slices, source=name))
        say(f"real: {name}: {len(out[-1].targets)} slices")
    return out


class SliceSampler:
    """Augmented, cropped training batches from a pool of :class:`SliceSet`.

    Parameters
    ----------
    pool : list of SliceSet
    crop_hw : (int, int)
        In-plane size of every sample (multiples of 16); larger scans are cropped at random
        (around a lesion voxel for lesion samples), smaller ones zero-padded.
    lesion_share : float
        Share of each batch drawn from slices that contain lesion (rounded to whole samples).
    augment : AugmentConfig
    seed : int
        Same pool, parameters and seed -> identical sequence of batches.
    """

    def __init__(
        self,
        pool: list[SliceSet],
        *,
        crop_hw: tuple[int, int] = (192, 224),
        lesion_share: float = 2 / 3,
        augment: AugmentConfig | None = None,
        seed: int = 0,
    ) -> None:
        if any(n % DIVISOR for n in crop_hw):
            raise ValueError(f"crop_hw must be multiples of {DIVISOR}, not {crop_hw}")
        self.pool, self.crop_hw, self.lesion_share = pool, crop_hw, lesion_share
        self.augment = augment or AugmentConfig()
        self.rng = np.random.default_rng(seed)
        index = [(i, j) for i, s in enumerate(pool) for j in range(len(s.targets))]
        has = {(i, j) for i, s in enumerate(pool) for j in np.flatnonzero(s.targets.any(axis=(1, 2)))}
        self.lesion_index = [ij for ij in index if ij in has]
        self.other_index = [ij for ij in index if ij not in has]
        if not index:
            raise ValueError("the pool holds no slices")

    def batch(self, size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Inputs ``(size, CHANNELS, H, W)`` float32 and binary targets ``(size, 1, H, W)`` float32."""
        n_les = round(self.lesion_share * size) if self.lesion_index else 0
        if not self.other_index:
            n_les = size
        picks = [(True, self.lesion_index[int(self.rng.integers(len(self.lesion_index)))]) for _ in range(n_les)]
        picks += [(False, self.other_index[int(self.rng.integers(len(self.other_index)))]) for _ in range(size - n_les)]
        order = self.rng.permutation(size)
        xs, ys = zip(*(self._sample(*picks[k]) for k in order))
        return np.stack(xs), np.stack(ys)[:, None]

    def _sample(self, lesion: bool, ij: tuple[int, int]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        s = self.pool[ij[0]]
        stack, target = augment_geometry(s.stacks[ij[1]].astype(np.float32), s.targets[ij[1]].astype(np.float32), self.rng, self.augment)
        stack, target = self._crop(stack, target, lesion)
        return augment_intensity(stack, self.rng, self.augment), (target >= 0.5).astype(np.float32)

    def _crop(self, stack: npt.NDArray[np.float32], target: npt.NDArray[np.float32], lesion: bool) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        starts = []
        points = np.argwhere(target >= 0.5) if lesion else np.empty((0, 2), int)
        point = points[int(self.rng.integers(len(points)))] if len(points) else None
        for axis, (n, c) in enumerate(zip(target.shape, self.crop_hw)):
            if n <= c:
                starts.append(-int(self.rng.integers(0, c - n + 1)))  # pad: place the scan at random
            else:
                lo, hi = 0, n - c
                if point is not None:  # keep the chosen lesion voxel inside the crop
                    lo, hi = max(lo, int(point[axis]) - c + 1), min(hi, int(point[axis]))
                starts.append(int(self.rng.integers(lo, hi + 1)))
        out_x = np.zeros((stack.shape[0], *self.crop_hw), np.float32)
        out_y = np.zeros(self.crop_hw, np.float32)
        src, dst = [], []
        for start, n, c in zip(starts, target.shape, self.crop_hw):
            a, b = max(start, 0), min(start + c, n)
            src.append(slice(a, b))
            dst.append(slice(a - start, b - start))
        out_x[:, dst[0], dst[1]] = stack[:, src[0], src[1]]
        out_y[dst[0], dst[1]] = target[src[0], src[1]]
        return out_x, out_y
