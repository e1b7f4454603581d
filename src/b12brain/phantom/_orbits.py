"""Eyes and orbits of a phantom: dark vitreous and bright orbital fat under the frontal lobes.

On FLAIR, orbital fat is as bright as a lesion, and on thick clinical slices it shares a slice
with the orbitofrontal cortex; real scans have it, so the phantoms do too.

Each orbit is a globe (fluid: dark on FLAIR and T1) in front of a cone of fat that narrows
back to the orbital apex. Positions are MNI mm, taken against the atlas used here: the
orbitofrontal surface lies at z ~ -20 mm for |x| = 32 mm and y = 40-60 mm, so a globe of
radius 12 mm centred at z = -37 mm leaves ~5 mm of fat and bone under the brain. Nothing of an
orbit comes within ``BRAIN_CLEARANCE_MM`` of the brain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from b12brain.phantom._fields import mm_grids

FloatArray = npt.NDArray[np.float32]

#: Right globe centre, MNI mm (the left one mirrors x).
GLOBE_CENTRE_MM = (32.0, 62.0, -37.0)
GLOBE_RADIUS_MM = 12.0
#: Right orbital apex, MNI mm: the fat cone narrows from the globe back to it.
APEX_MM = (14.0, 22.0, -30.0)
#: Radius of the fat cone at the globe centre and at the apex.
CONE_RADIUS_MM = (15.0, 3.0)
#: Bone and CSF between the brain and anything of an orbit.
BRAIN_CLEARANCE_MM = 3.0
#: The box (MNI mm, x/y/z ranges) that holds both orbits.
_BOX_MM = ((-52.0, 52.0), (10.0, 80.0), (-56.0, -14.0))


@dataclass(frozen=True, eq=False)
class Orbits:
    """Soft fractions (0..1) of vitreous and fat on ``box`` of the atlas grid, and the distance
    (mm, approximate for the cone) outside the orbits, with which the head wraps them."""

    box: tuple[slice, slice, slice]
    globe: FloatArray
    fat: FloatArray
    distance: FloatArray


def make_orbits(
    affine: npt.NDArray[np.float64], shape: tuple[int, ...], dist_outside_brain: FloatArray, rng: np.random.Generator
) -> Orbits:
    """Both orbits of one subject: the design shifted by ~2 mm and scaled by 0.9-1.1.

    ``affine`` and ``shape`` are the atlas grid's (axis-aligned, 1 mm), ``dist_outside_brain``
    the distance (mm) outside the brain on it.
    """
    lo = [int(np.clip(np.floor((b[0] - affine[i, 3]) / affine[i, i]), 0, shape[i])) for i, b in enumerate(_BOX_MM)]
    hi = [int(np.clip(np.ceil((b[1] - affine[i, 3]) / affine[i, i]) + 1, 0, shape[i])) for i, b in enumerate(_BOX_MM)]
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    x, y, z = mm_grids(affine, shape, box)
    shift = rng.normal(0.0, 2.0, size=3)
    scale = rng.uniform(0.9, 1.1)
    globe = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape), np.float32)
    cone = np.zeros_like(globe)
    distance = np.full(globe.shape, np.inf, np.float32)
    for side in (1.0, -1.0):
        centre = np.array(GLOBE_CENTRE_MM) * (side, 1.0, 1.0) + shift
        apex = np.array(APEX_MM) * (side, 1.0, 1.0) + shift
        dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
        from_centre = np.sqrt(dx * dx + dy * dy + dz * dz)
        globe = np.maximum(globe, _inside(from_centre, GLOBE_RADIUS_MM * scale))
        axis = apex - centre
        length = float(np.linalg.norm(axis))
        u = axis / length
        along = dx * u[0] + dy * u[1] + dz * u[2]
        t = np.clip(along / length, 0.0, 1.0)
        off = np.sqrt((dx - t * axis[0]) ** 2 + (dy - t * axis[1]) ** 2 + (dz - t * axis[2]) ** 2)
        radius = scale * (CONE_RADIUS_MM[0] + (CONE_RADIUS_MM[1] - CONE_RADIUS_MM[0]) * t)
        behind = along >= 0.0
        cone = np.maximum(cone, np.where(behind, _inside(off, radius), 0.0).astype(np.float32))
        outside_cone = np.where(behind, np.maximum(off - radius, 0.0), np.inf)
        distance = np.minimum(distance, np.minimum(np.maximum(from_centre - GLOBE_RADIUS_MM * scale, 0.0), outside_cone))
    clear = _inside(BRAIN_CLEARANCE_MM, np.asarray(dist_outside_brain[box], np.float32))
    globe *= clear
    fat = np.clip(cone - globe, 0.0, 1.0) * clear
    return Orbits(box, globe.astype(np.float32), fat.astype(np.float32), distance.astype(np.float32))


def paint_orbits(image: FloatArray, orbits: Orbits, vitreous: float, fat: float) -> FloatArray:
    """``image`` with the orbits' signal blended in (in place; returned for chaining)."""
    part = image[orbits.box]
    rest = np.float32(1.0) - orbits.globe - orbits.fat
    image[orbits.box] = part * rest + np.float32(vitreous) * orbits.globe + np.float32(fat) * orbits.fat
    return image


def _inside(distance: npt.ArrayLike, radius: npt.ArrayLike) -> FloatArray:
    """Soft inside-ness of a point ``distance`` from a centre within ``radius`` (1 mm edge)."""
    return np.clip(np.asarray(radius, np.float32) - np.asarray(distance, np.float32) + np.float32(0.5), 0.0, 1.0)
