"""Lesion segmenters behind one interface (:class:`Segmenter`), chosen by name.

The post-processing names load on first use, so that listing the segmenters (``b12brain
run --help``) does not import scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from b12brain.segment.base import Segmenter
from b12brain.segment.registry import SEGMENTERS, get_segmenter

if TYPE_CHECKING:
    from b12brain.segment.postprocess import drop_small_lesions, found_lesion_mask, lesion_mask_from_probability

_LAZY = {
    "drop_small_lesions": "b12brain.segment.postprocess",
    "found_lesion_mask": "b12brain.segment.postprocess",
    "lesion_mask_from_probability": "b12brain.segment.postprocess",
}


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any name through it

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'b12brain.segment' has no attribute {name!r}")


__all__ = ["SEGMENTERS", "Segmenter", "drop_small_lesions", "found_lesion_mask", "get_segmenter", "lesion_mask_from_probability"]
