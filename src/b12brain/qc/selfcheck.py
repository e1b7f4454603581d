"""Per-scan self-check: can the segmenter see small and faint lesions in *this* scan?

Synthetic lesions of known size and contrast are inserted into the scan's own normal-appearing
white matter, the segmenter is run again where they change its input, and the share of the
*hard* ones it finds (small or faint: where detection differs between scans, and what a
lesion-wise recall mostly counts) is this scan's estimated detection rate; with the detection
rate by size and contrast and the volume error it is rated green/amber/red by
:data:`RATING_RULE` (b12brain's own rule [U]). The design was chosen on a phantom validation
family of varied difficulty, where the true recall is known (``benchmarks/self_check.py
--phantoms``; docs/accuracy.md).

How the lesions are made (none of it fitted to any real scan):

* **Shapes** are the phantom engine's deep lesions (:func:`b12brain.phantom._lesions.blob`:
  randomly oriented, noise-perturbed ellipsoids on a 1 mm grid) with its soft partial-volume
  edge (:data:`b12brain.phantom.generate.LESION_EDGE_MM`), at the equivalent-sphere volumes of
  :data:`DESIGN`: mostly punctate to small (0.003-0.04 mL), some 0.1 mL probes and a few larger.
* **On the scan's grid** each lesion's share of every voxel is its average over the voxel
  (sub-sampled every ``SUBSAMPLE_MM``), at a random sub-voxel position: on thick slices a small
  lesion fills part of one or two slices. Its volume is the sum of those shares (partial
  volume), and the size bins use that volume.
* **Contrast**: the FLAIR of a voxel becomes ``old * (1 + share * (c - 1))``, so the lesion
  keeps the scan's own bias, texture and noise. ``c`` is set so that the median of the
  lesion's outline as a reader draws it (:func:`b12brain.phantom.generate.visible_lesion`)
  is a target contrast, stratified over the design's range within each size bin, but never
  fainter than a reader just sees (``VISIBLE_EXCESS`` at its brightest voxel) and at most
  :data:`MAX_CONTRAST`, the phantom engine's brightest deep lesion. A lesion too faint for a
  reader at that ceiling (a punctate one on thick slices) is not counted (``not_visible``),
  as it would be in no expert's mask.
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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.geometry import CONNECTIVITY_26
from b12brain.phantom._lesions import blob
from b12brain.phantom.generate import LESION_EDGE_MM, VISIBLE_EXCESS, visible_lesion
from b12brain.segment.learned import LearnedSegmenter
from b12brain.segment.postprocess import found_lesion_mask
from b12brain.segment.slices import CONTEXT
from b12brain.types import BoolArray, FloatArray, QCWarning, Volume

if TYPE_CHECKING:
    from b12brain.anatomy.localise import Anatomy
    from b12brain.segment.base import Segmenter

#: Seed of the lesions' shapes, sizes, contrasts and places (the same for every scan).
SEED = 19
#: Size bins (mL) of the inserted volume: name, lower bound (inclusive), upper bound.
SIZE_BINS = (("< 0.05 mL", 0.0, 0.05), ("0.05-0.5 mL", 0.05, 0.5), ("> 0.5 mL", 0.5, float("inf")))
#: Contrast bins (median FLAIR of the lesion's outline / white matter): name, lower, upper.
CONTRAST_BINS = (("< 1.25", 0.0, 1.25), ("1.25-1.35", 1.25, 1.35), (">= 1.35", 1.35, float("inf")))


@dataclass(frozen=True)
class Design:
    """What synthetic lesions are drawn.

    ``sizes_ml`` are equivalent-sphere volumes (mL); the lesions of each size bin
    (:data:`SIZE_BINS`, by design volume) get outline contrasts spread evenly over
    ``contrast_range`` (one random value in each of as many equal strata as the bin has lesions,
    in random order), so that every bin spans faint to clear lesions whatever the seed.
    """

    sizes_ml: tuple[float, ...]
    contrast_range: tuple[float, float]


#: The lesions drawn: 32 under 0.05 mL (two of each size, from punctate 0.003 mL, a 1.8 mm
#: focus, up), 6 of 0.1 mL, 3 more of 0.05-0.5 mL and 2 over 0.5 mL, at outline contrasts
#: 1.1-1.4 x white matter: faint to typical, where detection is decided (experts' lesion
#: medians on real scans span about 1.2-1.5; a reader sees a lesion from 1.2 at its brightest
#: voxel). Most lesions a lesion-wise recall counts are small, and most missed ones are under
#: 0.05 mL. The many small lesions cost little: on clinical slices they touch the slices the
#: others touch, and only those are segmented again.
DESIGN = Design(
    sizes_ml=(0.003, 0.003, 0.004, 0.005, 0.005, 0.006, 0.008, 0.008, 0.01, 0.012, 0.012, 0.015, 0.02, 0.025, 0.03, 0.04) * 2
    + (0.1,) * 6
    + (0.2, 0.3, 0.4, 0.7, 1.0),
    contrast_range=(1.1, 1.4),
)
#: The designed volume whose lesions answer "does this scan show 0.1 mL lesions?".
PROBE_ML = 0.1
#: A synthetic lesion is *hard* when it is small (designed under 0.05 mL) or faint (outline
#: contrast under this): the lesions whose detection differs between scans.
FAINT = 1.25
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
    "b12brain's own rule [U], on the estimated detection rate E, the share of the hard synthetic lesions found "
    "(those under 0.05 mL or fainter than 1.25 x white matter): red when E < 0.3 or fewer than half of the 0.1 mL "
    "synthetic lesions are found; green when E >= 0.5, at least 2 in 3 of the 0.1 mL ones are found and the median "
    "volume error of those found is within +/-50 %; amber otherwise"
)
#: What a rating does not say (measured on phantoms and expert-labelled scans, docs/accuracy.md).
CAVEAT = (
    "the synthetic lesions are drawn by the phantom engine and lie in normal white matter; the rate says how well "
    "small and faint lesions like them are seen in this scan, not how many of this scan's own lesions are small or "
    "faint: a green rating does not show that the real lesions were found (validation: docs/accuracy.md)"
)
#: The rule's thresholds (set on the phantom validation family, never on real scans).
GREEN_RATE, RED_RATE, PROBE_GREEN, PROBE_RED, GREEN_VOLUME_ERROR = 0.5, 0.3, 2.0 / 3.0, 0.5, 50.0
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
    contrast_range: tuple[float, float] = DESIGN.contrast_range
    warnings: tuple[QCWarning, ...] = field(default=())

    @property
    def detection_rate(self) -> float | None:
        """Share of the synthetic lesions found (None when none could be placed)."""
        return _rate(self.lesions)

    @property
    def hard_lesions(self) -> list[SyntheticLesion]:
        """The hard synthetic lesions: designed under 0.05 mL, or fainter than :data:`FAINT`."""
        return [s for s in self.lesions if _hard(s)]

    @property
    def estimated_detection_rate(self) -> float | None:
        """The rating's E: the share of :attr:`hard_lesions` found (None when there are none)."""
        return _rate(self.hard_lesions)

    @property
    def by_size(self) -> dict[str, dict[str, Any]]:
        """Inserted, found and detection rate of each size bin (:data:`SIZE_BINS`)."""
        return {name: _bin([s for s in self.lesions if lo <= s.inserted_ml < hi]) for name, lo, hi in SIZE_BINS}

    @property
    def by_contrast(self) -> dict[str, dict[str, Any]]:
        """Inserted, found and detection rate of each contrast bin (:data:`CONTRAST_BINS`)."""
        return {name: _bin([s for s in self.lesions if lo <= s.contrast < hi]) for name, lo, hi in CONTRAST_BINS}

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
        estimate, probe, error = self.estimated_detection_rate, self.probe_rate, self.volume_error_percent
        if estimate is None or probe is None or probe < PROBE_RED or estimate < RED_RATE:
            return "red"
        if estimate >= GREEN_RATE and probe >= PROBE_GREEN and error is not None and abs(error) <= GREEN_VOLUME_ERROR:
            return "green"
        return "amber"

    def describe(self) -> str:
        """One line for the QC image and the terminal."""
        bins = ", ".join(
            f"{name} {b['found']}/{b['inserted']}" for name, b in self.by_size.items() if b["inserted"]
        )
        error = self.volume_error_percent
        hard, estimate = self.hard_lesions, self.estimated_detection_rate
        return (
            f"self-check {self.rating.upper()}: estimated detection rate "
            f"{'n/a' if estimate is None else f'{estimate:.2f}'} ({sum(s.found for s in hard)} "
            f"of {len(hard)} small or faint synthetic lesions found); all found by size: {bins}; "
            f"0.1 mL lesions {'seen' if self.sees_0_1_ml else 'NOT seen'}; "
            f"volume error {'n/a' if error is None else f'{error:+.0f} %'}"
        )

    def as_dict(self) -> dict[str, Any]:
        rate, error, estimate = self.detection_rate, self.volume_error_percent, self.estimated_detection_rate
        return {
            "rating": self.rating,
            "rule": RATING_RULE,
            "caveat": CAVEAT,
            "estimated_detection_rate": _round(estimate),
            "estimated_detection_rate_ci95": _wilson(self.hard_lesions),
            "estimated_detection_rate_definition": (
                f"share found of the hard synthetic lesions: designed under 0.05 mL or with outline contrast under "
                f"{FAINT} x white matter (ci95: Wilson score interval)"
            ),
            "detection_rate": _round(rate),
            "detection_by_size": self.by_size,
            "detection_by_contrast": self.by_contrast,
            "sees_0_1_ml": self.sees_0_1_ml,
            "detection_rate_0_1_ml": self.probe_rate,
            "volume_error_percent": None if error is None else round(error, 1),
            "volume_error_definition": (
                "median over the synthetic lesions found of (segmented - inserted) / inserted volume; the inserted "
                "volume is the lesion's partial-volume share of each voxel of this scan's grid, summed"
            ),
            "contrast_range": list(self.contrast_range),
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
    design: Design = DESIGN,
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
    design : Design
        The lesions drawn (:data:`DESIGN`).
    """
    start = time.perf_counter()
    original = np.asarray(flair.data, np.float32)
    data = original.copy()
    outlines = np.zeros(data.shape, np.int32)
    drawn, not_placed, not_visible = _insert_lesions(data, outlines, flair, anatomy, found, seed, design)
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
    check = SelfCheck(seed, tuple(lesions), not_placed, not_visible, int(rerun.size), time.perf_counter() - start,
                      design.contrast_range)
    return _with_warnings(check, flair.source)


def _insert_lesions(
    data: FloatArray,
    outlines: npt.NDArray[np.int32],
    flair: Volume,
    anatomy: Anatomy,
    found: BoolArray,
    seed: int,
    design: Design,
) -> tuple[list[tuple[float, float, float, float, np.ndarray]], int, int]:
    """Draw, place and insert the lesions of ``design`` into ``data`` (a copy of
    ``flair``'s), writing each one's outline into ``outlines`` (1, 2, ...); return each
    inserted lesion's (design mL, inserted mL, outline contrast, peak contrast, world centre)
    and the counts of lesions not placed and not visible."""
    rng = np.random.default_rng(seed)
    spacing = np.asarray(flair.spacing_mm, np.float64)
    clearance = _clearance_mm(flair.data, anatomy, found, spacing, max(design.sizes_ml))
    sizes = sorted(design.sizes_ml, reverse=True)  # the largest are the hardest to fit
    targets = _stratified_contrasts(rng, sizes, design.contrast_range)
    placed: list[tuple[np.ndarray, float]] = []
    drawn: list[tuple[float, float, float, float, np.ndarray]] = []
    not_placed = not_visible = 0
    for design_ml, target in zip(sizes, targets, strict=True):
        radius = _radius_mm(design_ml)
        shape = ndi.gaussian_filter(blob(rng, 2.0 * radius).astype(np.float32), LESION_EDGE_MM)
        centre = _place(rng, clearance, spacing, radius, placed)
        if centre is None:
            not_placed += 1
            continue
        box, share = _share_on_grid(shape, centre, spacing, data.shape)
        outline = visible_lesion(share, share * np.float32(MAX_CONTRAST - 1.0))
        if not outline.any():
            not_visible += 1
            continue
        # The target outline median, but never fainter than a reader can just see.
        floor = 1.0 + 1.001 * VISIBLE_EXCESS / float(share.max())
        contrast = min(MAX_CONTRAST, max(floor, 1.0 + (target - 1.0) / float(np.median(share[outline]))))
        outline = visible_lesion(share, share * np.float32(contrast - 1.0))
        placed.append((centre * spacing, radius))
        data[box] *= 1.0 + share * np.float32(contrast - 1.0)
        outlines[box][outline] = len(drawn) + 1
        world = flair.affine @ np.append(centre, 1.0)
        seen = 1.0 + (contrast - 1.0) * float(np.median(share[outline]))
        drawn.append((design_ml, float(share.sum()) * flair.voxel_volume_ml, seen, contrast, world[:3]))
    return drawn, not_placed, not_visible


def _stratified_contrasts(rng: np.random.Generator, sizes: list[float], span: tuple[float, float]) -> list[float]:
    """Outline contrasts for ``sizes``: within each size bin one value from each of as many
    equal strata of ``span`` as the bin has lesions, in random order."""
    targets = [0.0] * len(sizes)
    for _, lo, hi in SIZE_BINS:
        members = [k for k, ml in enumerate(sizes) if lo <= ml < hi]
        strata = (rng.permutation(len(members)) + rng.uniform(size=len(members))) / max(len(members), 1)
        for k, u in zip(members, strata, strict=True):
            targets[k] = float(span[0] + u * (span[1] - span[0]))
    return targets


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
    return replace(check, warnings=(QCWarning(WARNING_CODE, source, message),))


def _rate(lesions: list[SyntheticLesion] | tuple[SyntheticLesion, ...]) -> float | None:
    return sum(s.found for s in lesions) / len(lesions) if lesions else None


def _hard(lesion: SyntheticLesion) -> bool:
    return lesion.design_ml < SIZE_BINS[0][2] or lesion.contrast < FAINT


def _bin(lesions: list[SyntheticLesion]) -> dict[str, Any]:
    rate = _rate(lesions)
    return {"inserted": len(lesions), "found": sum(s.found for s in lesions), "detection_rate": _round(rate)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _wilson(lesions: list[SyntheticLesion]) -> list[float] | None:
    """95 % Wilson score interval of the share of ``lesions`` found (None when there are none)."""
    n = len(lesions)
    if not n:
        return None
    z, p = 1.959964, sum(s.found for s in lesions) / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def _clearance_mm(
    data: FloatArray, anatomy: Anatomy, found: BoolArray, spacing: np.ndarray, largest_ml: float
) -> FloatArray:
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
    margin = np.ceil((CLEARANCE_MM + _radius_mm(largest_ml)) / spacing).astype(int)
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
