"""Checks of an optional T1 against the FLAIR, from headers and head masks only.

Neither segmenter reads a T1 yet, so the T1 is not registered (that cost about 2 s a run for
nothing); it is checked cheaply instead, so that a wrong file is still noticed:

* identical to the FLAIR (same voxel data): refused;
* field-of-view overlap: the fraction of the FLAIR's head that lies inside the T1's field of
  view, by world coordinates (voxel-to-world affines);
* head overlap: the T1 is resampled onto (a coarse copy of) the FLAIR grid by its affine alone
  and its head mask compared with the FLAIR's, inside the T1's field of view: the fraction of
  the smaller head mask that lies inside the other (the overlap coefficient, not Dice: one
  contrast may show the scalp where the other leaves it dark, so one mask may hold the other).
  Same-session scans show the same head in the same place; a T1 of another subject or session,
  placed elsewhere, does not. (A T1 of another subject lying in the same place is not detected.)

:func:`~b12brain.preprocess.coregister.coregister_to` stays available for a segmenter that will
read a T1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from b12brain.errors import InputFileError
from b12brain.preprocess.masks import head_mask
from b12brain.preprocess.orient import to_canonical
from b12brain.preprocess.sitk_bridge import from_sitk, to_sitk
from b12brain.types import BoolArray, QCWarning, Volume

#: What the T1 is not used for, and why (written to ``summary.json``).
NOT_USED_FOR_SEGMENTATION = "not used for segmentation: neither segmenter reads a T1 yet"
#: What the T1 is used for.
USED_FOR = ("overlap check", "contrast check")

#: A rule of this tool: a T1 of the same session covers the brain the FLAIR shows, and the brain
#: fills most of a brain scan's head; a T1 covering less than 80 % of the FLAIR's head misses
#: part of the brain or has a wrong header (warned); one covering none of it is refused.
MIN_FOV_OVERLAP = 0.8
#: A rule of this tool: scans of one session show the same head in the same place, so their head
#: masks agree to within a few millimetres of motion (overlap about 0.95 for a 5 mm shift of an
#: adult head, radius ~80 mm). Below 0.8 (a shift of ~20 mm, or another head) the T1 is
#: probably of another subject or session (warned).
MIN_HEAD_OVERLAP = 0.8
#: Voxel size (mm) of the coarse grid the head masks are compared on: a head's outline needs no
#: finer detail, and this keeps the check to a few hundredths of a second.
_CHECK_MM = 3.0


@dataclass(frozen=True)
class T1Check:
    """Figures of the T1 checks and what they warn about.

    Parameters
    ----------
    fov_overlap : float
        Fraction of the FLAIR's head inside the T1's field of view (0..1).
    head_overlap : float
        Fraction of the smaller of the two head masks (inside the T1's field of view) that lies
        inside the other (0..1).
    warnings : tuple of QCWarning
    contrast : dict of str to float
        The T1's tissue-contrast figures (:func:`b12brain.qc.contrast.check_t1_contrast`),
        added once the atlas is placed; empty before.
    """

    fov_overlap: float
    head_overlap: float
    warnings: tuple[QCWarning, ...] = field(default=())
    contrast: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The ``t1`` object of ``summary.json`` for a run given a T1."""
        return {
            "given": True,
            "used_for": list(USED_FOR),
            "figures": {
                "fov_overlap": round(self.fov_overlap, 3),
                "head_overlap": round(self.head_overlap, 3),
                **self.contrast,
            },
            "segmentation": NOT_USED_FOR_SEGMENTATION,
        }


def no_t1_summary() -> dict[str, Any]:
    """The ``t1`` object of ``summary.json`` for a run without a T1."""
    return {"given": False, "used_for": [], "figures": {}, "segmentation": NOT_USED_FOR_SEGMENTATION}


def check_t1(t1: Volume, flair: Volume, flair_head: BoolArray) -> T1Check:
    """Check that ``t1`` plausibly shows the FLAIR's head, without registering it.

    Parameters
    ----------
    t1 : Volume
        The T1 as read (any grid).
    flair : Volume
        The FLAIR, on the grid of ``flair_head``.
    flair_head : (X, Y, Z) ndarray of bool
        The FLAIR's head mask.

    Returns
    -------
    T1Check
        Field-of-view overlap, head overlap and the QC warnings they raise.

    Raises
    ------
    InputFileError
        (naming the T1) when it holds the FLAIR's own voxel data, or covers none of the FLAIR's
        head.
    """
    if _same_data(t1, flair):
        raise InputFileError(
            t1.source, f"holds the same voxel data as the FLAIR {flair.source}; give the T1 scan, or leave --t1 out"
        )
    steps = tuple(max(1, int(round(_CHECK_MM / s))) for s in flair.spacing_mm)
    head = flair_head[:: steps[0], :: steps[1], :: steps[2]]
    coarse_affine = flair.affine @ np.diag([*steps, 1.0])
    t1_on_flair = resample_by_world(t1, head.shape, coarse_affine)
    inside = np.isfinite(t1_on_flair)
    flair_head_ml = int(head.sum())
    overlap = float((head & inside).sum()) / flair_head_ml if flair_head_ml else 0.0
    if overlap == 0.0:
        raise InputFileError(
            t1.source, f"covers none of the head seen on the FLAIR {flair.source} (world coordinates); "
            "give a T1 of the same session with a valid header"
        )
    t1_head = head_mask(np.where(inside, t1_on_flair, 0.0).astype(np.float32)) & inside
    a, b = head & inside, t1_head
    head_overlap = float((a & b).sum()) / max(1.0, float(min(a.sum(), b.sum())))
    warnings = []
    if overlap < MIN_FOV_OVERLAP:
        warnings.append(QCWarning(
            "t1.fov_overlap", t1.source,
            f"the T1 covers {100 * overlap:.0f}% of the head seen on the FLAIR (expected at least "
            f"{100 * MIN_FOV_OVERLAP:.0f}% for a T1 of the same session); check it is the right scan",
        ))
    if head_overlap < MIN_HEAD_OVERLAP:
        warnings.append(QCWarning(
            "t1.head_mismatch", t1.source,
            f"the T1's head lies elsewhere than the FLAIR's (overlap {head_overlap:.2f}, expected at least "
            f"{MIN_HEAD_OVERLAP} for scans of one session): another subject or session, or a wrong header?",
        ))
    return T1Check(overlap, head_overlap, tuple(warnings))


def _same_data(t1: Volume, flair: Volume) -> bool:
    """Whether the two hold the same voxel values once put in the same (RAS+) voxel order."""
    if sorted(t1.shape) != sorted(flair.shape):
        return False
    a, b = to_canonical(t1)[0].data, to_canonical(flair)[0].data
    return a.shape == b.shape and bool(np.array_equal(a, b))


def resample_by_world(moving: Volume, shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """``moving`` on the grid (shape, affine) by world coordinates alone (linear); NaN outside
    its field of view."""
    reference = to_sitk(np.zeros(shape, np.uint8), affine)
    image = to_sitk(moving.data.astype(np.float32), moving.affine)
    out = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, float("nan"), sitk.sitkFloat32)
    return from_sitk(out)
