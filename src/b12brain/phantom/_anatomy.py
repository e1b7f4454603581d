"""Subject anatomy of a phantom: fixed geometry from the atlas (cached) and enlarged ventricles."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.anatomy import Atlas, load_atlas
from b12brain.phantom._fields import mm_grids, smooth_field

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]

#: Margin (voxels = mm) added around the cerebral white matter to form the working box.
_BOX_PAD = 4
#: Deep lesions keep this far (mm) from grey matter (prob > 0.5) so they are not juxtacortical.
DEEP_GM_CLEARANCE_MM = 4.5
#: ... and this far (mm) from the infratentorial region.
DEEP_INFRA_CLEARANCE_MM = 6.0


@dataclass(frozen=True, eq=False)
class Geometry:
    """Per-process constant maps derived from the atlas (cached; treat as read-only).

    ``box`` is the sub-grid of the atlas holding the cerebral white matter and ventricles;
    the ``*_box`` arrays live on it. Distances are in mm.
    """

    atlas: Atlas
    box: tuple[slice, slice, slice]
    dist_ventricle_box: FloatArray  # distance to the atlas ventricles
    growth_ok_box: BoolArray  # where ventricles may grow: tissue away from external CSF
    deep_ok_box: BoolArray  # WM away from grey matter and from the infratentorial region
    wm_near_box: FloatArray  # 3x3x3 maximum of the WM probability (WM next to the ventricles)
    dist_outside_brain: FloatArray  # full grid: distance outside the brain mask (0 inside)
    horn_tips_mm: npt.NDArray[np.float64]  # (4, 3): frontal L/R, occipital L/R tips, MNI mm


@functools.lru_cache(maxsize=1)
def load_geometry() -> Geometry:
    """Build (once per process, about 1.5 s) the fixed maps the generator needs."""
    atlas = load_atlas()
    cerebral_wm = (atlas.wm > 0.3) & ~atlas.infratentorial
    idx = np.argwhere(cerebral_wm)
    lo = np.maximum(idx.min(axis=0) - _BOX_PAD, 0)
    hi = np.minimum(idx.max(axis=0) + _BOX_PAD + 1, atlas.shape)
    box = (slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1])), slice(int(lo[2]), int(hi[2])))
    vent = atlas.ventricles[box]
    dist_vent = ndi.distance_transform_edt(~vent).astype(np.float32)
    tissue = (atlas.gm[box] + atlas.wm[box]) > 0.5
    external_csf = (atlas.csf[box] > 0.5) & ~vent
    dist_external = ndi.distance_transform_edt(~external_csf)
    growth_ok = (tissue & (dist_external >= 3.0)) | vent
    grey = atlas.gm[box] > 0.5
    dist_grey = ndi.distance_transform_edt(~grey)
    infra_near = ndi.binary_dilation(atlas.infratentorial[box], iterations=int(DEEP_INFRA_CLEARANCE_MM))
    deep_ok = (atlas.wm[box] > 0.6) & (dist_grey >= DEEP_GM_CLEARANCE_MM) & ~infra_near & ~vent
    wm_near = ndi.maximum_filter(atlas.wm[box], size=3)
    # Distance outside the brain on a 2 mm grid, brought back to 1 mm by linear interpolation:
    # the head layers only need it to ~0.5 mm, and the full-grid transform costs 1.3 s.
    coarse = ndi.distance_transform_edt(~atlas.brain[::2, ::2, ::2], sampling=2.0).astype(np.float32)
    dist_out = ndi.zoom(coarse, [n / c for n, c in zip(atlas.shape, coarse.shape)], order=1, grid_mode=True, mode="nearest")
    dist_out = np.where(atlas.brain, 0.0, np.maximum(dist_out - 1.0, 0.5)).astype(np.float32)
    maps = dict(
        dist_ventricle_box=dist_vent, growth_ok_box=growth_ok, deep_ok_box=deep_ok,
        wm_near_box=wm_near.astype(np.float32), dist_outside_brain=dist_out,
    )
    for array in maps.values():
        array.setflags(write=False)
    return Geometry(atlas=atlas, box=box, horn_tips_mm=_horn_tips(atlas), **maps)


def _horn_tips(atlas: Atlas) -> npt.NDArray[np.float64]:
    xyz = np.argwhere(atlas.ventricles) + atlas.affine[:3, 3]
    tips = []
    for pick in (np.argmax, np.argmin):  # frontal (most anterior), occipital (most posterior)
        for side in (xyz[:, 0] < -2, xyz[:, 0] > 2):
            pts = xyz[side & (xyz[:, 2] > -2)]  # above the temporal horns
            tips.append(pts[pick(pts[:, 1])])
    return np.asarray(tips, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Ventricles:
    """Enlarged ventricles on the geometry box."""

    mask_box: BoolArray  # truth mask
    growth_box: FloatArray  # fraction 0..1 of each voxel's tissue turned into CSF
    dist_box: FloatArray  # approximate distance (mm) to the enlarged ventricles (0 inside)
    max_growth_mm: float  # no voxel of mask_box is farther than this from the atlas ventricles
    scale: float  # enlarged / atlas ventricle volume


def enlarge_ventricles(geo: Geometry, rng: np.random.Generator, scale: float) -> Ventricles:
    """Grow the atlas ventricles into the surrounding tissue by a volume factor ``scale``.

    Growth is a distance threshold ``d < r(x)`` with a smoothly varying radius, so the
    ventricles swell unevenly (more at the horns in some subjects, more at the bodies in
    others) and stay smooth; the radius is found by bisection to match ``scale``.
    """
    atlas = geo.atlas
    dist = geo.dist_ventricle_box
    vent = atlas.ventricles[geo.box]
    base_n = int(vent.sum())
    coords = mm_grids(atlas.affine, atlas.shape, geo.box)
    shape_field = 1.0 + 0.35 * smooth_field(rng, coords, wavelength_mm=(60.0, 160.0), terms=4)
    shape_field = np.clip(shape_field, 0.3, None)
    if scale <= 1.0 + 1e-6:
        growth = np.zeros(dist.shape, dtype=np.float32)
        return Ventricles(vent.copy(), growth, dist.copy(), 0.0, 1.0)
    target = scale * base_n
    lo, hi = 0.0, 12.0
    near = dist < 12.0 * float(shape_field.max()) + 1.0
    d_near, f_near, ok_near = dist[near], shape_field[near], geo.growth_ok_box[near]
    for _ in range(18):
        mid = 0.5 * (lo + hi)
        count = np.count_nonzero((d_near < mid * f_near) & ok_near)
        lo, hi = (mid, hi) if count < target else (lo, mid)
    radius = (0.5 * (lo + hi)) * shape_field
    grown = ((dist < radius) & geo.growth_ok_box) | vent
    # Keep only what is connected to the original ventricles.
    labels, _ = ndi.label(grown)
    keep = np.unique(labels[vent])
    mask = np.isin(labels, keep[keep > 0])
    growth = np.clip(radius - dist + 0.5, 0.0, 1.0).astype(np.float32)
    growth[~ndi.binary_dilation(mask)] = 0.0
    growth[vent] = 1.0
    max_growth = float(radius[mask].max()) if mask.any() else 0.0
    approx_dist = np.maximum(dist - radius, 0.0).astype(np.float32)
    approx_dist[mask] = 0.0
    return Ventricles(mask, growth, approx_dist, max_growth, float(mask.sum()) / base_n)
