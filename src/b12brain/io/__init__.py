"""Reading scans (NIfTI files, DICOM series folders) into :class:`~b12brain.types.Volume` and
writing results back, atomically.

The names below load on first use, so that importing a light module of this package
(``b12brain.io.jsonfile``, ``b12brain.io.outdir``) does not import nibabel and scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from b12brain.io.load import load_volume
    from b12brain.io.nifti import save_nifti

_LAZY = {"load_volume": "b12brain.io.load", "save_nifti": "b12brain.io.nifti"}


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any name through it

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'b12brain.io' has no attribute {name!r}")


__all__ = ["load_volume", "save_nifti"]
