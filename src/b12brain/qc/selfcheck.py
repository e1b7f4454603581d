"""Per-scan self-check: can the segmenter see lesions in *this* scan?

Synthetic lesions of known size and contrast are inserted into the scan's own normal-appearing
white matter, the segmenter is run again where they change its input, and the lesions it finds
among them give this scan's detection rate by lesion size and its volume error, rated
green/amber/red by :data:`RATING_RULE` (b12brain's own rule [U]).

How the lesions are made (none of it fitted to any scan):

* **Shapes** are the phantom engine's deep lesions (:func:`b12brain.phantom._lesions.blob`:
  randomly oriented, noise-perturbed ellipsoids on a 1 mm grid) with its soft partial-volume
  edge (:data:`b12brain.phantom.generate.LESION_EDGE_MM`), at the equivalent-sphere volumes of
  :data:`DESIGN_ML`, which span the three size bins.
* **On the scan's grid** each lesion's share of every voxel is its average over the voxel
  (sub-sampled every ``SUBSAMPLE_MM``), at a random sub-voxel position: on thick slices a small
  lesion fills part of one or two slices. Its volume is the sum of those shares (partial
  volume), and the size bins use that volume.
* **Contrast**: the FLAIR of a voxel becomes ``old * (1 + share * (c - 1))``, so the lesion
  keeps the scan's own bias, texture and noise. ``c`` is set so that the median of the
  lesion's outline as a reader draws it (:func:`b12brain.phantom.generate.visible_lesion`)
  is a contrast drawn from :data:`CONTRAST_RANGE`, the range of experts' lesion medians on real
  scans; ``c`` is at most :data:`MAX_CONTRAST`, the phantom engine's brightest deep lesion.
  A lesion left too faint for a reader to see at that ceiling is not counted.
* **Placement**: in normal-appearing white matter (atlas white matter >= ``NAWM_WM``, brain
  tissue, not cortex, infratentorial or ventricle, and no brighter than white matter +
  ``BRIGHT_SD`` SD, so a lesion the segmenter missed is not taken for normal tissue); each
  lesion wholly inside it, at least ``CLEARANCE_MM`` from the lesions found and from the
  ventricles (their lining), and ``SPACING_MM`` from the other synthetic lesions.
* **Seeded**: the same scan, segmenter and seed give the same record.

A synthetic lesion is found when the segmenter's lesion mask, made as the pipeline makes it
(:func:`b12brain.segment.postprocess.found_lesion_mask`), overlaps its outline (as lesion-wise
recall matches lesions in :mod:`b12brain.evaluate`). Its segmented volume is that of the
lesions overlapping it. Only the slices whose model input changed are run again
(:meth:`b12brain.segment.learned.LearnedSegmenter.predict` with ``slices``); a segmenter
without that option is run on the whole scan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26
from b12brain.phantom._lesions import blob
from b12brain.phantom.generate import LESION_EDGE_MM, visible_lesion
from b12brain.segment.learned import LearnedSegmenter
from b12brain.segment.postprocess import found_lesion_mask
from b12brain.segment.slices import CONTEXT
from b12brain.types import BoolArray, FloatArray, QCWarning, Volume

if TYPE_CHECKING:
    from b12brain.anatomy.localise import Anatomy
    from b12brain.segment.base import Segmenter

#: Seed of the lesions' shapes, sizes, contrasts and places (the same for every scan).
SEED = 19
#: Equivalent-sphere volumes (mL) of the lesions drawn: 6 under 0.05 mL, 4 of 0.1 mL, 3 more
#: of 0.05-0.5 mL and 3 over 0.5 mL.
DESIGN_ML = (0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.7, 1.0, 1.4)
#: The designed volume whose lesions answer "does this scan show 0.1 mL lesions?".
PROBE_ML = 0.1
#: Size bins (mL) of the inserted volume: name, lower bound (inclusive), upper bound.
SIZE_BINS = (("< 0.05 mL", 0.0, 0.05), ("0.05-0.5 mL", 0.05, 0.5), ("> 0.5 mL", 0.5, float("inf")))
#: Median FLAIR of a lesion's outline / white matter: the range of experts' lesion medians.
CONTRAST_RANGE = (1.2, 1.5)
#: Highest lesion/white-matter FLAIR ratio drawn (the phantom engine's brightest deep lesion).
MAX_CONTRAST = 2.2
NAWM_WM = 0.8
BRIGHT_SD = 3.0
CLEARANCE_MM = 5.0
SPACING_MM = 10.0
SUBSAMPLE_MM = 0.5
#: A voxel's lesion share below this is none (the phantom engine's level for "absent").
SHARE_ABSENT = 1e-3
_PLACE_TRIES = 60

#: b12brain's own rating rule [U], stated in every record.
RATING_RULE = (
    "b12brain's own rule [U]: red when fewer than half of the 0.1 mL synthetic lesions are found or "
    "under 30 % of all synthetic lesions are found; green when at least 70 % of all and at least 3 in 4 "
    "of the 0.1 mL ones are found and the median volume error of those found is within +/-50 %; "
    "amber otherwise"
)
#: What a rating does not say (measured on expert-labelled scans, docs/accuracy.md).
CAVEAT = (
    "the synthetic lesions are shaped like the phantoms the segmenter was trained on and lie in normal white "
    "matter; on 12 expert-labelled scans the rate did not follow the true lesion recall and a scan whose real "
    "lesions were mostly missed was rated green: a green rating does not show that the real lesions were found"
)
GREEN_RATE, RED_RATE, PROBE_GREEN, PROBE_RED, GREEN_VOLUME_ERROR = 0.7, 0.3, 0.75, 0.5, 50.0
WARNING_CODE = "self_check.small_lesions_missed"


@dataclass(frozen=True)
class SyntheticLesion:
    """One inserted lesion: its design, what was inserted, and what the segmenter made of it.

    ``design_ml`` is its equivalent-sphere volume as drawn, ``inserted_ml`` the sum of its
    share of each voxel of the scan's grid; ``contrast`` the median FLAIR of its outline over
    the tissue it replaced, ``peak_contrast`` that of a voxel it fills wholly; ``centre_mm`` is
    in world (scanner RAS) mm; ``segmented_ml`` the volume of the lesions found overlapping it.
    """

    design_ml: float
    inserted_ml: float
    contrast: float
    peak_contrast: float
    centre_mm: tuple[float, float, float]
    found: bool
    segmented_ml: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "design_ml": self.design_ml,
            "inserted_ml": round(self.inserted_ml, 4),
            "contrast": round(self.contrast, 3),
            "peak_contrast": round(self.peak_contrast, 3),
            "centre_mm": [round(v, 1) for v in self.centre_mm],
            "found": self.found,
            "segmented_ml": round(self.segmented_ml, 4),
        }


@dataclass(frozen=True)
class SelfCheck:
    """This scan's self-check (:func:`run_self_check`); ``as_dict`` is ``summary.json``'s
    ``self_check``."""

    seed: int
    lesions: tuple[SyntheticLesion, ...]
    not_placed: int
    not_visible: int
    slices_rerun: int
    seconds: float
    warnings: tuple[QCWarning, ...] = field(default=())

    @property
    def detection_rate(self) -> float | None:
        """Share of the synthetic lesions found (None when none could be placed)."""
        return _rate(self.lesions)

    @property
    def by_size(self) -> dict[str, dict[str, Any]]:
        """Inserted, found and detection rate of each size bin (:data:`SIZE_BINS`)."""
        out = {}
        for name, lo, hi in SIZE_BINS:
            inside = [s for s in self.lesions if lo <= s.inserted_ml < hi]
            rate = _rate(inside)
            out[name] = {"inserted": len(inside), "found": sum(s.found for s in inside),
                         "detection_rate": None if rate is None else round(rate, 3)}
        return out

    @property
    def probe_rate(self) -> float | None:
        """Share of the 0.1 mL synthetic lesions found."""
        return _rate([s for s in self.lesions if s.design_ml == PROBE_ML])

    @property
    def sees_0_1_ml(self) -> bool | None:
        """Whether this scan shows 0.1 mL lesions to the segmenter (at least half found)."""
        rate = self.probe_rate
        return None if rate is None else rate >= PROBE_RED

    @property
    def volume_error_percent(self) -> float | None:
        """Median of (segmented - inserted) / inserted over the lesions found, in %."""
        errors = [100.0 * (s.segmented_ml - s.inserted_ml) / s.inserted_ml for s in self.lesions if s.found]
        return float(np.median(errors)) if errors else None

    @property
    def rating(self) -> str:
        """``green``, ``amber`` or ``red`` by :data:`RATING_RULE` (``red`` when nothing could be placed)."""
        rate, probe, error = self.detection_rate, self.probe_rate, self.volume_error_percent
        if rate is None or probe is None or probe < PROBE_RED or rate < RED_RATE:
            return "red"
        if rate >= GREEN_RATE and probe >= PROBE_GREEN and error is not None and abs(error) <= GREEN_VOLUME_ERROR:
            return "green"
        return "amber"

    def describe(self) -> str:
        """One line for the QC image and the terminal."""
        bins = ", ".join(
            f"{name} {b['found']}/{b['inserted']}" for name, b in self.by_size.items() if b["inserted"]
        )
        error = self.volume_error_percent
        return (
            f"self-check {self.rating.upper()}: found {sum(s.found for s in self.lesions)} of {len(self.lesions)} "
            f"synthetic lesions ({bins}); 0.1 mL lesions {'seen' if self.sees_0_1_ml else 'NOT seen'}; "
            f"volume error {'n/a' if error is None else f'{error:+.0f} %'}"
        )

    def as_dict(self) -> dict[str, Any]:
        rate, error = self.detection_rate, self.volume_error_percent
        return {
            "rating": self.rating,
            "rule": RATING_RULE,
            "caveat": CAVEAT,
            "detection_rate": None if rate is None else round(rate, 3),
            "detection_by_size": self.by_size,
            "sees_0_1_ml": self.sees_0_1_ml,
            "detection_rate_0_1_ml": self.probe_rate,
            "volume_error_percent": None if error is None else round(error, 1),
            "volume_error_definition": (
                "median over the synthetic lesions found of (segmented - inserted) / inserted volume; the inserted "
                "volume is the lesion's partial-volume share of each voxel of this scan's grid, summed"
            ),
            "contrast_range": list(CONTRAST_RANGE),
            "seed": self.seed,
            "not_placed": self.not_placed,
            "not_visible": self.not_visible,
            "slices_rerun": self.slices_rerun,
            "seconds": round(self.seconds, 2),
            "lesions": [s.as_dict() for s in self.lesions],
        }


def run_self_check(
    flair: Volume,
    anatomy: Anatomy,
    segmenter: Segmenter,
    *,
    probability: FloatArray,
    found: BoolArray,
    threshold: float,
    min_lesion_ml: float,
    refine_edges: bool,
    seed: int = SEED,
) -> SelfCheck:
    """Insert synthetic lesions into ``flair``'s normal-appearing white matter, segment again,
    and measure what was found (see the module docstring).

    Parameters
    ----------
    flair : Volume
        The bias-corrected FLAIR on its closest-canonical grid, as the segmenter read it (not
        modified: the lesions go into a copy).
    anatomy : Anatomy
        Its anatomy.
    segmenter : Segmenter
        The segmenter of the run.
    probability : ndarray
        The segmenter's probability map of ``flair`` (the slices not touched are taken from it).
    found : ndarray of bool
        Everything the run found (lesions with caps and lining): kept clear of.
    threshold, min_lesion_ml, refine_edges
        The run's settings (:class:`b12brain.pipeline.PipelineConfig`).
    seed : int
        Seed of the lesions' shapes, sizes, contrasts and places.
    """
    start = time.perf_counter()
    original = np.asarray(flair.data, np.float32)
    data = original.copy()
    outlines = np.zeros(data.shape, np.int32)
    drawn, not_placed, not_visible = _insert_lesions(data, outlines, flair, anatomy, found, seed)
    touched = (data != original).any(axis=(0, 1))  # the slices whose signal changed
    rerun = np.flatnonzero(ndi.binary_dilation(touched, iterations=CONTEXT)) if touched.any() else np.array([], int)
    lesions: list[SyntheticLesion] = []
    if drawn:
        seeded = flair.with_data(data)
        if isinstance(segmenter, LearnedSegmenter):
            again = segmenter.predict(seeded, anatomy, None, slices=rerun, base=probability)
        else:
            again = segmenter.predict(seeded, anatomy, None)
        mask = found_lesion_mask(
            again, seeded, anatomy, threshold=threshold, min_lesion_ml=min_lesion_ml, refine_edges=refine_edges
        )
        labels, _ = ndi.label(mask, structure=CONNECTIVITY_26)
        sizes = np.bincount(labels.ravel()) * flair.voxel_volume_ml
        for number, (design_ml, inserted_ml, target, contrast, world) in enumerate(drawn, start=1):
            hit = np.unique(labels[outlines == number])
            hit = hit[hit > 0]
            lesions.append(SyntheticLesion(
                design_ml=design_ml,
                inserted_ml=inserted_ml,
                contrast=target,
                peak_contrast=contrast,
                centre_mm=(float(world[0]), float(world[1]), float(world[2])),
                found=bool(hit.size),
                segmented_ml=float(sizes[hit].sum()),
            ))
    check = SelfCheck(seed, tuple(lesions), not_placed, not_visible, int(rerun.size), time.perf_counter() - start)
    return _with_warnings(check, flair.source)


def _insert_lesions(
    data: FloatArray, outlines: npt.NDArray[np.int32], flair: Volume, anatomy: Anatomy, found: BoolArray, seed: int
) -> tuple[list[tuple[float, float, float, float, np.ndarray]], int, int]:
    """Draw, place and insert the lesions of :data:`DESIGN_ML` into ``data`` (a copy of
    ``flair``'s), writing each one's outline into ``outlines`` (1, 2, ...); return each
    inserted lesion's (design mL, inserted mL, outline contrast, peak contrast, world centre)
    and the counts of lesions not placed and not visible."""
    rng = np.random.default_rng(seed)
    spacing = np.asarray(flair.spacing_mm, np.float64)
    clearance = _clearance_mm(flair.data, anatomy, found, spacing)
    placed: list[tuple[np.ndarray, float]] = []
    drawn: list[tuple[float, float, float, float, np.ndarray]] = []
    not_placed = not_visible = 0
    for design_ml in sorted(DESIGN_ML, reverse=True):  # the largest are the hardest to fit
        radius = _radius_mm(design_ml)
        shape = ndi.gaussian_filter(blob(rng, 2.0 * radius).astype(np.float32), LESION_EDGE_MM)
        target = float(rng.uniform(*CONTRAST_RANGE))
        centre = _place(rng, clearance, spacing, radius, placed)
        if centre is None:
            not_placed += 1
            continue
        box, share = _share_on_grid(shape, centre, spacing, data.shape)
        outline = visible_lesion(share, share * np.float32(MAX_CONTRAST - 1.0))
        contrast = min(MAX_CONTRAST, 1.0 + (target - 1.0) / float(np.median(share[outline]))) if outline.any() else 1.0
        outline = visible_lesion(share, share * np.float32(contrast - 1.0))
        if not outline.any():
            not_visible += 1
            continue
        placed.append((centre * spacing, radius))
        data[box] *= 1.0 + share * np.float32(contrast - 1.0)
        outlines[box][outline] = len(drawn) + 1
        world = flair.affine @ np.append(centre, 1.0)
        drawn.append((design_ml, float(share.sum()) * flair.voxel_volume_ml, target, contrast, world[:3]))
    return drawn, not_placed, not_visible


def _with_warnings(check: SelfCheck, source: str) -> SelfCheck:
    if check.sees_0_1_ml is None:
        message = (
            "self-check: no synthetic lesion could be placed in this scan's normal-appearing white matter, so "
            "b12brain cannot tell whether the segmenter sees small lesions here; rated red"
        )
    elif not check.sees_0_1_ml:
        probes = [s for s in check.lesions if s.design_ml == PROBE_ML]
        message = (
            f"self-check: the segmenter found {sum(s.found for s in probes)} of {len(probes)} synthetic 0.1 mL "
            "lesions inserted into this scan's white matter; lesions of this size may be missed on this scan "
            "(lesion counts and volumes may be low); rated red"
        )
    else:
        return check
    return SelfCheck(check.seed, check.lesions, check.not_placed, check.not_visible, check.slices_rerun,
                     check.seconds, (QCWarning(WARNING_CODE, source, message),))


def _rate(lesions: list[SyntheticLesion] | tuple[SyntheticLesion, ...]) -> float | None:
    return sum(s.found for s in lesions) / len(lesions) if lesions else None


def _clearance_mm(data: FloatArray, anatomy: Anatomy, found: BoolArray, spacing: np.ndarray) -> FloatArray:
    """Distance (mm) from each voxel of normal-appearing white matter to anything a synthetic
    lesion must not touch; 0 outside it."""
    levels = anatomy.levels
    smooth = ndi.gaussian_filter(np.asarray(data, np.float32), (1.0, 1.0, 0.0))
    nawm = (
        (anatomy.wm >= NAWM_WM)
        & anatomy.parenchyma
        & ~anatomy.cortex
        & ~anatomy.infratentorial
        & ~anatomy.ventricles
        & (smooth <= levels.wm + BRIGHT_SD * levels.wm_sd)
    )
    clearance = np.zeros(data.shape, np.float32)
    if not nawm.any():
        return clearance
    # Distances within the white matter's bounding box, with room for what may lie just outside.
    margin = np.ceil((CLEARANCE_MM + max(_radius_mm(v) for v in DESIGN_ML)) / spacing).astype(int)
    where = np.argwhere(nawm)
    lo, hi = np.maximum(where.min(axis=0) - margin, 0), np.minimum(where.max(axis=0) + margin + 1, data.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    inside = ndi.distance_transform_edt(nawm[box], sampling=spacing)
    keep_off = (found | anatomy.ventricles)[box]
    if keep_off.any():
        inside = np.minimum(inside, ndi.distance_transform_edt(~keep_off, sampling=spacing) - CLEARANCE_MM)
    clearance[box] = np.where(nawm[box], inside, 0.0)
    return clearance


def _radius_mm(volume_ml: float) -> float:
    """Radius (mm) of a sphere of ``volume_ml``."""
    return float((3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0))


def _place(
    rng: np.random.Generator,
    clearance: FloatArray,
    spacing: np.ndarray,
    radius_mm: float,
    placed: list[tuple[np.ndarray, float]],
) -> np.ndarray | None:
    """A centre (voxel coordinates, sub-voxel) with room for the lesion, or None."""
    candidates = np.flatnonzero(clearance >= radius_mm)
    if candidates.size == 0:
        return None
    for _ in range(_PLACE_TRIES):
        voxel = np.array(np.unravel_index(candidates[rng.integers(candidates.size)], clearance.shape), np.float64)
        centre = voxel + rng.uniform(-0.5, 0.5, size=3)
        if all(np.linalg.norm((centre * spacing) - at) >= radius_mm + r + SPACING_MM for at, r in placed):
            return centre
    return None


def _share_on_grid(
    shape: FloatArray, centre: np.ndarray, spacing: np.ndarray, grid: tuple[int, ...]
) -> tuple[tuple[slice, slice, slice], FloatArray]:
    """The lesion's share of each voxel of the scan's grid near ``centre``: the soft lesion
    (drawn on a 1 mm grid centred on its middle voxel) averaged over each voxel."""
    half = (np.asarray(shape.shape) - 1) / 2.0
    box: list[slice] = []
    axes: list[np.ndarray] = []
    counts: list[int] = []
    for axis in range(3):
        reach = (half[axis] + 1.0) / spacing[axis]
        lo = max(0, int(np.floor(centre[axis] - reach)))
        hi = min(grid[axis], int(np.ceil(centre[axis] + reach)) + 1)
        n = max(1, int(np.ceil(spacing[axis] / SUBSAMPLE_MM)))
        offsets = ((np.arange(n) + 0.5) / n - 0.5) * spacing[axis]
        positions = ((np.arange(lo, hi) - centre[axis]) * spacing[axis])[:, None] + offsets[None, :]
        box.append(slice(lo, hi))
        axes.append(positions.ravel() + half[axis])  # in the 1 mm drawing's voxels
        counts.append(n)
    coords = np.meshgrid(*axes, indexing="ij")
    sampled = ndi.map_coordinates(shape, coords, order=1, cval=0.0)
    m = [s.stop - s.start for s in box]
    share = sampled.reshape(m[0], counts[0], m[1], counts[1], m[2], counts[2]).mean(axis=(1, 3, 5))
    share[share < SHARE_ABSENT] = 0.0  # the soft edge's far tail changes no slice
    return (box[0], box[1], box[2]), np.clip(share, 0.0, 1.0).astype(np.float32)
