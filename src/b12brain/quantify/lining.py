"""Caps and pencil-thin lining: thin periventricular bands, reported apart from lesions.

The Fazekas scale (Fazekas et al. 1987, AJR 149:351) grades "caps or pencil-thin lining" of the ventricles as
periventricular grade 1, the mildest finding. On pathology such caps and lining are mostly
non-ischaemic (subependymal gliosis, loosened myelin around the horns; Fazekas et al. 1993,
Neurology 43:1683 [U: not verified in the source here]), and expert lesion masks of MS studies leave them
out. b12brain therefore keeps them out of the lesion mask, table, counts and volumes, and
reports them as their own finding: their volume, their mask, and the periventricular Fazekas
grade 1 they give.

Rule (:data:`CAPS_LINING_RULE`), on the hyperintensity mask. Its part within
:data:`CAPS_LINING_REACH_MM` of the ventricles (the bound this tool uses for Fazekas
periventricular grade 1, ``burden.FAZEKAS_RULE``) is the *rim*; the rest *reaches further*.
Rim within the same distance of a part of its own lesion that reaches further is that lesion's
base and stays lesion (a smooth halo or an irregular lesion keeps its whole extent). Each
remaining piece of rim is a cap or lining when it touches the ventricles (LST-AI class
rule) and is band-shaped: at least :data:`BAND_ELONGATION` times as long as it reaches. A round
or ovoid focus touching a ventricle (the typical small MS lesion) is about as long as it
reaches and stays a lesion.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26, voxel_spacing_mm, voxel_volume_ml
from b12brain.quantify.burden import PV_GRADE1_REACH_MM
from b12brain.quantify.lesions import Lesion, measure_lesions
from b12brain.segment import drop_small_lesions
from b12brain.types import Affine, BoolArray

#: Thickest cap or lining (mm from the ventricle surface): Fazekas PV grade 1 of this tool.
CAPS_LINING_REACH_MM = PV_GRADE1_REACH_MM
#: A band is at least this many times as long as it reaches from the ventricle.
BAND_ELONGATION = 2.0
CAPS_LINING_RULE = (
    "Caps or pencil-thin lining (Fazekas periventricular grade 1; Fazekas et al. 1987, AJR 149:351), reported apart "
    f"from lesions: hyperintensity within {CAPS_LINING_REACH_MM:g} mm of the ventricle surface, "
    f"farther than {CAPS_LINING_REACH_MM:g} mm from any part of its lesion that reaches further, "
    f"in pieces that touch the ventricles and are at least {BAND_ELONGATION:g} times as long as "
    "they reach (bands, not ovoid foci) [U: thresholds of this tool]"
)


def is_cap_or_lining(piece: Lesion) -> bool:
    """Whether a measured piece of periventricular rim is band-shaped enough to be a cap or
    lining (the last test of :data:`CAPS_LINING_RULE`).

    Examples
    --------
    >>> band = Lesion(1, 0.2, 200, 0, 0, 0, 1.0, 3.0, 18.0, "periventricular")
    >>> focus = Lesion(2, 0.05, 50, 0, 0, 0, 1.0, 4.0, 5.0, "periventricular")
    >>> is_cap_or_lining(band), is_cap_or_lining(focus)
    (True, False)
    """
    reach = piece.reach_from_ventricles_mm
    return (
        piece.lesion_class == "periventricular"
        and reach <= CAPS_LINING_REACH_MM
        and piece.length_mm >= BAND_ELONGATION * reach
    )


def set_apart_caps_and_lining(
    mask: BoolArray,
    affine: Affine,
    *,
    ventricles: BoolArray,
    cortex: BoolArray,
    infratentorial: BoolArray,
    min_lesion_ml: float = 0.0,
) -> tuple[BoolArray, BoolArray, list[Lesion]]:
    """Split a hyperintensity mask into lesions and caps/lining (:data:`CAPS_LINING_RULE`).

    Arguments are those of :func:`~b12brain.quantify.lesions.measure_lesions`. A part of a
    lesion left smaller than ``min_lesion_ml`` once the lining it was joined to is set apart
    (a bump on the lining) goes with the lining, so that every lesion keeps the minimum size.

    Returns
    -------
    lesion_mask, caps_lining_mask : ndarray of bool
        Disjoint; together they are ``mask``.
    caps_lining : list of Lesion
        Each cap or lining measured (26-connected, by decreasing volume).
    """
    caps_mask = np.zeros(mask.shape, bool)
    # Rim, the parts of lesions near it, and any bump left on a lining lie in this box.
    box = _box_around(ventricles, affine, 3.0 * CAPS_LINING_REACH_MM + 1.0)
    if box is None or not mask[box].any():
        return mask.copy(), caps_mask, []
    spacing = voxel_spacing_mm(affine)
    hyper = mask[box]
    rim = hyper & (ndi.distance_transform_edt(~ventricles[box], sampling=spacing) <= CAPS_LINING_REACH_MM)
    further = hyper & ~rim
    pieces = rim
    if further.any():
        labels, _ = ndi.label(hyper, structure=CONNECTIVITY_26)
        reaching = np.unique(labels[further])
        near = ndi.distance_transform_edt(~further, sampling=spacing) <= CAPS_LINING_REACH_MM
        pieces = rim & ~(near & np.isin(labels, reaching))
    offset = np.eye(4)
    offset[:3, 3] = [s.start for s in box]
    box_affine = affine @ offset
    found, piece_labels = measure_lesions(
        pieces, box_affine, ventricles=ventricles[box], cortex=cortex[box], infratentorial=infratentorial[box]
    )
    keep = [x.id for x in found if is_cap_or_lining(x)]
    if not keep:
        return mask.copy(), caps_mask, []
    caps_mask[box] = np.isin(piece_labels, keep)
    if min_lesion_ml > 0:
        caps_mask |= _small_parts_beside(mask & ~caps_mask, caps_mask, affine, min_lesion_ml)
    caps, _ = measure_lesions(
        caps_mask[box], box_affine, ventricles=ventricles[box], cortex=cortex[box], infratentorial=infratentorial[box]
    )
    return mask & ~caps_mask, caps_mask, caps


def _small_parts_beside(lesions: BoolArray, caps: BoolArray, affine: Affine, min_ml: float) -> BoolArray:
    """The 26-connected parts of ``lesions`` smaller than ``min_ml`` that touch ``caps``."""
    voxel_ml = voxel_volume_ml(affine)
    small = lesions & ~drop_small_lesions(lesions, voxel_ml, min_lesion_ml=min_ml)
    labels, _ = ndi.label(small, structure=CONNECTIVITY_26)
    touching = np.unique(labels[ndi.binary_dilation(caps, structure=CONNECTIVITY_26) & small])
    return np.isin(labels, touching[touching > 0])


def _box_around(region: BoolArray, affine: Affine, margin_mm: float) -> tuple[slice, ...] | None:
    """The bounding box of ``region`` grown by ``margin_mm`` (clipped to the grid); None if empty."""
    if not region.any():
        return None
    spacing = voxel_spacing_mm(affine)
    grow = np.ceil(margin_mm / spacing).astype(int)
    box = ndi.find_objects(region.astype(np.uint8))[0]
    return tuple(
        slice(max(s.start - g, 0), min(s.stop + g, n)) for s, g, n in zip(box, grow, region.shape, strict=True)
    )
