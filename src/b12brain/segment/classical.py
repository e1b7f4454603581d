"""Classical lesion segmenter: FLAIR hyperintensity within white-matter territory.

In the spirit of LST-LPA (Schmidt, 2017): a lesion voxel is brighter on FLAIR than normal
white matter, and lies where white matter is (including the periventricular rim, where
enlarged ventricles and confluent lesions push the atlas white matter aside). Here both parts
are explicit rather than fitted by logistic regression:

* intensity evidence: a logistic function of the voxel's excess over the white-matter mode,
  centred at ``max(contrast × WM, noise_z × WM spread)`` above it, so the cut scales with the
  scan's contrast and is never inside the white-matter noise;
* spatial evidence: the aligned atlas white-matter probability (smoothed to tolerate a few mm
  of misalignment), the periventricular rim, zero in the ventricles, cortex and outer rim of
  the brain.

The probability is their product. It knows nothing of lesion shape and so also marks any
white-matter FLAIR hyperintensity (vascular, inflammatory, B12-related): the class and the
pattern, not the segmenter, speak to the cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from b12brain.anatomy.localise import Anatomy
from b12brain.types import FloatArray, Volume


@dataclass(frozen=True)
class ClassicalSegmenter:
    """FLAIR-hyperintensity segmenter (see module docstring).

    Parameters
    ----------
    contrast : float
        Relative FLAIR excess over the white-matter mode where lesion probability is 0.5.
    noise_z : float
        The cut is at least this many white-matter standard deviations above the mode.
    width : float
        Logistic width, as a fraction of the white-matter mode.
    rim_mm : float
        Periventricular rim (mm from the ventricle surface) counted as white matter.
    edge_mm : float
        Outer rim of the brain (mm) where nothing is called lesion (cortex, meninges).
    """

    name: str = "classical"
    threshold: float = 0.5
    contrast: float = 0.40
    noise_z: float = 3.0
    width: float = 0.05
    rim_mm: float = 6.0
    edge_mm: float = 4.0

    def predict(self, flair: Volume, anatomy: Anatomy, t1: Volume | None = None) -> FloatArray:
        """Lesion probability of every voxel of the bias-corrected ``flair`` (0..1)."""
        levels = anatomy.levels
        cut = levels.wm + max(self.contrast * levels.wm, self.noise_z * levels.wm_sd)
        scale = max(self.width * levels.wm, 1e-6)
        intensity = 1.0 / (1.0 + np.exp(-(flair.data - cut) / scale))
        return (intensity * self._territory(flair, anatomy)).astype(np.float32)

    def _territory(self, flair: Volume, anatomy: Anatomy) -> FloatArray:
        spacing = flair.spacing_mm
        sigma = [2.0 / s for s in spacing]
        wm = ndi.gaussian_filter(anatomy.wm, sigma)
        weight = np.clip((wm - 0.15) / 0.35, 0.0, 1.0)
        if anatomy.ventricles.any():
            rim = ndi.distance_transform_edt(~anatomy.ventricles, sampling=spacing) <= self.rim_mm
            weight[rim] = 1.0
        inner = ndi.distance_transform_edt(anatomy.brain, sampling=spacing) > self.edge_mm
        weight[~inner | anatomy.ventricles] = 0.0
        weight[anatomy.cortex] *= 0.0
        return weight.astype(np.float32)
