"""Did the atlas registration place a brain in this scan? Scale, similarity and overlap checks.

The figures come from :class:`~b12brain.anatomy.register.AtlasAlignment`: the scale factors of
the fitted affine (subject size relative to the MNI152 atlas), the final Mattes mutual
information, and the fraction of the aligned atlas brain lying inside the scan's head. A fit
that is clearly wrong is refused (the lesion figures would be measured in the wrong place); a
borderline one runs with a QC warning.
"""

from __future__ import annotations

from b12brain.anatomy.register import AtlasAlignment
from b12brain.errors import RegistrationError
from b12brain.types import QCWarning

#: Adult intracranial volume is 1.1-1.9 L and the atlas brain holds 1.89 L, so an adult brain is
#: 0.83-1.0 x the atlas's size on average over its axes; head shapes differ by some 15 % per
#: axis (cephalic index 0.70-0.90). A rule of this tool: a scale outside 0.70-1.20 on any axis
#: is warned about (a child, an unusual head, or a poor fit); outside 0.5-1.6 (an eighth or four
#: times the atlas's volume: smaller than a newborn's brain, larger than any brain) the fit, or
#: the header's voxel sizes, are wrong and the scan is refused.
SCALE_REFUSE = (0.5, 1.6)
SCALE_WARN = (0.70, 1.20)
#: A rule of this tool: Mattes mutual information (nats, 32 bins) of unrelated images is about
#: 0 (plus a small estimation bias); the atlas fit of a brain FLAIR shares several tenths of a
#: nat. Below 0.05 the fit found nothing in common with a brain (refused); below twice that it is
#: weak (warned).
MUTUAL_INFORMATION_REFUSE, MUTUAL_INFORMATION_WARN = 0.05, 0.10
#: A rule of this tool: a brain lies inside its head. When less than half of the aligned atlas
#: brain (within the field of view) is inside the head mask, the brain was placed outside the
#: head (refused); below 85 % part of it was (warned).
BRAIN_IN_HEAD_REFUSE, BRAIN_IN_HEAD_WARN = 0.5, 0.85


def atlas_figures(alignment: AtlasAlignment) -> dict[str, float]:
    """The figures the checks use: scales (min, max), mutual information, brain in head."""
    scales = alignment.scales
    return {
        "atlas_scale_min": round(scales[0], 3),
        "atlas_scale_max": round(scales[-1], 3),
        "atlas_mutual_information": round(-alignment.metric, 3),
        "atlas_brain_in_head": round(alignment.brain_in_head, 3),
    }


def check_atlas_fit(alignment: AtlasAlignment, source: str) -> tuple[dict[str, float], tuple[QCWarning, ...]]:
    """Refuse a clearly wrong atlas fit; return its figures and the warnings of a borderline one.

    Parameters
    ----------
    alignment : AtlasAlignment
        The fit found for the scan.
    source : str
        The scan's file, named in messages.

    Returns
    -------
    figures : dict of str to float
        See :func:`atlas_figures`.
    warnings : tuple of QCWarning

    Raises
    ------
    RegistrationError
        A scale outside :data:`SCALE_REFUSE`, mutual information under
        :data:`MUTUAL_INFORMATION_REFUSE` or a brain mostly outside the head.
    """
    f = atlas_figures(alignment)
    lo, hi = f["atlas_scale_min"], f["atlas_scale_max"]
    problems = []
    if lo < SCALE_REFUSE[0] or hi > SCALE_REFUSE[1]:
        problems.append(
            f"the fitted brain is {lo:.2f}-{hi:.2f} x the atlas's size (a human brain is "
            f"{SCALE_REFUSE[0]}-{SCALE_REFUSE[1]} x; check the voxel sizes in the header)"
        )
    if f["atlas_mutual_information"] < MUTUAL_INFORMATION_REFUSE:
        problems.append(
            f"the fit shares {f['atlas_mutual_information']:.2f} nats of mutual information with a brain "
            f"(at least {MUTUAL_INFORMATION_REFUSE} expected)"
        )
    if f["atlas_brain_in_head"] < BRAIN_IN_HEAD_REFUSE:
        problems.append(f"{100 * f['atlas_brain_in_head']:.0f}% of the fitted brain lies inside the head")
    if problems:
        raise RegistrationError(
            f"{source}: the brain atlas could not be placed plausibly: " + "; ".join(problems)
            + "; is it a brain FLAIR covering the brain?"
        )
    warnings = []
    if lo < SCALE_WARN[0] or hi > SCALE_WARN[1]:
        warnings.append(QCWarning(
            "atlas.scale", source,
            f"the fitted brain is {lo:.2f}-{hi:.2f} x the atlas's size along its axes (adults "
            f"{SCALE_WARN[0]}-{SCALE_WARN[1]} x): a child, an unusual head or a poor fit; check the QC image",
        ))
    if f["atlas_mutual_information"] < MUTUAL_INFORMATION_WARN:
        warnings.append(QCWarning(
            "atlas.weak_fit", source,
            f"the atlas fit is weak (mutual information {f['atlas_mutual_information']:.2f} nats, under "
            f"{MUTUAL_INFORMATION_WARN}); lesion locations may be off, check the QC image",
        ))
    if f["atlas_brain_in_head"] < BRAIN_IN_HEAD_WARN:
        warnings.append(QCWarning(
            "atlas.brain_outside_head", source,
            f"only {100 * f['atlas_brain_in_head']:.0f}% of the fitted brain lies inside the head "
            f"(at least {100 * BRAIN_IN_HEAD_WARN:.0f}% expected); lesion locations may be off, check the QC image",
        ))
    return f, tuple(warnings)
