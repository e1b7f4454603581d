"""Lesion segmenters behind one interface (:class:`Segmenter`), chosen by name."""

from b12brain.segment.base import (
    SEGMENTERS,
    Segmenter,
    drop_small_lesions,
    get_segmenter,
    lesion_mask_from_probability,
)

__all__ = ["SEGMENTERS", "Segmenter", "drop_small_lesions", "get_segmenter", "lesion_mask_from_probability"]
