"""Training samples on the model grid of ``segment.slices``, from phantoms (and optionally real scans).

A *pool* of scans is made once (phantoms take ~2 s each; ``jobs`` processes make them in
parallel) and cut into :class:`SliceSet`s:
every input goes through ``normalise_flair`` -> ``to_model_grid`` exactly as at inference, and
the lesion target through the same in-plane resampling and padding (:func:`lesion_targets`).
:class:`SliceSampler` then draws augmented, cropped batches from the pool, with slices that
contain lesion over-represented.

Randomised per phantom: seed (anatomy, lesions, contrast, bias, noise: see
``phantom.generate``), lesion load (weights :data:`LOAD_WEIGHTS`), slice thickness
(1 mm 3D with probability :data:`P_3D`, else uniform 1-8 mm 2D), and the brain mask used for
normalisation (shifted and eroded/dilated by a few mm, as atlas masks err). A
:class:`PoolRecipe` adds, from a stream of its own, punctate lesions, mimics (normal FLAIR
signal that is not lesion) and slice gaps to some phantoms (``phantom.generate.PhantomConfig``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.preprocess.orient import to_canonical
from b12brain.segment.slices import (
    CLIP,
    CONTEXT,
    DIVISOR,
    normalise_flair,
    to_model_grid,
)
from b12brain.train.augment import AugmentConfig, augment_geometry, augment_intensity
from b12brain.types import BoolArray, Volume

Progress = Callable[[str], None]

LOAD_WEIGHTS = {"none": 0.1, "mild": 0.35, "moderate": 0.35, "severe": 0.2}
P_3D = 0.2
SLICE_MM_2D = (1.0, 8.0)
#: Bumped whenever what a pool holds changes, so stale caches are not reused (3: phantoms
#: have orbits; 4: the truth is what a reader would outline: thick-slice lesions at their half
#: maximum, periventricular bands at least 2 mm thick).
POOL_VERSION = 4
#: Pools keep normalised intensities as uint8 codes of this step (0..CLIP in 255 steps, 1.6% of
#: white matter: well under the images' noise), a quarter of float32's memory and disk.
CODE_STEP = CLIP / 255


def encode(stacks: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """Normalised intensities (0..CLIP) as uint8 codes (rounded to the nearest step)."""
    return np.rint(np.clip(stacks, 0.0, CLIP) / CODE_STEP).astype(np.uint8)


def decode(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The intensities of :func:`encode`'s codes (float32).

    Examples
    --------
    >>> x = np.array([0.0, 1.0, 1.37, 4.0])
    >>> bool(np.abs(decode(encode(x)) - x).max() <= CODE_STEP / 2)
    True
    """
    return codes.astype(np.float32) * np.float32(CODE_STEP)


@dataclass(frozen=True, eq=False)
class SliceSet:
    """Model-grid samples of one scan.

    Attributes
    ----------
    stacks : (N, CHANNELS, H, W) ndarray of uint8
        Normalised FLAIR stacks as :func:`encode` codes (:func:`decode` gives intensities).
    targets : (N, H, W) ndarray of uint8
        Lesion (1) of each stack's centre slice.
    source : str
        What the scan is (phantom config or real subject).
    """

    stacks: npt.NDArray[np.uint8]
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
    return SliceSet(encode(stacks[keep]), targets[keep], source)


@dataclass(frozen=True)
class PoolRecipe:
    """What a training pool adds to its phantoms besides load and slice thickness.

    Attributes
    ----------
    max_punctate : int
        Each phantom gets ``0..max_punctate`` punctate lesions (uniform).
    p_mimics : float
        Share of phantoms with mimics (bright rim, tracts, fornix; perivascular spaces).
    p_gap : float
        Share of 2D phantoms of at least :data:`MIN_GAP_SLICE_MM` acquired with a gap between
        slices of :data:`GAP_SHARE` of the slice thickness.

    The default adds nothing (the pool of release 2).
    """

    max_punctate: int = 0
    p_mimics: float = 0.0
    p_gap: float = 0.0

    @property
    def is_plain(self) -> bool:
        """True when the recipe adds nothing."""
        return self == PoolRecipe()


#: Slice gaps are drawn as this share of the slice thickness (clinical 2D FLAIR: 0-30 % is usual).
GAP_SHARE = (0.1, 0.4)
#: Only slices this thick or thicker get a gap.
MIN_GAP_SLICE_MM = 3.0


def phantom_configs(size: int, seed: int, recipe: PoolRecipe = PoolRecipe()) -> list[PhantomConfig]:
    """The ``size`` randomised phantom configs of a training pool (seeded).

    The recipe's extras draw from ``default_rng([seed, 5])``, so the loads, thicknesses and
    seeds are those of the plain pool of the same ``seed``.

    Examples
    --------
    >>> plain = phantom_configs(4, 0)
    >>> rich = phantom_configs(4, 0, PoolRecipe(max_punctate=20, p_mimics=1.0))
    >>> [(c.seed, c.slice_mm) for c in plain] == [(c.seed, c.slice_mm) for c in rich], all(c.mimics for c in rich)
    (True, True)
    """
    rng = np.random.default_rng(seed)
    loads = list(LOAD_WEIGHTS)
    out = []
    for _ in range(size):
        load = loads[int(rng.choice(len(loads), p=list(LOAD_WEIGHTS.values())))]
        slice_mm = 1.0 if rng.random() < P_3D else round(float(rng.uniform(*SLICE_MM_2D)), 1)
        out.append(PhantomConfig(seed=int(rng.integers(0, 1_000_000)), lesion_load=load, slice_mm=slice_mm))  # type: ignore[arg-type]
    if recipe.is_plain:
        return out
    extra = np.random.default_rng([seed, 5])
    for i, config in enumerate(out):
        punctate = int(extra.integers(0, recipe.max_punctate + 1))
        mimics = bool(extra.random() < recipe.p_mimics)
        gap = round(float(extra.uniform(*GAP_SHARE)) * config.slice_mm, 1) if extra.random() < recipe.p_gap else 0.0
        if config.slice_mm < MIN_GAP_SLICE_MM:
            gap = 0.0
        out[i] = replace(config, punctate_lesions=punctate, mimics=mimics, slice_gap_mm=gap)
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
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[SliceSet]:
    """Slice sets of the given phantoms, read from / written to ``cache_dir/pool-<hash>.npz``;
    ``jobs`` processes make the phantoms (the result does not depend on it)."""
    say = progress or (lambda _line: None)
    path = _cache_path(cache_dir, "pool", max_slices, [_config_key(c) for c in configs])
    if path is not None and path.exists():
        say(f"pool: reading {len(configs)} phantoms from {path}")
        return load_pool(path)
    pool: list[SliceSet] = []
    for made in _map(_phantom_slice_set, jobs, configs, [max_slices] * len(configs)):
        pool.append(made)
        say(f"pool: phantom {len(pool)}/{len(configs)} {made.source}: {len(made.targets)} slices")
    if path is not None:
        save_pool(pool, path)
        say(f"pool: cached in {path}")
    return pool


def _config_key(config: PhantomConfig) -> tuple[object, ...]:
    """What identifies a phantom in a cache name (the plain fields alone for a plain phantom, so
    caches of earlier pools stay valid)."""
    key: tuple[object, ...] = (config.seed, config.lesion_load, config.slice_mm)
    extras = (config.punctate_lesions, config.mimics, config.slice_gap_mm)
    return key + extras if any(extras) else key


def _cache_path(cache_dir: Path | str | None, prefix: str, *key: object) -> Path | None:
    """``cache_dir/<prefix>-<hash of POOL_VERSION and key>.npz``, or None without a cache."""
    if cache_dir is None:
        return None
    digest = hashlib.sha256(json.dumps([POOL_VERSION, *key]).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{prefix}-{digest}.npz"


def _phantom_slice_set(config: PhantomConfig, max_slices: int) -> SliceSet:
    return phantom_slice_set(config, max_slices=max_slices)


def _map(fn: Callable[..., SliceSet], jobs: int, *args: Sequence[Any]) -> Iterator[SliceSet]:
    """``map(fn, *args)`` in order, in ``jobs`` processes when ``jobs > 1``."""
    if jobs <= 1:
        yield from map(fn, *args)
        return
    with ProcessPoolExecutor(jobs) as executor:
        yield from executor.map(fn, *args)


def save_pool(pool: list[SliceSet], path: Path, *, compress: bool = False) -> None:
    """Write a pool as one ``.npz`` (atomically: temp file, then rename); ``compress`` makes it
    about 4x smaller and 10x slower to write (worth it for a pool that travels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    for i, s in enumerate(pool):
        arrays[f"stacks_{i}"], arrays[f"targets_{i}"] = s.stacks, s.targets
        arrays[f"source_{i}"] = np.array(s.source)
    tmp = path.with_name(path.name + ".tmp.npz")
    save = np.savez_compressed if compress else np.savez
    save(tmp, n=np.array(len(pool)), **arrays)  # type: ignore[arg-type]
    tmp.replace(path)


def load_pool(path: Path) -> list[SliceSet]:
    """Read a pool written by :func:`save_pool`."""
    with np.load(path) as z:
        return [SliceSet(z[f"stacks_{i}"], z[f"targets_{i}"], str(z[f"source_{i}"])) for i in range(int(z["n"]))]


def real_slice_sets(
    root: Path | str,
    *,
    max_slices: int = 120,
    cache_dir: Path | str | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[SliceSet]:
    """Slice sets of real scans laid out as ``root/<site>/<subject>/{flair,lesion}.nii.gz``.

    The brain mask for normalisation is the one inference uses: ``head_mask`` -> N4
    (``correct_bias``) -> atlas ``localise_anatomy(...).brain`` on the bias-corrected FLAIR,
    which is also what the model gets as input (~10 s per scan). Each set's ``source`` is
    ``<site>/<subject>`` (see :func:`exclude_site`). With ``cache_dir`` the sets are kept in
    ``real-<hash>.npz`` (hash of the file names, sizes and times), which a training machine
    without the scans (or without SimpleITK) can read with :func:`load_pool`.
    """
    say = progress or (lambda _line: None)
    flairs = sorted(Path(root).glob("*/*/flair.nii.gz"))
    if not flairs:
        raise FileNotFoundError(f"{root}: no <site>/<subject>/flair.nii.gz found")
    stamp = [(str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in flairs]
    path = _cache_path(cache_dir, "real", max_slices, stamp)
    if path is not None and path.exists():
        say(f"real: reading {len(flairs)} scans from {path}")
        return load_pool(path)
    out: list[SliceSet] = []
    for made in _map(_real_slice_set, jobs, flairs, range(len(flairs)), [max_slices] * len(flairs)):
        out.append(made)
        say(f"real: {made.source}: {len(made.targets)} slices")
    if path is not None:
        save_pool(out, path, compress=True)
        say(f"real: cached in {path}")
    return out


def _real_slice_set(flair_path: Path, index: int, max_slices: int) -> SliceSet:
    from b12brain.anatomy.localise import localise_anatomy
    from b12brain.io import load_volume
    from b12brain.preprocess.bias import correct_bias
    from b12brain.preprocess.masks import head_mask

    canonical, _ = to_canonical(load_volume(flair_path))
    lesion, _ = to_canonical(load_volume(flair_path.with_name("lesion.nii.gz"), allow_constant=True))
    head = head_mask(canonical.data)
    corrected, _ = correct_bias(canonical, head)
    brain = localise_anatomy(corrected, head).brain
    name = f"{flair_path.parent.parent.name}/{flair_path.parent.name}"
    return slice_set(corrected, brain, lesion.data > 0, np.random.default_rng(index), max_slices=max_slices, source=name)


def exclude_site(pool: Sequence[SliceSet], site: str | None) -> list[SliceSet]:
    """The sets of ``pool`` not from ``site`` (leave-one-site-out); all of them for None.

    Raises
    ------
    ValueError
        No set of the pool is from ``site`` (a misspelt site would silently leak it).
    """
    if site is None:
        return list(pool)
    kept = [s for s in pool if not s.source.startswith(f"{site}/")]
    if len(kept) == len(pool):
        sites = sorted({s.source.split("/")[0] for s in pool})
        raise ValueError(f"no scan of site {site!r} in the real pool (sites: {', '.join(sites)})")
    return kept


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
    seed : int or sequence of int
        Same pool, parameters and seed -> identical sequence of batches (a sequence such as
        ``(seed, worker)`` gives each loader worker its own stream).
    """

    def __init__(
        self,
        pool: list[SliceSet],
        *,
        crop_hw: tuple[int, int] = (192, 224),
        lesion_share: float = 2 / 3,
        augment: AugmentConfig | None = None,
        seed: int | Sequence[int] = 0,
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
        stack, target = augment_geometry(decode(s.stacks[ij[1]]), s.targets[ij[1]].astype(np.float32), self.rng, self.augment)
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
