"""A synthetic two-visit follow-up: run folders of a blob "head" with known lesion change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

#: Lesion boxes (voxel slices of a 64x64x40 grid, 2 mm voxels) at each visit, by name.
BEFORE = {"stable": (slice(20, 23), slice(20, 23), slice(18, 21)), "enlarging": (slice(40, 42), slice(20, 22), slice(18, 20)),
          "resolved": (slice(20, 23), slice(40, 43), slice(18, 20)), "shrinking": (slice(40, 44), slice(40, 44), slice(18, 22))}
AFTER = {"stable": BEFORE["stable"], "enlarging": (slice(39, 43), slice(19, 23), slice(18, 21)),
         "shrinking": (slice(41, 43), slice(41, 43), slice(19, 21)), "new": (slice(30, 33), slice(30, 33), slice(26, 29))}
SHIFT_MM = np.array([3.0, -2.0, 2.0])


def _visit(blob: np.ndarray, boxes: dict[str, tuple[slice, ...]]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    flair = blob.copy()
    labels = np.zeros(blob.shape, dtype=np.uint16)
    ids = {}
    for lesion_id, (name, box) in enumerate(boxes.items(), start=1):
        flair[box] += 600.0
        labels[box] = lesion_id
        ids[name] = lesion_id
    return flair, labels, ids


@pytest.fixture
def make_pair(builders: SimpleNamespace, write_run_folder: Callable[..., Path]) -> Callable[..., SimpleNamespace]:
    """``make_pair(tmp_path, **options)``: run folders ``a`` (baseline) and ``b`` (follow-up, the
    head moved by :data:`SHIFT_MM`) with ``ids_a``/``ids_b`` mapping change names to lesion ids.
    Options: ``sidecar_a``/``sidecar_b`` (flair.json content), ``subject_a``/``subject_b`` (summary.json's
    ``subject`` record, schema 1.6), ``settings_b``, ``schema_b``, and
    ``unsegmented_before`` (a lesion of the follow-up drawn on the baseline FLAIR but not in its mask)."""

    def make(folder: Path, *, sidecar_a: dict | None = None, sidecar_b: dict | None = None,
             subject_a: dict | None = None, subject_b: dict | None = None, settings_b: dict | None = None,
             schema_b: str = "1.3", unsegmented_before: str | None = None) -> SimpleNamespace:
        blob = builders.make_blob()
        affine = builders.affine_mm(blob.shape)
        moved = affine.copy()
        moved[:3, 3] += SHIFT_MM
        flair_a, labels_a, ids_a = _visit(blob, BEFORE)
        if unsegmented_before is not None:  # on the image, not in the mask
            flair_a[AFTER[unsegmented_before]] += 600.0
        flair_b, labels_b, ids_b = _visit(builders.make_blob(seed=1), AFTER)
        a = write_run_folder(folder / "visit_a", flair_a, labels_a, affine=affine, sidecar=sidecar_a, subject=subject_a,
                             schema="1.6" if subject_a is not None else "1.3")
        b = write_run_folder(folder / "visit_b", flair_b, labels_b, affine=moved, sidecar=sidecar_b, subject=subject_b,
                             settings=settings_b, schema="1.6" if subject_b is not None else schema_b)
        return SimpleNamespace(a=a, b=b, ids_a=ids_a, ids_b=ids_b)

    return make
