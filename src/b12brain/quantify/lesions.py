"""One row per lesion: size, place, distance to the ventricles, and anatomical class.

Class rule (the rule LST-AI uses; docs/clinical-reference.md): a lesion whose 3×3×3 dilation touches the
ventricles is *periventricular*; else, if most of it lies below the tentorium, *infratentorial*;
else, if it touches the cortex, *juxtacortical*; else *deep* (subcortical).

LST-AI applies the rule on 1 mm isotropic images. "Touches the cortex" is therefore taken as
"a 26-neighbour within 1.75 mm" (the full 3×3×3 cube at 1 mm): on thick-slice scans the next
slice, 5-8 mm away, cannot show contact with a thin cortical ribbon, so only in-plane neighbours
count there. Ventricle contact keeps the literal 3×3×3 voxel neighbourhood: a lesion capping
the ventricle roof in the next thick slice is periventricular to a radiologist too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26, voxel_spacing_mm, voxel_volume_ml
from b12brain.preprocess.masks import neighbourhood
from b12brain.types import Affine, BoolArray

LESION_CLASSES = ("periventricular", "deep", "juxtacortical", "infratentorial")
CLASS_RULE = (
    "LST-AI lesion location rule: 3x3x3 dilation touches the ventricles -> periventricular; "
    "else mostly below the tentorium -> infratentorial; else touches the cortex (a neighbour "
    "within 1.75 mm, i.e. 3x3x3 at 1 mm, in-plane only on thick slices) -> juxtacortical; else deep"
)


@dataclass(frozen=True)
class Lesion:
    """One 26-connected lesion.

    ``distance_to_ventricles_mm`` is the smallest distance from a lesion voxel centre to a
    ventricle voxel centre (world mm; one voxel size when adjacent); ``reach_from_ventricles_mm``
    the largest; ``length_mm`` the lesion's extent along its longest axis.
    """

    id: int
    volume_ml: float
    voxels: int
    centroid_x_mm: float
    centroid_y_mm: float
    centroid_z_mm: float
    distance_to_ventricles_mm: float
    reach_from_ventricles_mm: float
    length_mm: float
    lesion_class: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_lesions(
    mask: BoolArray,
    affine: Affine,
    *,
    ventricles: BoolArray,
    cortex: BoolArray,
    infratentorial: BoolArray,
) -> tuple[list[Lesion], npt.NDArray[np.int32]]:
    """Label the lesions of ``mask`` (26-connectivity) and measure and classify each.

    Parameters
    ----------
    mask : (X, Y, Z) ndarray of bool
        Lesion mask on a grid whose voxel axes are orthogonal (any orientation).
    affine : (4, 4) ndarray
        Voxel-to-world (RAS+ mm) affine of that grid.
    ventricles, cortex, infratentorial : (X, Y, Z) ndarray of bool
        Anatomy on the same grid.

    Returns
    -------
    lesions : list of Lesion
        Sorted by decreasing volume; ``id`` is the position in that order, from 1.
    labels : (X, Y, Z) ndarray of int32
        0 background, else the lesion ``id``.
    """
    spacing = voxel_spacing_mm(affine)
    voxel_ml = voxel_volume_ml(affine)
    near = neighbourhood(spacing)
    labels, n = ndi.label(mask, structure=CONNECTIVITY_26)
    if n == 0:
        return [], labels.astype(np.int32)
    if ventricles.any():
        to_ventricles = ndi.distance_transform_edt(~ventricles, sampling=spacing)
    else:
        to_ventricles = np.full(mask.shape, np.inf)
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    order = np.argsort(-counts[1:], kind="stable") + 1  # old label, by decreasing size
    new_id = np.zeros(n + 1, np.int32)
    new_id[order] = np.arange(1, n + 1, dtype=np.int32)
    labels = new_id[labels]
    objects = ndi.find_objects(labels)
    lesions = []
    for lesion_id, box in enumerate(objects, start=1):
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        region = labels[grown] == lesion_id
        halo = ndi.binary_dilation(region, structure=CONNECTIVITY_26)
        contact = ndi.binary_dilation(region, structure=near)
        ijk = np.argwhere(region) + [s.start for s in grown]
        world = ijk @ affine[:3, :3].T + affine[:3, 3]
        distances = to_ventricles[grown][region]
        lesions.append(
            Lesion(
                id=lesion_id,
                volume_ml=round(float(len(ijk)) * voxel_ml, 5),
                voxels=len(ijk),
                centroid_x_mm=round(float(world[:, 0].mean()), 2),
                centroid_y_mm=round(float(world[:, 1].mean()), 2),
                centroid_z_mm=round(float(world[:, 2].mean()), 2),
                distance_to_ventricles_mm=_round(float(distances.min())),
                reach_from_ventricles_mm=_round(float(distances.max())),
                length_mm=round(_length_mm(world, affine), 2),
                lesion_class=_classify(
                    halo, contact, region, ventricles[grown], cortex[grown], infratentorial[grown]
                ),
            )
        )
    return lesions, labels


def _classify(
    halo: BoolArray,
    contact: BoolArray,
    region: BoolArray,
    ventricles: BoolArray,
    cortex: BoolArray,
    infratentorial: BoolArray,
) -> str:
    if (halo & ventricles).any():
        return "periventricular"
    if infratentorial[region].mean() > 0.5:
        return "infratentorial"
    if (contact & cortex).any():
        return "juxtacortical"
    return "deep"


def _length_mm(world: npt.NDArray[np.float64], affine: Affine) -> float:
    """Extent along the principal axis, plus one voxel's size along that axis."""
    spacing = voxel_spacing_mm(affine)
    if len(world) == 1:
        return float(spacing.min())
    centred = world - world.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projection = centred @ axes[0]
    return float(projection.max() - projection.min() + np.abs(axes[0] @ (affine[:3, :3] / spacing)) @ spacing)


def _round(value: float) -> float:
    return round(value, 2) if np.isfinite(value) else float("nan")
