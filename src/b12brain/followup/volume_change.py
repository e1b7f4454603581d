"""Lesion volume change measured jointly on the aligned visits, one lesion group at a time.

Each run measures its lesions on its own scan; the difference of two such volumes holds the
change, but also everything that differs between two independent segmentations (noise, bias
field, where the edge fell, a lesion taken as caps/lining or given another class at one
visit). A change of a few percent of the lesion load drowns in that. Here every visit is
measured again on the reference grid, with one rule, one region and one class per group
(:data:`JOINT_RULE`, b12brain's own rule [U]):

* *region*: the voxels of the group at any visit (as the runs segmented them, on the
  reference grid), grown by one voxel (26-neighbours; a voxel next to two groups goes to one
  of them only);
* *surroundings*: at each visit, the median FLAIR of the voxels :data:`RING_MM` from the
  region that are no lesion at any visit, leaving out those darker than half the ring's 90th
  percentile (the ventricles beside a periventricular lesion);
* *lesion fraction* of a voxel at a visit: its FLAIR contrast over the surroundings (FLAIR /
  surroundings - 1) divided by the group's *full contrast*, clipped to 0-1. The full contrast is
  the median contrast of the group's *core* at a visit (segmented voxels whose in-plane
  neighbours, across the coarsest voxel axis, are all segmented: voxels filled with lesion), or, for a lesion without such a core
  (thinner than the slice), the :data:`PEAK_PERCENTILE` th percentile of its segmented voxels;
  measured on each visit's own scan and grid (:func:`own_full_contrast`: an earlier scan carried
  onto the reference grid is blurred by the resampling, which lowers it);
  the larger over the visits, so that one scale applies to every visit. On slices thicker than
  :data:`THICK_SLICE_MM` no voxel is surely pure lesion: through-plane partial volume lowers every
  lesion's own estimate, most so for a lesion thinner than the slice or a fragment at a lesion's
  edge that the segmentation cut off, which would then be measured too large; there a group's
  full contrast is at least the pair's *typical* one, the median of the own estimates of the
  groups with a core (when there are :data:`MIN_TYPICAL_GROUPS` or more);
* *volume* of the group at a visit: the sum of its region's lesion fractions times the
  reference voxel volume, less the *noise floor*: lesion-free tissue adds the positive part of
  its noise (fractions are clipped at 0), and more so on a sharp scan than on one smoothed by
  resampling; the ring's own mean fraction ``b`` measures it, and a region of ``N`` voxels whose
  fractions sum to ``S`` holds ``(S - b N) / (1 - b)`` voxels of lesion. A partial-volume sum
  keeps its value when an image is resampled (no edge is thresholded twice), so the visit
  carried onto the reference grid and the reference itself are measured alike.

Every measured group counts in its class's change, stable ones too: many lesions each changing
by less than the lesion-wise margins are a change of the class that a user needs to see.

Caps and pencil-thin lining (:mod:`b12brain.quantify.lining`) are no lesions, but they are the same
periventricular hyperintensity: a band that thickens turns lining into lesion at the later visit,
and one that thins turns lesion into lining. Measured apart by each run, a thickening band would
show as a loss of lining and a gain of lesion that do not add up. So each connected piece of
caps/lining (at any visit, outside the lesion groups) is measured by the same rule as a group of
its own (:func:`add_caps_lining`); it is kept out of the rings and of the pair's typical full
contrast, which are about lesions.

A group whose region leaves an earlier scan's view, or whose surroundings or contrast cannot
be measured, has no joint volume (NaN) and is counted in a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26

#: The surroundings: voxels this far (mm) from the group's region.
RING_MM = (2.0, 4.0)
#: Fewest core voxels (segmented, every in-plane neighbour segmented too) for a full contrast.
MIN_CORE_VOXELS = 5
#: Without such a core (a lesion thinner than the slice): this percentile of its voxels' contrast.
PEAK_PERCENTILE = 90.0
#: Slices thicker than this (mm): no voxel is surely pure lesion, and a lesion's full contrast is
#: at least the pair's typical one (the median over the groups with a core; at least
#: MIN_TYPICAL_GROUPS of them).
THICK_SLICE_MM = 3.0
MIN_TYPICAL_GROUPS = 3
#: Ring voxels darker than this share of the ring's 90th percentile are not parenchyma.
DARK_SHARE = 0.5
#: Fewest ring voxels for a surrounding level.
MIN_RING_VOXELS = 5
#: A full contrast below this (10 % over the surroundings) is no lesion to measure.
MIN_CONTRAST = 0.1
#: Surroundings whose own mean lesion fraction reaches this are too uneven to measure against.
MAX_FLOOR = 0.5
JOINT_RULE = (
    "b12brain's own rule [U]: per-class change is measured jointly on the reference grid, every visit "
    "aligned to it: each lesion group's region is its voxels at any visit grown by one voxel; at each "
    f"visit a voxel's lesion fraction is its FLAIR contrast over the median of the non-lesion voxels "
    f"{RING_MM[0]:g}-{RING_MM[1]:g} mm around the region (voxels under {DARK_SHARE:g} of the ring's 90th "
    f"percentile left out) divided by the group's full contrast (the median contrast of its segmented voxels "
    f"whose in-plane neighbours are all segmented, else the {PEAK_PERCENTILE:g}th percentile of its segmented "
    f"voxels, measured on each visit's own scan and grid, against the lesion's own surroundings; the larger over the "
    f"visits; on slices thicker than {THICK_SLICE_MM:g} mm at least the median of "
    f"that figure over the groups with such a core, when there are {MIN_TYPICAL_GROUPS} or more: partial volume "
    "through a thick slice lowers a thin lesion's own estimate), clipped to 0-1; the group's volume is (S - b N) / (1 - b) voxels, "
    "S the sum of its N region voxels' fractions and b the ring's mean fraction (the noise floor of "
    "lesion-free tissue); the group has one class at every visit (its "
    "class at the latest visit that has it); every measured group counts in its class's change, stable ones "
    "too (many lesions each changing under the lesion-wise margins are a change of the class); each connected piece "
    "of caps/lining (at any visit, outside the lesion groups) is measured by the same rule as a group of its own and "
    "sums to the caps/lining change (it is kept out of the lesions' rings and typical full contrast)"
)


@dataclass(frozen=True)
class GroupMeasurement:
    """How one lesion group was measured (:func:`measure_groups`): its volume at each visit
    (``volume_ml``), the same without the noise floor taken off (``raw_ml``), the noise floor
    ``b`` of each visit, the full contrast used, whether the group's own estimate came from a core
    (else from the peak of a lesion thinner than the slice) and whether the pair's typical full
    contrast replaced it (thick slices)."""

    volume_ml: tuple[float, ...]
    raw_ml: tuple[float, ...]
    floor: tuple[float, ...]
    full_contrast: float
    from_core: bool
    typical: bool


def joint_volumes(
    flairs: Sequence[npt.NDArray[np.floating]],
    labels: Sequence[npt.NDArray[np.integer]],
    lesion_ids: Sequence[Sequence[Sequence[int]]],
    group_map: npt.NDArray[np.integer],
    spacing_mm: tuple[float, float, float],
    voxel_ml: float,
    *,
    lesion_groups: int | None = None,
    own_contrasts: Sequence[Sequence[tuple[float, bool] | None]] | None = None,
) -> npt.NDArray[np.float64]:
    """Volume (mL) of each lesion group at each visit, measured by :data:`JOINT_RULE`.

    Parameters
    ----------
    flairs, labels : sequence of (X, Y, Z) ndarray
        Every visit's FLAIR and lesion labels on the reference grid (earlier visits aligned;
        0 outside an earlier scan's view).
    lesion_ids : sequence
        For group ``g`` (1-based, as in ``group_map``), ``lesion_ids[g - 1][k]`` are its lesion
        ids at visit ``k``.
    group_map : (X, Y, Z) ndarray of int
        The group of each lesion voxel, 0 elsewhere.
    spacing_mm : tuple of float
        Reference voxel size.
    voxel_ml : float
        Reference voxel volume.
    lesion_groups : int, optional
        Only the first this many groups are lesions (default: all); the others (caps/lining pieces,
        :func:`add_caps_lining`) are measured alike but leave the pair's typical full contrast alone.
    own_contrasts : sequence, optional
        ``own_contrasts[k][g]``: group ``g``'s full contrast at visit ``k`` measured on that visit's
        own scan (:func:`own_full_contrast`); where None or not given, it is measured on the
        reference grid.

    Returns
    -------
    (groups, visits) ndarray of float
        NaN where a group cannot be measured (see the module's description).
    """
    out = np.full((len(lesion_ids), len(flairs)), np.nan)
    measures = measure_groups(flairs, labels, lesion_ids, group_map, spacing_mm, voxel_ml, lesion_groups=lesion_groups,
                              own_contrasts=own_contrasts)
    for index, measured in enumerate(measures):
        if measured is not None:
            out[index] = measured.volume_ml
    return out


def measure_groups(
    flairs: Sequence[npt.NDArray[np.floating]],
    labels: Sequence[npt.NDArray[np.integer]],
    lesion_ids: Sequence[Sequence[Sequence[int]]],
    group_map: npt.NDArray[np.integer],
    spacing_mm: tuple[float, float, float],
    voxel_ml: float,
    *,
    lesion_groups: int | None = None,
    own_contrasts: Sequence[Sequence[tuple[float, bool] | None]] | None = None,
) -> list[GroupMeasurement | None]:
    """:func:`joint_volumes` with how each group was measured (None: not measurable).

    Parameters and rule as :func:`joint_volumes`.
    """
    n_visits = len(flairs)
    out: list[GroupMeasurement | None] = [None] * len(lesion_ids)
    if not lesion_ids:
        return out
    any_lesion = np.zeros(group_map.shape, dtype=bool)
    for lab in labels:
        any_lesion |= lab > 0
    grown = ndi.grey_dilation(group_map, footprint=CONNECTIVITY_26)
    regions = np.where(group_map > 0, group_map, grown).astype(np.int32)
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    in_plane = _in_plane(spacing)
    pad = np.ceil(RING_MM[1] / spacing).astype(int) + 1
    found: list[tuple[int, list[npt.NDArray[np.floating]], list[npt.NDArray[np.floating]], float, bool]] = []
    for index, box in enumerate(ndi.find_objects(regions, max_label=len(lesion_ids))):
        if box is None:
            continue
        box = tuple(slice(max(s.start - p, 0), min(s.stop + p, n)) for s, p, n in zip(box, pad, regions.shape))
        region = regions[box] == index + 1
        distance = ndi.distance_transform_edt(~region, sampling=spacing)
        ring = (distance >= RING_MM[0]) & (distance <= RING_MM[1]) & ~any_lesion[box] & (regions[box] == 0)
        contrasts, backgrounds = [], []
        for flair in flairs:
            values = flair[box]
            if not np.all(values[region] > 0):  # the region leaves this scan's view
                break
            tissue = _surroundings(values[ring])
            if tissue is None:
                break
            level = float(np.median(tissue))
            contrasts.append(values[region] / level - 1.0)
            backgrounds.append(tissue / level - 1.0)
        if len(contrasts) < n_visits:
            continue
        peaks = []
        for k, (c, lab, ids) in enumerate(zip(contrasts, labels, lesion_ids[index])):
            if ids:
                given = own_contrasts[k][index] if own_contrasts is not None and index < len(own_contrasts[k]) else None
                peaks.append(given or _full_contrast(c, np.isin(lab[box], ids), region, in_plane))
        peak, from_core = max(peaks, default=(0.0, False))
        found.append((index, contrasts, backgrounds, peak, from_core))
    # On thick slices partial volume lowers every lesion's own estimate, most so for a thin lesion or
    # a fragment at a lesion's edge: none is given less than the typical lesion of these scans shows.
    lesion_groups = len(lesion_ids) if lesion_groups is None else lesion_groups
    cored = [peak for index, *_, peak, from_core in found if from_core and index < lesion_groups]
    typical = 0.0
    if float(spacing.max()) > THICK_SLICE_MM and len(cored) >= MIN_TYPICAL_GROUPS:
        typical = float(np.median(cored))
    for index, contrasts, backgrounds, own, from_core in found:
        peak = max(own, typical)
        if peak < MIN_CONTRAST:
            continue
        volumes, raws, floors = [], [], []
        for c, b in zip(contrasts, backgrounds):
            # Lesion-free tissue adds its noise's positive part (clipped fractions): the ring's
            # mean clipped fraction, taken off the share of the region that is not lesion.
            floor = float(np.clip(b / peak, 0.0, 1.0).mean())
            total = float(np.clip(c / peak, 0.0, 1.0).sum())
            volumes.append(max(total - floor * c.size, 0.0) / (1.0 - floor) * voxel_ml if floor < MAX_FLOOR else np.nan)
            raws.append(total * voxel_ml)
            floors.append(floor)
        out[index] = GroupMeasurement(tuple(volumes), tuple(raws), tuple(floors), peak, from_core, peak > own)
    return out


def add_caps_lining(
    labels: Sequence[npt.NDArray[np.integer]],
    lesion_ids: Sequence[Sequence[Sequence[int]]],
    group_map: npt.NDArray[np.integer],
    caps_lining: Sequence[npt.NDArray[np.bool_]],
) -> tuple[list[npt.NDArray[np.int32]], list[list[list[int]]], npt.NDArray[np.int32], int]:
    """The caps/lining pieces as extra groups, after the lesion groups, for :func:`joint_volumes`.

    A piece is a connected part (26-neighbours) of the voxels that are caps/lining at any visit and
    in no lesion group. Each piece ``p`` (1-based) becomes group ``len(lesion_ids) + p``, with
    label ``offset + p`` at the visits where it is caps/lining (``offset`` above every lesion id).

    Returns
    -------
    labels, lesion_ids, group_map
        The inputs with the pieces added.
    pieces : int
        How many pieces were added.
    """
    pieces, count = ndi.label(np.logical_or.reduce(caps_lining) & (group_map == 0), structure=CONNECTIVITY_26)
    offset = max(int(lab.max()) for lab in labels) + 1
    out_labels = [np.where(caps & (pieces > 0), pieces + offset, lab).astype(np.int32)
                  for lab, caps in zip(labels, caps_lining)]
    present = [set(np.unique(pieces[caps]).tolist()) - {0} for caps in caps_lining]
    out_ids = [[list(ids) for ids in group] for group in lesion_ids]
    out_ids += [[[offset + p] if p in seen else [] for seen in present] for p in range(1, count + 1)]
    out_map = np.where(pieces > 0, pieces + len(lesion_ids), group_map).astype(np.int32)
    return out_labels, out_ids, out_map, count


def own_full_contrast(
    flair: npt.NDArray[np.floating],
    labels: npt.NDArray[np.integer],
    lesion_ids: Sequence[Sequence[int]],
    not_tissue: npt.NDArray[np.bool_],
    spacing_mm: tuple[float, float, float],
) -> list[tuple[float, bool] | None]:
    """Each group's full contrast at one visit, measured on that visit's own scan and grid.

    An earlier scan carried onto the reference grid is blurred by the resampling (most across
    thick slices), which lowers a lesion's contrast there; on its own grid it is as sharp as it
    was acquired. The estimate is :data:`JOINT_RULE`'s (core median, else the peak percentile),
    against the surroundings of the lesion itself (its voxels grown by one voxel, the ring
    :data:`RING_MM` away, ``not_tissue`` voxels left out).

    Parameters
    ----------
    flair, labels : (X, Y, Z) ndarray
        The visit's FLAIR and lesion labels on its own grid.
    lesion_ids : sequence of sequence of int
        Each group's lesion ids at this visit (empty: absent).
    not_tissue : (X, Y, Z) ndarray of bool
        Voxels that are no surroundings (lesions, caps/lining).
    spacing_mm : tuple of float
        The visit's voxel size.

    Returns
    -------
    list
        ``(full contrast, from a core)`` per group; None where the group is absent at this visit
        or its surroundings cannot be measured.
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    in_plane = _in_plane(spacing)
    pad = np.ceil(RING_MM[1] / spacing).astype(int) + 1
    boxes = ndi.find_objects(labels)
    out: list[tuple[float, bool] | None] = []
    for ids in lesion_ids:
        found = [boxes[i - 1] for i in ids if 0 < i <= len(boxes) and boxes[i - 1] is not None]
        if not found:
            out.append(None)
            continue
        box = tuple(slice(max(min(b[a].start for b in found) - pad[a], 0), min(max(b[a].stop for b in found) + pad[a], n))
                    for a, n in enumerate(labels.shape))
        lesion = np.isin(labels[box], ids)
        region = ndi.binary_dilation(lesion, structure=CONNECTIVITY_26)
        distance = ndi.distance_transform_edt(~region, sampling=spacing)
        values = flair[box]
        tissue = _surroundings(values[(distance >= RING_MM[0]) & (distance <= RING_MM[1]) & ~not_tissue[box]])
        if tissue is None:
            out.append(None)
            continue
        out.append(_full_contrast(values[region] / float(np.median(tissue)) - 1.0, lesion, region, in_plane))
    return out


def _in_plane(spacing: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """The 3x3 plane across the coarsest axis (the slices of a thick-slice scan; the last axis on ties)."""
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[:, :, 1] = True
    return np.moveaxis(in_plane, -1, 2 - int(np.argmax(spacing[::-1])))


def _full_contrast(contrast: npt.NDArray[np.floating], lesion: npt.NDArray[np.bool_],
                   region: npt.NDArray[np.bool_], in_plane: npt.NDArray[np.bool_]) -> tuple[float, bool]:
    """Median contrast of the lesion's core (voxels whose in-plane neighbours are all lesion) and
    True; the :data:`PEAK_PERCENTILE` th percentile of all its voxels when the core is too small,
    and False."""
    core = ndi.binary_erosion(lesion, structure=in_plane)[region]
    inside = lesion[region]
    if np.count_nonzero(core) >= MIN_CORE_VOXELS:
        return float(np.median(contrast[core])), True
    return (float(np.percentile(contrast[inside], PEAK_PERCENTILE)), False) if inside.any() else (0.0, False)


def _surroundings(ring: npt.NDArray[np.floating]) -> npt.NDArray[np.floating] | None:
    """The parenchyma in ``ring`` (see :data:`DARK_SHARE`); None if too few voxels."""
    ring = ring[ring > 0]
    if ring.size < MIN_RING_VOXELS:
        return None
    tissue = ring[ring >= DARK_SHARE * np.percentile(ring, 90)]
    return tissue if tissue.size >= MIN_RING_VOXELS else None
