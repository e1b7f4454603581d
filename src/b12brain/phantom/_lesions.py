"""Lesions of a phantom: periventricular caps/bands and deep white-matter lesions.

Both kinds are built as binary truth masks on the geometry box; intensities get their soft
partial-volume edges later, by blurring these masks. The design keeps the ground-truth class
in line with the LST-AI location rule: every periventricular component touches the
ventricles (26-connectivity); every deep lesion lies >= ``DEEP_VENTRICLE_CLEARANCE_MM`` from
the ventricles, >= ``DEEP_PV_GAP_MM`` from periventricular lesions, and away from grey matter
and the infratentorial region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26
from b12brain.phantom._anatomy import Geometry, Ventricles
from b12brain.phantom._fields import mm_grids, random_rotation, smooth_field

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]

DEEP_VENTRICLE_CLEARANCE_MM = 12.5
DEEP_PV_GAP_MM = 4.5
#: Thinnest periventricular band drawn (mm).
MIN_BAND_MM = 2.0


@dataclass(frozen=True)
class LoadSpec:
    """How much and what kind of damage a lesion load means (volumes in mL at 1 mm)."""

    total_ml: tuple[float, float]
    pv_share: tuple[float, float]
    # Deep lesion diameters (mm): (punctate range, large range, probability of a large one).
    punctate_mm: tuple[float, float]
    large_mm: tuple[float, float]
    large_prob: float
    # Periventricular pattern: relative cap emphasis, irregularity of the band thickness.
    cap_weight: float
    irregularity: float
    ventricle_scale: tuple[float, float]


LOAD_SPECS: dict[str, LoadSpec] = {
    "none": LoadSpec((0.0, 0.0), (0.0, 0.0), (2, 5), (2, 5), 0.0, 0.0, 0.0, (1.0, 1.15)),
    "mild": LoadSpec((2.5, 7.5), (0.45, 0.7), (3, 6), (6, 10), 0.25, 3.0, 0.35, (1.0, 1.25)),
    "moderate": LoadSpec((12.0, 28.0), (0.5, 0.75), (3, 6), (8, 16), 0.35, 1.5, 0.55, (1.1, 1.4)),
    "severe": LoadSpec((120.0, 180.0), (0.82, 0.92), (3, 6), (10, 25), 0.6, 0.6, 0.8, (1.25, 1.6)),
}


@dataclass(frozen=True, eq=False)
class Lesions:
    """Binary lesion masks and FLAIR/T1 contrast factors on the geometry box."""

    pv_box: BoolArray
    deep_box: BoolArray
    flair_factor_box: FloatArray  # lesion FLAIR / WM FLAIR, where lesions are
    t1_factor_box: FloatArray  # lesion T1 / WM T1, where lesions are
    deep_count: int


def make_lesions(geo: Geometry, vent: Ventricles, rng: np.random.Generator, spec: LoadSpec) -> Lesions:
    """Draw periventricular and deep lesions for one subject."""
    shape = vent.mask_box.shape
    pv = np.zeros(shape, dtype=bool)
    deep = np.zeros(shape, dtype=bool)
    flair_factor = np.zeros(shape, dtype=np.float32)
    t1_factor = np.zeros(shape, dtype=np.float32)
    if spec.total_ml[1] <= 0.0:
        return Lesions(pv, deep, flair_factor, t1_factor, 0)
    total_ml = rng.uniform(*spec.total_ml)
    pv_ml = total_ml * rng.uniform(*spec.pv_share)
    deep_ml = total_ml - pv_ml
    coords = mm_grids(geo.atlas.affine, geo.atlas.shape, geo.box)

    pv = _periventricular(geo, vent, rng, spec, coords, pv_ml)
    # Periventricular contrast varies smoothly along the band.
    pv_flair = 1.85 + 0.35 * np.clip(smooth_field(rng, coords, wavelength_mm=(30.0, 80.0), terms=4), -1, 1)
    pv_t1 = 0.7 + 0.12 * np.clip(smooth_field(rng, coords, wavelength_mm=(30.0, 80.0), terms=4), -1, 1)
    flair_factor[pv] = pv_flair[pv]
    t1_factor[pv] = pv_t1[pv]

    deep_zone = geo.deep_ok_box & (geo.dist_ventricle_box >= DEEP_VENTRICLE_CLEARANCE_MM + vent.max_growth_mm)
    if pv.any():
        deep_zone &= ndi.distance_transform_edt(~pv) >= DEEP_PV_GAP_MM
    deep, count = _deep(rng, spec, deep_zone, deep_ml, flair_factor, t1_factor)
    return Lesions(pv, deep, flair_factor, t1_factor, count)


def _periventricular(
    geo: Geometry,
    vent: Ventricles,
    rng: np.random.Generator,
    spec: LoadSpec,
    coords: tuple[npt.NDArray[np.float64], ...],
    target_ml: float,
) -> BoolArray:
    """A band lining the ventricles whose thickness varies: caps at the horns, a pencil-thin
    lining or smooth halo elsewhere, irregular extensions into deep WM for heavy loads."""
    x, y, z = coords
    weight = np.full(vent.dist_box.shape, 0.25, dtype=np.float32)
    # Caps: Gaussian bumps of thickness at the frontal and occipital horn tips.
    for tip in geo.horn_tips_mm:
        sigma = rng.uniform(7.0, 12.0)
        bump = np.exp(-((x - tip[0]) ** 2 + (y - tip[1]) ** 2 + (z - tip[2]) ** 2) / (2 * sigma**2))
        weight += np.float32(spec.cap_weight * rng.uniform(0.6, 1.4)) * bump.astype(np.float32)
    field = smooth_field(rng, coords, wavelength_mm=(20.0, 70.0), terms=8)
    weight *= np.exp(np.float32(spec.irregularity) * field)
    # No band on the midline (septum pellucidum, fornix, third ventricle walls).
    weight *= (1.0 / (1.0 + np.exp(-(np.abs(x) - 7.0) / 1.5))).astype(np.float32)
    # WM next to the ventricles (the caudate and thalamus that line them stay lesion-free).
    tissue_ok = geo.wm_near_box > 0.45
    dist = vent.dist_box
    candidates = tissue_ok & ~vent.mask_box & (dist < 40.0)
    shell = candidates & ndi.binary_dilation(vent.mask_box, structure=CONNECTIVITY_26)
    d_c, w_c, s_c = dist[candidates], weight[candidates], shell[candidates]

    def in_band(d: npt.NDArray[np.floating], t: npt.NDArray[np.floating], s: BoolArray) -> BoolArray:
        # Where the band would be thinner than MIN_BAND_MM it is not drawn: a one-voxel lining
        # carries under half a lesion's signal once blurred and partial-volumed with the
        # ventricle, so no reader would outline it.
        return (t >= MIN_BAND_MM) & ((d <= t) | s)

    target_n = target_ml * 1000.0
    lo, hi = 0.0, 60.0
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        n = np.count_nonzero(in_band(d_c, mid * w_c, s_c))
        lo, hi = (mid, hi) if n < target_n else (lo, mid)
    band = candidates & in_band(dist, 0.5 * (lo + hi) * weight, shell)
    # Keep only components that touch the ventricles (26-connectivity), as the class rule needs.
    return components_touching(band, shell)


def components_touching(mask: BoolArray, seeds: BoolArray) -> BoolArray:
    """The 26-connected components of ``mask`` that hold a voxel of ``seeds``."""
    labels, _ = ndi.label(mask, structure=CONNECTIVITY_26)
    keep = np.unique(labels[seeds & mask])
    return np.isin(labels, keep[keep > 0])


def _deep(
    rng: np.random.Generator,
    spec: LoadSpec,
    zone: BoolArray,
    target_ml: float,
    flair_factor: FloatArray,
    t1_factor: FloatArray,
) -> tuple[BoolArray, int]:
    """Noise-perturbed ellipsoids inside ``zone`` until ``target_ml`` is reached."""
    deep = np.zeros(zone.shape, dtype=bool)
    centres = np.flatnonzero(zone)
    if target_ml <= 0.0 or centres.size == 0:
        return deep, 0
    target_n = target_ml * 1000.0
    placed, count, attempts = 0, 0, 0
    while placed < target_n and attempts < 400:
        attempts += 1
        large = rng.random() < spec.large_prob
        diameter = rng.uniform(*(spec.large_mm if large else spec.punctate_mm))
        # Avoid overshooting small targets with one large lesion.
        diameter = min(diameter, max(2.0, 2.0 * (3.0 * max(target_n - placed, 4.0) / (4.0 * np.pi)) ** (1 / 3) * 1.3))
        centre = np.array(np.unravel_index(centres[rng.integers(centres.size)], zone.shape))
        drawn = blob(rng, diameter)
        half = np.array(drawn.shape) // 2
        lo = centre - half
        hi = lo + np.array(drawn.shape)
        clo, chi = np.maximum(lo, 0), np.minimum(hi, zone.shape)
        sub = tuple(slice(int(a), int(b)) for a, b in zip(clo, chi))
        bsub = tuple(slice(int(a - l), int(b - l)) for a, b, l in zip(clo, chi, lo))
        piece = drawn[bsub] & zone[sub] & ~deep[sub]
        n = int(piece.sum())
        if n < 3:
            continue
        deep[sub] |= piece
        flair_factor[sub][piece] = rng.uniform(1.5, 2.2)
        t1_factor[sub][piece] = rng.uniform(0.6, 0.9)
        placed += n
        count += 1
    return deep, count


def blob(rng: np.random.Generator, diameter_mm: float) -> BoolArray:
    """An irregular lesion: a randomly oriented ellipsoid with a noise-perturbed surface."""
    radius = diameter_mm / 2.0
    axes = radius * rng.uniform(0.7, 1.3, size=3)
    axes *= radius / np.prod(axes) ** (1 / 3)  # keep the equivalent-sphere diameter
    half = int(np.ceil(axes.max() * 1.45)) + 1
    grid = np.arange(-half, half + 1, dtype=np.float64)
    gx, gy, gz = np.meshgrid(grid, grid, grid, indexing="ij", sparse=True)
    rot = random_rotation(rng)
    u = (rot[0, 0] * gx + rot[0, 1] * gy + rot[0, 2] * gz) / axes[0]
    v = (rot[1, 0] * gx + rot[1, 1] * gy + rot[1, 2] * gz) / axes[1]
    w = (rot[2, 0] * gx + rot[2, 1] * gy + rot[2, 2] * gz) / axes[2]
    rho = np.sqrt(u * u + v * v + w * w)
    bumps = smooth_field(rng, (gx, gy, gz), wavelength_mm=(max(3.0, radius * 1.5), max(6.0, radius * 4.0)), terms=4)
    rho = rho * (1.0 + 0.18 * bumps)
    blob = rho <= 1.0
    blob[half, half, half] = True
    return blob
