"""Lesion edges placed where the FLAIR signal is half-way between lesion and surroundings.

A segmenter decides *where* the lesions are; where exactly a lesion ends is a question of the
scan's own intensities. Each detected lesion is compared with the normal-appearing tissue
around it and its edge is put at half the contrast between the two: the half-maximum rule that
delineates a blurred object at its true boundary. Per lesion and per scan, this adapts to
contrast, resolution and partial volume that a network trained on other data sees differently.

Edges move by at most one voxel outward, and in-plane only on thick-slice scans: there a lesion
thinner than the slice shows as its footprint at reduced contrast, and its in-plane
half-maximum outlines that footprint, as readers do (and as the phantoms' thick-slice truth
does, ``phantom.generate.visible_lesion``).

The same surroundings also tell a lesion from something outside the brain. A white-matter
lesion lies in parenchyma, which reads on FLAIR no brighter than grey matter; a detection whose
surroundings are brighter still lies in orbital fat, scalp or marrow that a mis-registered
brain mask took in, and is dropped (:func:`brain_tissue_ceiling`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26
from b12brain.types import BoolArray, FloatArray

#: Edge at this fraction of the way from the surrounding tissue's FLAIR level to the lesion's.
HALF_MAXIMUM = 0.5
#: The surroundings: parenchyma at this distance (mm) from the detection, other lesions left out.
RING_MM = (2.0, 4.0)
#: Fewest ring voxels for a trustworthy surrounding level; with fewer the detection stays as is.
MIN_RING_VOXELS = 5
#: Parts a detection splits into are kept only if at least this share of its largest part.
MIN_PART_SHARE = 0.1
#: An axis with voxels this many times the finest spacing is a thick-slice axis.
THICK_AXIS_RATIO = 2.0
#: Surroundings brighter than grey matter by this many white-matter SDs are not brain tissue.
CEILING_SD = 3.0


def brain_tissue_ceiling(wm: float, wm_sd: float, gm: float) -> float:
    """The brightest FLAIR level that brain tissue around a lesion can have: the brighter of white
    and grey matter plus ``CEILING_SD`` white-matter standard deviations.

    Examples
    --------
    >>> brain_tissue_ceiling(wm=100.0, wm_sd=10.0, gm=110.0)
    140.0
    """
    return max(wm, gm) + CEILING_SD * wm_sd


def refine_lesion_edges(
    mask: BoolArray,
    flair: FloatArray,
    parenchyma: BoolArray,
    spacing_mm: tuple[float, float, float],
    *,
    ceiling: float = np.inf,
) -> BoolArray:
    """Move the edge of every detected lesion to the FLAIR half-maximum between it and its surroundings.

    Parameters
    ----------
    mask : (X, Y, Z) ndarray of bool
        Detected lesions (26-connected components).
    flair : (X, Y, Z) ndarray of float
        The bias-corrected FLAIR the detections were made on.
    parenchyma : (X, Y, Z) ndarray of bool
        Brain tissue: lesions grow only into it and their surroundings are measured in it.
    spacing_mm : tuple of 3 floats
        Voxel size along each array axis.
    ceiling : float
        Brightest FLAIR level of brain tissue (:func:`brain_tissue_ceiling`); a detection whose
        surroundings are brighter is dropped. The default drops none.

    Returns
    -------
    (X, Y, Z) ndarray of bool
        For each detection, the voxels connected to it whose FLAIR reaches ``surround +
        HALF_MAXIMUM * (lesion - surround)``: ``lesion`` is the detection's median FLAIR,
        ``surround`` the median of the tissue ``RING_MM`` around it. Candidates are the
        detection and its face neighbours (in-plane ones only, across thick slices). A detection
        keeps its own voxels where its surroundings cannot be measured or are not darker than
        it, and is dropped where they are brighter than ``ceiling``. No lesion appears that was
        not detected.

    Raises
    ------
    ValueError
        ``mask``, ``flair`` and ``parenchyma`` are not 3D arrays of one shape, or ``spacing_mm``
        is not three positive voxel sizes.

    Examples
    --------
    A blurred bright spot detected too wide gets its edge back at half maximum:

    >>> flair = np.ones((21, 21, 3), np.float32); flair[8:13, 8:13, 1] = 3.0
    >>> flair = ndi.gaussian_filter(flair, (0.8, 0.8, 0))
    >>> wide = np.zeros(flair.shape, bool); wide[7:14, 7:14, 1] = True
    >>> edges = refine_lesion_edges(wide, flair, np.ones(flair.shape, bool), (1.0, 1.0, 5.0))
    >>> int(wide.sum()), int(edges.sum())
    (49, 25)

    On an isotropic grid a detection one voxel too narrow (5³ of a 7³ cube) grows back to it
    by its face neighbours (5³ + 6·5² voxels):

    >>> flair = np.ones((15, 15, 15), np.float32); flair[4:11, 4:11, 4:11] = 3.0
    >>> flair = ndi.gaussian_filter(flair, 0.8)
    >>> narrow = np.zeros(flair.shape, bool); narrow[5:10, 5:10, 5:10] = True
    >>> int(refine_lesion_edges(narrow, flair, np.ones(flair.shape, bool), (1.0, 1.0, 1.0)).sum())
    275
    """
    mask = np.asarray(mask, bool)
    shapes = {"mask": mask.shape, "flair": np.shape(flair), "parenchyma": np.shape(parenchyma)}
    if mask.ndim != 3 or len(set(shapes.values())) != 1:
        raise ValueError(f"mask, flair and parenchyma must be 3D arrays of one shape, not {shapes}")
    if len(spacing_mm) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing_mm):
        raise ValueError(f"spacing_mm must be three positive voxel sizes in mm, not {tuple(spacing_mm)}")
    labels, n = ndi.label(mask, structure=CONNECTIVITY_26)
    if n == 0:
        return mask.copy()
    thick = [s > THICK_AXIS_RATIO * min(spacing_mm) for s in spacing_mm]
    tissue = parenchyma | mask
    neighbours = _face_neighbours(thick)
    # The ring lies beyond a detection's face neighbours, so in it this marks other lesions.
    near_lesion = ndi.binary_dilation(mask, neighbours)
    pad = [int(np.ceil(RING_MM[1] / s)) + 1 for s in spacing_mm]
    refined = np.zeros_like(mask)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        box = tuple(slice(max(0, b.start - p), b.stop + p) for b, p in zip(box, pad, strict=True))
        detection = labels[box] == index
        distance = ndi.distance_transform_edt(~detection, sampling=spacing_mm)
        ring = (distance > RING_MM[0]) & (distance <= RING_MM[1]) & tissue[box] & ~near_lesion[box]
        reach = ndi.binary_dilation(detection, neighbours) & tissue[box]
        refined[box] |= _edge_at_half_maximum(detection, reach, flair[box], ring, ceiling)
    return refined


def _edge_at_half_maximum(
    detection: BoolArray, reach: BoolArray, image: FloatArray, ring: BoolArray, ceiling: float
) -> BoolArray:
    if ring.sum() < MIN_RING_VOXELS:
        return detection
    surround = float(np.median(image[ring]))
    if surround > ceiling:
        return np.zeros_like(detection)
    lesion = float(np.median(image[detection]))
    if lesion <= surround:
        return detection
    candidates = reach & (image >= surround + HALF_MAXIMUM * (lesion - surround))
    parts, _ = ndi.label(candidates, structure=CONNECTIVITY_26)
    touching = np.unique(parts[detection & candidates])
    touching = touching[touching > 0]
    if touching.size == 0:
        return detection
    sizes = np.asarray(ndi.sum_labels(candidates, parts, touching))
    return np.isin(parts, touching[sizes >= MIN_PART_SHARE * sizes.max()])


def _face_neighbours(thick: list[bool]) -> BoolArray:
    """Face-connected structuring element without neighbours along thick-slice axes."""
    structure = ndi.generate_binary_structure(3, 1)
    for axis in np.flatnonzero(thick):
        for end in (0, 2):
            index = [1, 1, 1]
            index[axis] = end
            structure[tuple(index)] = False
    return structure
