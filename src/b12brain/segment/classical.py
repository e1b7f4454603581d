"""Classical lesion segmenter: FLAIR hyperintensity within white-matter territory.

In the spirit of LST-LPA (Schmidt, 2017): a lesion voxel is brighter on FLAIR than normal
white matter and lies where white matter is. Both parts are explicit here rather than fitted
by logistic regression:

* intensity evidence: logistic functions of the voxel's excess over the white-matter mode,
  cut at ``max(contrast × WM, noise_z × WM spread)`` above it, so the cut scales with the
  scan's contrast and is never inside the white-matter noise. Clear voxels seed lesions; a
  lesion then grows to a fraction (``edge_fraction``, about half) of its local peak, the edge
  of a partial-volume blurred object, but never below a floor (``grow_contrast``): faint voxels
  count only as part of a clear lesion, which keeps lesion rims without admitting isolated
  faint spots. Voxels between a lesion and a ventricle (part lesion, part CSF) join the lesion.
* spatial evidence: the aligned atlas white-matter probability, smoothed to tolerate a few mm
  of misalignment; zero in the ventricles, the cortex and the brain's outer rim.

The probability is their product. It knows nothing of lesion shape and so marks any
white-matter FLAIR hyperintensity (vascular, inflammatory, B12-related): the class and the
pattern, not the segmenter, speak to the cause. Parameters were set on the phantoms and
checked on the shared real subjects (docs/accuracy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from b12brain.anatomy.localise import Anatomy
from b12brain.geometry import CONNECTIVITY_26
from b12brain.preprocess.masks import neighbourhood
from b12brain.types import FloatArray, Volume


@dataclass(frozen=True)
class ClassicalSegmenter:
    """FLAIR-hyperintensity segmenter (see module docstring).

    Parameters
    ----------
    threshold : float
        Probability at which a voxel is called lesion.
    min_lesion_ml : float
        Lesions smaller than this are dropped (0.03 mL = 30 mm³, a sphere of ~4 mm): smaller
        FLAIR-bright specks are mostly noise and vessels to an intensity rule.
    contrast, noise_z : float
        Seed cut: relative FLAIR excess over the white-matter mode, and its least value in
        white-matter standard deviations.
    grow_contrast, grow_noise_z : float
        The same for the floor below which no lesion grows.
    edge_fraction : float
        A lesion's edge lies at this fraction of the way from white matter to its local peak
        (0.5 is the half maximum, where a voxel is half lesion by partial volume; a little
        more keeps noise on the lesion's flank out).
    local_mm : float
        Radius (mm) within which a voxel's local lesion peak is sought.
    width : float
        Logistic width, as a fraction of the white-matter mode.
    edge_mm : float
        Outer rim of the brain (mm) where nothing is called lesion (cortex, meninges).
    """

    name: str = "classical"
    threshold: float = 0.5
    min_lesion_ml: float = 0.03
    contrast: float = 0.35
    noise_z: float = 5.0
    grow_contrast: float = 0.30
    grow_noise_z: float = 2.0
    edge_fraction: float = 0.55
    local_mm: float = 5.0
    width: float = 0.05
    edge_mm: float = 4.0

    @property
    def provenance(self) -> dict[str, str]:
        """Empty: the classical segmenter has no weights."""
        return {}

    def predict(self, flair: Volume, anatomy: Anatomy, t1: Volume | None = None) -> FloatArray:
        """Lesion probability (0..1) of every voxel of the bias-corrected ``flair``.

        The T1 is not used by this segmenter.
        """
        wm, wm_sd = anatomy.levels.wm, anatomy.levels.wm_sd
        image = flair.data
        territory = self._territory(flair, anatomy)
        seed = self._logistic(image, wm + max(self.contrast * wm, self.noise_z * wm_sd), wm) * territory
        floor = wm + max(self.grow_contrast * wm, self.grow_noise_z * wm_sd)
        labels, n = ndi.label((image >= floor) & (territory >= 0.5), structure=CONNECTIVITY_26)
        if n == 0:
            return seed
        seeded = np.zeros(n + 1, bool)
        seeded[np.unique(labels[seed >= 0.5])] = True
        seeded[0] = False
        # The local lesion level: the brightest (lightly smoothed) seed voxel within
        # ``local_mm`` — local, so that a confluent lesion of uneven brightness keeps its
        # fainter parts.
        spacing = np.asarray(flair.spacing_mm)
        smooth = ndi.gaussian_filter(image, 0.5)
        size = np.maximum(1, 2 * np.round(self.local_mm / spacing).astype(int) + 1)
        local_peak = ndi.maximum_filter(np.where(seed >= 0.5, smooth, -np.inf), size=tuple(int(s) for s in size))
        cut = np.where(seeded[labels] & np.isfinite(local_peak), wm + self.edge_fraction * (local_peak - wm), np.inf)
        grown = self._logistic(image, np.maximum(cut, floor), wm) * territory
        probability = np.maximum(grown, seed)
        return self._close_ventricle_gap(probability, image, anatomy, flair.spacing_mm).astype(np.float32)

    def _close_ventricle_gap(
        self, probability: FloatArray, image: FloatArray, anatomy: Anatomy, flair_spacing: tuple[float, float, float]
    ) -> FloatArray:
        """Give a lesion the voxels between it and a ventricle.

        Where a periventricular lesion meets the ventricle, voxels are part lesion, part CSF:
        darker than the lesion's edge cut, brighter than CSF, so neither threshold claims them.
        A rater draws the lesion down to the ventricle, so these interface voxels (touching
        both, brighter than the CSF/tissue midpoint) get the lesion's probability.
        """
        lesion = probability >= self.threshold
        if not lesion.any() or not anatomy.ventricles.any():
            return probability
        # Contact within 1.75 mm (the 3×3×3 cube at 1 mm; in-plane only on thick slices,
        # where a voxel of the next slice is mostly something else).
        near = neighbourhood(flair_spacing)
        levels = anatomy.levels
        interface = (
            ndi.binary_dilation(lesion, near)
            & ndi.binary_dilation(anatomy.ventricles, near)
            & ~anatomy.ventricles
            & ~lesion
            & anatomy.brain
            & (image >= levels.csf + 0.5 * (levels.wm - levels.csf))
        )
        nearby = ndi.maximum_filter(np.where(lesion, probability, 0.0), footprint=near)
        return np.where(interface, np.maximum(probability, nearby), probability)

    def _logistic(self, image: FloatArray, cut: float | FloatArray, wm: float) -> FloatArray:
        scale = max(self.width * wm, 1e-6)
        with np.errstate(over="ignore"):
            return (1.0 / (1.0 + np.exp(-(image - cut) / scale))).astype(np.float32)

    def _territory(self, flair: Volume, anatomy: Anatomy) -> FloatArray:
        spacing = flair.spacing_mm
        wm = ndi.gaussian_filter(anatomy.wm, [2.0 / s for s in spacing])
        weight = np.clip((wm - 0.15) / 0.35, 0.0, 1.0)
        inner = ndi.distance_transform_edt(anatomy.brain, sampling=spacing) > self.edge_mm
        weight[~inner | anatomy.ventricles | anatomy.cortex] = 0.0
        return weight.astype(np.float32)
