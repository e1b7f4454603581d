"""Training material for the segmenter's hard cases: punctate lesions, and FLAIR signal that
is not lesion.

- **Punctate lesions** (``PhantomConfig.punctate_lesions``): deep white-matter foci of
  1.5-3.5 mm (2-22 mm³, all under 0.05 mL), 1.35-2.0 × white matter on FLAIR. At 1 mm they are
  a 2-3 mm focus; on thick slices the acquisition turns them into a few voxels on one or two
  slices at reduced contrast, which is how most missed lesions look on clinical scans. They
  join the truth as every lesion does (only where bright enough to see).
- **Mimics** (``PhantomConfig.mimics``), never in the truth:
  - ependymal rim: a bright lining 1-1.8 mm thick around the ventricles (1.15-1.4 × white
    matter), thinner than any drawn periventricular band (``MIN_BAND_MM``);
  - corticospinal tracts: both, from the internal capsule's posterior limb up through the
    corona radiata, faintly bright (1.05-1.2 ×, as on many normal FLAIRs);
  - fornix: a thin bright arch under the corpus callosum near the midline (1.1-1.35 ×);
  - perivascular spaces: 20-80 small tubes of CSF signal (dark on FLAIR), 1-2 mm wide and
    3-12 mm long, mostly vertical, in the white matter.

Both draw from streams of their own (``default_rng([seed, 3])`` and ``[seed, 4]``), so a
phantom without them is exactly what it was before they existed. Positions are MNI mm on the
template the phantoms are built from.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.phantom._anatomy import Geometry, Ventricles
from b12brain.phantom._lesions import Lesions, blob

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]

#: Diameter range (mm) and FLAIR level (× white matter) of punctate lesions.
PUNCTATE_MM = (1.5, 3.5)
PUNCTATE_FLAIR = (1.35, 2.0)
#: Punctate lesions keep this far (mm) from other lesions, so that each stays its own lesion.
PUNCTATE_GAP_MM = 3.0
#: Centre lines (MNI mm, bottom to top) of the corticospinal tract (left side; the right is
#: its mirror) and of one fornix (the other is its mirror across the midline).
_CST_PATH = ((-18.0, -14.0, -2.0), (-22.0, -17.0, 12.0), (-25.0, -20.0, 30.0), (-27.0, -22.0, 45.0))
_FORNIX_PATH = ((-3.0, 2.0, -2.0), (-2.5, -3.0, 10.0), (-2.5, -14.0, 17.0), (-3.0, -28.0, 14.0))


def add_punctate_lesions(geo: Geometry, lesions: Lesions, rng: np.random.Generator, count: int) -> Lesions:
    """``lesions`` with up to ``count`` punctate deep lesions added (see the module's description).

    Examples
    --------
    >>> from b12brain.phantom._anatomy import load_geometry
    >>> geo = load_geometry()
    >>> shape = geo.dist_ventricle_box.shape
    >>> none = Lesions(np.zeros(shape, bool), np.zeros(shape, bool), np.zeros(shape, np.float32),
    ...                np.zeros(shape, np.float32), 0)
    >>> out = add_punctate_lesions(geo, none, np.random.default_rng(0), 5)
    >>> out.deep_count, bool(0 < out.deep_box.sum() < 5 * 50)
    (5, True)
    """
    if count <= 0:
        return lesions
    deep = lesions.deep_box.copy()
    flair = lesions.flair_factor_box.copy()
    t1 = lesions.t1_factor_box.copy()
    taken = lesions.pv_box | deep
    gap = int(np.ceil(PUNCTATE_GAP_MM))
    zone = geo.deep_ok_box & ~ndi.binary_dilation(taken, iterations=gap) if taken.any() else geo.deep_ok_box.copy()
    added = 0
    for _ in range(8 * count):
        if added == count or not zone.any():
            break
        centres = np.flatnonzero(zone)
        centre = np.array(np.unravel_index(centres[rng.integers(centres.size)], zone.shape))
        drawn = blob(rng, float(rng.uniform(*PUNCTATE_MM)))
        lo = centre - np.array(drawn.shape) // 2
        hi = lo + np.array(drawn.shape)
        if (lo < 0).any() or (hi > zone.shape).any():
            continue
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        piece = drawn & zone[box]
        if piece.sum() < 2:
            continue
        deep[box] |= piece
        flair[box][piece] = rng.uniform(*PUNCTATE_FLAIR)
        t1[box][piece] = rng.uniform(0.7, 0.95)
        # Keep the next foci apart from this one.
        zone[box] &= ~ndi.binary_dilation(piece, iterations=gap)
        added += 1
    return replace(lesions, deep_box=deep, flair_factor_box=flair, t1_factor_box=t1, deep_count=lesions.deep_count + added)


def draw_mimics(
    geo: Geometry,
    vent: Ventricles,
    rng: np.random.Generator,
    coords: tuple[npt.NDArray[np.float64], ...],
    lesion_box: BoolArray,
    csf_level: float,
) -> tuple[FloatArray, FloatArray]:
    """Normal structures that a FLAIR shows bright or dark, on the geometry box.

    Returns ``(weight, level)``: the FLAIR becomes ``flair * (1 - weight) + weight * level``
    (levels × white matter; ``weight`` 0..1 with soft edges, 0 on and next to lesions).
    """
    shape = vent.dist_box.shape
    level = np.ones(shape, dtype=np.float32)
    weight = np.zeros(shape, dtype=np.float32)
    wm = geo.atlas.wm[geo.box]

    def paint(mask: BoolArray, value: float) -> None:
        weight[mask] = 1.0
        level[mask] = np.float32(value)

    rim = (vent.dist_box > 0) & (vent.dist_box <= rng.uniform(1.0, 1.8)) & (geo.wm_near_box > 0.3)
    paint(rim, rng.uniform(1.15, 1.4))
    cst_level = rng.uniform(1.05, 1.2)
    for side in (1.0, -1.0):
        path = np.array(_CST_PATH) * [side, 1.0, 1.0]
        paint(_tube(coords, path, rng.uniform(2.5, 4.0)) & (wm > 0.5), cst_level)
    fornix_level = rng.uniform(1.1, 1.35)
    for side in (1.0, -1.0):
        path = np.array(_FORNIX_PATH) * [side, 1.0, 1.0]
        paint(_tube(coords, path, rng.uniform(1.2, 2.0)) & ~vent.mask_box, fornix_level)
    paint(_perivascular_spaces(rng, wm > 0.6, int(rng.integers(20, 81))), csf_level)

    clear = ndi.binary_dilation(lesion_box, iterations=2)
    weight[clear] = 0.0
    return np.clip(ndi.gaussian_filter(weight, 0.7), 0.0, 1.0).astype(np.float32), level


def _tube(coords: tuple[npt.NDArray[np.float64], ...], path: npt.NDArray[np.float64], radius_mm: float) -> BoolArray:
    """Voxels within ``radius_mm`` of the polyline ``path`` (N, 3), in world mm."""
    out = np.zeros(np.broadcast_shapes(*(c.shape for c in coords)), dtype=bool)
    # Work only in the path's bounding box (grown by the radius).
    box = []
    for axis, c in enumerate(coords):
        inside = np.flatnonzero(np.abs(c.ravel() - np.clip(c.ravel(), path[:, axis].min(), path[:, axis].max())) <= radius_mm)
        if inside.size == 0:
            return out
        box.append(slice(int(inside[0]), int(inside[-1]) + 1))
    x, y, z = (c.reshape(-1)[b].reshape([-1 if a == axis else 1 for a in range(3)]) for axis, (c, b) in enumerate(zip(coords, box)))
    dist2 = np.full(out[tuple(box)].shape, np.inf, dtype=np.float32)
    for a, b in zip(path[:-1], path[1:]):
        ab = b - a
        t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / float(ab @ ab), 0.0, 1.0)
        d2 = (x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2 + (z - a[2] - t * ab[2]) ** 2
        dist2 = np.minimum(dist2, d2.astype(np.float32))
    out[tuple(box)] = dist2 <= np.float32(radius_mm**2)
    return out


def _perivascular_spaces(rng: np.random.Generator, zone: BoolArray, count: int) -> BoolArray:
    """``count`` thin tubes (1-2 mm wide, 3-12 mm long, within 25° of vertical) inside ``zone``."""
    out = np.zeros(zone.shape, dtype=bool)
    centres = np.flatnonzero(zone)
    if centres.size == 0:
        return out
    for _ in range(count):
        centre = np.array(np.unravel_index(centres[rng.integers(centres.size)], zone.shape), dtype=float)
        length, radius = rng.uniform(3.0, 12.0), rng.uniform(0.5, 1.0)
        tilt, turn = np.deg2rad(rng.uniform(0.0, 25.0)), rng.uniform(0.0, 2 * np.pi)
        axis = np.array([np.sin(tilt) * np.cos(turn), np.sin(tilt) * np.sin(turn), np.cos(tilt)])
        half = int(np.ceil(length / 2 + radius)) + 1
        lo = np.maximum(centre.astype(int) - half, 0)
        hi = np.minimum(centre.astype(int) + half + 1, zone.shape)
        grids = np.meshgrid(*(np.arange(a, b) - c for a, b, c in zip(lo, hi, centre)), indexing="ij", sparse=True)
        along = grids[0] * axis[0] + grids[1] * axis[1] + grids[2] * axis[2]
        across2 = grids[0] ** 2 + grids[1] ** 2 + grids[2] ** 2 - along**2
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        out[box] |= (np.abs(along) <= length / 2) & (across2 <= radius**2) & zone[box]
    return out
