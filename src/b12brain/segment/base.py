"""The segmenter interface a learned model plugs into."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from b12brain.types import FloatArray, Volume

if TYPE_CHECKING:  # the anatomy stage (and SimpleITK) is not needed to import segmenters
    from b12brain.anatomy.localise import Anatomy


class Segmenter(Protocol):
    """Turns a preprocessed scan and its anatomy into a lesion probability map.

    Implementations receive the bias-corrected FLAIR on its closest-canonical grid, the
    anatomy found for it, and the T1 registered to that grid (or None).
    """

    @property
    def name(self) -> str:
        """Name under which the segmenter is registered."""
        ...

    @property
    def threshold(self) -> float:
        """Probability at or above which a voxel is called lesion."""
        ...

    @property
    def min_lesion_ml(self) -> float:
        """Lesions smaller than this (mL) are dropped unless the pipeline is told otherwise."""
        ...

    @property
    def provenance(self) -> dict[str, str]:
        """What identifies the segmenter's weights (recorded in ``summary.json``); empty when
        it has none."""
        ...

    def predict(self, flair: Volume, anatomy: Anatomy, t1: Volume | None) -> FloatArray:
        """Return the lesion probability (0..1) of every voxel of ``flair``."""
        ...
