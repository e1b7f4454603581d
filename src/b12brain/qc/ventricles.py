"""Are the ventricles where the atlas put them? An anatomical plausibility check of the atlas fit.

The lesion classes (periventricular, deep, juxtacortical), the caps and lining of the
ventricles and the Fazekas estimate are all measured from the ventricles of
:func:`~b12brain.anatomy.localise.localise_anatomy`: the dark (CSF) voxels of the FLAIR found
near the aligned atlas's ventricles. An affine fit can pass the checks of
:mod:`b12brain.qc.atlas` (plausible scale, enough mutual information, the brain inside the
head) and still put the atlas's ventricles on white matter; the ventricles found are then a
fraction of a millilitre, and every lesion is classed against the wrong anatomy. Two figures,
both rules of this tool (reasons at the constants below), say so:

* ``ventricle_core_dark``: the share of the aligned atlas ventricles' core (atlas weight
  > 0.9, on the ~2 mm subsample of :func:`~b12brain.qc.contrast.tissue_cores`) darker than
  :data:`DARK_OF_WM` x the white-matter mode. A FLAIR nulls the CSF, so the ventricles are dark.
* ``ventricles_to_atlas``: the volume of the ventricles found (``ventricles_ml``) over the
  volume of the aligned atlas ventricles inside the brain and the field of view
  (``atlas_ventricles_ml``, weight > 0.5): adult ventricles are not a small fraction of the
  atlas's once it is scaled to the head.

Either out of range gives the QC warning ``atlas.ventricles_implausible``; nothing is refused
(the lesions themselves may still be right; their classes are what is in doubt).
"""

from __future__ import annotations

import numpy as np

from b12brain.anatomy.localise import Anatomy
from b12brain.qc.contrast import MIN_CORE_VOXELS, TissueCores
from b12brain.types import QCWarning, Volume

#: A rule of this tool: a FLAIR nulls free CSF (well under half of white matter's signal even
#: with partial volume), while every brain tissue is about as bright as white matter or
#: brighter (grey matter at least as bright on a FLAIR, lesions brighter). A voxel darker than
#: 0.6 x the white-matter mode is counted as CSF ("dark").
DARK_OF_WM = 0.6
#: A rule of this tool: adult lateral ventricles hold about 7-50 mL or more against the atlas's
#: 19 mL (lateral and third ventricles), and they lie along the centre of the atlas's
#: ventricles: placed right, even small ones fill over a third of the atlas ventricles' core,
#: while the deep white matter around it holds almost no CSF-dark voxels (5-18 % of the core
#: of a phantom's atlas fit moved off its ventricles: 10-20 mm sideways, 20-30 mm forward or
#: 15-25 mm up). A core less than a quarter dark lies mostly on brain tissue: warned about.
CORE_DARK_WARN = 0.25
#: A rule of this tool: the ventricles found should be an adult's, at least about 7 mL, about
#: 0.35 x the atlas's 19 mL at the atlas's head size. Under 0.25 x the aligned atlas's (at
#: most 4.8 mL for an atlas-sized head) they were not found where the atlas put them (a
#: misplaced fit, or ventricles the search missed): warned about. Large ventricles are a
#: finding, not a poor fit, and are not warned about.
VENTRICLES_TO_ATLAS_WARN = 0.25
#: The ratio is not judged when the brain and field of view hold less of the aligned atlas
#: ventricles than this (mL): a scan that does not cover them.
_MIN_ATLAS_VENTRICLES_ML = 2.0


def ventricle_figures(flair: Volume, anatomy: Anatomy, cores: TissueCores) -> dict[str, float]:
    """The figures of :func:`check_ventricles` (a figure that cannot be measured is left out).

    Parameters
    ----------
    flair : Volume
        The bias-corrected FLAIR, on ``anatomy``'s grid.
    anatomy : Anatomy
        Its anatomy (:func:`~b12brain.anatomy.localise.localise_anatomy`).
    cores : TissueCores
        :func:`~b12brain.qc.contrast.tissue_cores` of ``anatomy`` and ``flair``.

    Returns
    -------
    dict of str to float
        ``ventricles_ml``, ``atlas_ventricles_ml``, ``ventricles_to_atlas`` (when the aligned
        atlas ventricles in view hold at least 2 mL) and ``ventricle_core_dark`` (when their
        core holds at least 50 sampled voxels and the white-matter level is positive).
    """
    found_ml = float(anatomy.ventricles.sum()) * flair.voxel_volume_ml
    sample_ml = abs(float(np.linalg.det(cores.affine[:3, :3]))) / 1000.0
    atlas_ml = float(cores.atlas_ventricles.sum()) * sample_ml
    figures = {"ventricles_ml": round(found_ml, 2), "atlas_ventricles_ml": round(atlas_ml, 2)}
    if atlas_ml >= _MIN_ATLAS_VENTRICLES_ML:
        figures["ventricles_to_atlas"] = round(found_ml / atlas_ml, 3)
    core = flair.data[cores.grid][cores.ventricles]
    core = core[np.isfinite(core)]
    if core.size >= MIN_CORE_VOXELS and anatomy.levels.wm > 0:  # a ratio to white matter needs its level
        figures["ventricle_core_dark"] = round(float(np.mean(core < DARK_OF_WM * anatomy.levels.wm)), 3)
    return figures


def check_ventricles(
    flair: Volume, anatomy: Anatomy, cores: TissueCores, source: str
) -> tuple[dict[str, float], tuple[QCWarning, ...]]:
    """Warn when the ventricles are not dark where the atlas put them, or far too small.

    Parameters
    ----------
    flair, anatomy, cores
        As for :func:`ventricle_figures`.
    source : str
        The scan's file, named in the warning.

    Returns
    -------
    figures : dict of str to float
        See :func:`ventricle_figures`.
    warnings : tuple of QCWarning
        ``atlas.ventricles_implausible`` when ``ventricle_core_dark`` is under
        :data:`CORE_DARK_WARN` or ``ventricles_to_atlas`` under :data:`VENTRICLES_TO_ATLAS_WARN`.
    """
    f = ventricle_figures(flair, anatomy, cores)
    problems = []
    if f.get("ventricle_core_dark", 1.0) < CORE_DARK_WARN:
        problems.append(
            f"{100 * f['ventricle_core_dark']:.0f}% of the core of the atlas's ventricles is dark on the FLAIR "
            f"(at least {100 * CORE_DARK_WARN:.0f}% expected: a FLAIR nulls the CSF)"
        )
    if f.get("ventricles_to_atlas", 1.0) < VENTRICLES_TO_ATLAS_WARN:
        problems.append(
            f"the ventricles found hold {f['ventricles_ml']:.1f} mL, {f['ventricles_to_atlas']:.2f} x the atlas's "
            f"{f['atlas_ventricles_ml']:.1f} mL fitted to this head (at least {VENTRICLES_TO_ATLAS_WARN:g} x expected: "
            "adult ventricles hold about 7-50 mL or more)"
        )
    if not problems:
        return f, ()
    return f, (QCWarning(
        "atlas.ventricles_implausible", source,
        "the ventricles are implausible for an adult brain: " + "; ".join(problems)
        + "; the atlas fit may have put them in the wrong place, or they were missed. The lesion classes "
        "(periventricular, deep, juxtacortical), the caps and lining and the Fazekas estimate rest on them: "
        "check the ventricle outline on the QC image before using those figures",
    ),)
