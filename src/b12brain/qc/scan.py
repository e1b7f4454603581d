"""Is this a brain FLAIR? The checks a reader makes before trusting any figure.

Each check measures one figure of the scan and compares it with a limit chosen from first
principles (anatomy, MR physics), not fitted to any data set; the measured figures on the
phantoms and the shared real scans, and the margins they leave, are in docs/scan-qc.md. A scan
that fails is refused (:class:`~b12brain.errors.InputFileError`, naming every check that
failed); one that is borderline runs with a :class:`~b12brain.types.QCWarning`.

Intensities are also made robust here: voxels far brighter than any tissue (a spike, a corrupt
value such as 3e38) are clipped before any stage that scales intensities (N4, atlas
registration, segmenters, the edge rule), so one voxel cannot rescale the whole scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from b12brain.errors import InputFileError
from b12brain.preprocess.masks import head_mask
from b12brain.types import BoolArray, QCWarning, Volume

#: A rule of this tool: an MR magnitude image is non-negative (small negatives come only from
#: interpolation ringing). A scan is refused when more than half of its non-zero voxels are
#: negative (an inverted, phase or z-scored image, whose tissue N4 would clip away), and warned
#: about above 5 %.
NEGATIVE_SHARE_REFUSE, NEGATIVE_SHARE_WARN = 0.5, 0.05
#: A voxel counts as negative below this fraction of the image's bright level (its 99.5th
#: percentile), so interpolation ringing of a fraction of a percent is not counted.
NEGATIVE_TOLERANCE = 0.01

#: A rule of this tool: the head of an MR image spreads over many intensity values (noise alone
#: spreads every tissue over dozens), whereas a binary mask puts its whole foreground on one
#: value and a label map on a few. Refused when the head holds fewer than this many distinct
#: values or when its commonest value holds more than half of it; warned above a quarter.
MIN_DISTINCT_VALUES = 16
COMMONEST_SHARE_REFUSE, COMMONEST_SHARE_WARN = 0.5, 0.25

#: A rule of this tool: an image of anatomy is smooth at the scale of its pixels, so in-plane
#: neighbours are strongly alike; in white noise they are unrelated (correlation 0). With
#: smooth anatomy plus white noise the correlation is var(anatomy) / (var(anatomy) +
#: var(noise)): below 0.25 noise has over three times the anatomy's variance (refused, "looks
#: like noise"); below 0.5 it has more than the anatomy's (warned: too noisy to read).
NEIGHBOUR_CORRELATION_REFUSE, NEIGHBOUR_CORRELATION_WARN = 0.25, 0.5

#: Adult intracranial volume is 1.1-1.9 L; a skull-stripped FLAIR's foreground leaves out some
#: of the outer CSF, so the smallest adult brain shows at least ~0.8 L. Below that the scan
#: covers part of the brain only (warned); below 0.3 L there is no head-sized object at all
#: (refused; the atlas could not be placed either).
HEAD_ML_REFUSE, HEAD_ML_WARN = 300.0, 800.0
#: An adult head is about 4-5 L; with the neck in the field of view a scan's foreground stays
#: under ~8 L (warned above: voxel sizes in the header too large?). A brain protocol's field of
#: view is at most ~25 cm a side, a box of 16 L: a larger object is not a head, and the header's
#: voxel sizes are wrong (refused; the atlas fit cannot reach such a scale and would place a
#: normal-sized brain in it).
HEAD_ML_MAX_WARN, HEAD_ML_MAX_REFUSE = 8000.0, 16000.0

#: A rule of this tool: no tissue on a FLAIR is more than three times as bright as the 99.5th
#: percentile of the head (lesions reach 1.5-2x white matter, orbital fat about as much; the
#: 99.5th percentile already lies among them). Brighter voxels are spikes or corrupt values and
#: are clipped to this ceiling before any stage that scales intensities.
CEILING_TIMES_P995 = 3.0


@dataclass(frozen=True, eq=False)
class ScanCheck:
    """What :func:`check_flair` found.

    Parameters
    ----------
    volume : Volume
        The scan with intensities above the robust ceiling clipped to it (the same object when
        nothing was clipped).
    head : (X, Y, Z) ndarray of bool
        Foreground (head) of the scan (:func:`~b12brain.preprocess.masks.head_mask`).
    figures : dict of str to float
        Each check's figure (names as in docs/scan-qc.md).
    warnings : tuple of QCWarning
        The borderline figures.
    """

    volume: Volume
    head: BoolArray
    figures: dict[str, float]
    warnings: tuple[QCWarning, ...]


def check_flair(flair: Volume) -> ScanCheck:
    """Check that ``flair`` looks like a brain FLAIR and clip intensity outliers.

    Parameters
    ----------
    flair : Volume
        The scan as read (any grid; in-plane is taken as its two finest axes).

    Returns
    -------
    ScanCheck
        The clipped scan, its head mask, the figures and any QC warnings.

    Raises
    ------
    InputFileError
        The scan is not a brain FLAIR: mostly negative, a binary mask or label map, noise, or no
        head-sized object. The message names every check that failed and its figure.

    Examples
    --------
    >>> from b12brain.phantom import PhantomConfig, make_phantom
    >>> scan = make_phantom(PhantomConfig(seed=1, lesion_load="mild", slice_mm=6.0)).flair
    >>> check = check_flair(scan)
    >>> check.warnings, check.figures["head_ml"] > 1000
    ((), True)
    """
    data = flair.data
    source = flair.source
    positive = data[data > 0]
    if positive.size == 0:
        raise InputFileError(
            source, "does not look like a brain FLAIR: no voxel is positive (an MR magnitude image is "
            "non-negative with a bright head); give the FLAIR as exported by the scanner"
        )
    bright = float(np.percentile(positive, 99.5))
    nonzero = int(np.count_nonzero(data))
    negative_share = float(np.count_nonzero(data < -NEGATIVE_TOLERANCE * bright)) / nonzero

    head = head_mask(data)
    values = data[head]
    if values.size == 0:
        raise InputFileError(
            source, "does not look like a brain FLAIR: no head-sized object (no foreground found); give the FLAIR scan itself"
        )
    distinct, counts = np.unique(values, return_counts=True)
    commonest_share = float(counts.max()) / values.size
    ceiling = CEILING_TIMES_P995 * float(np.percentile(values, 99.5))
    too_bright = data > ceiling
    clipped = int(np.count_nonzero(too_bright))
    if clipped:
        flair = flair.with_data(np.where(too_bright, np.float32(ceiling), data).astype(np.float32, copy=False))
    figures = {
        "negative_share": round(negative_share, 4),
        "distinct_values_in_head": float(distinct.size),
        "commonest_value_share": round(commonest_share, 4),
        "neighbour_correlation": round(_neighbour_correlation(flair, head), 3),
        "head_ml": round(float(head.sum()) * flair.voxel_volume_ml, 1),
        "clipped_voxels": float(clipped),
    }
    _refuse_if_not_flair(source, figures)
    return ScanCheck(flair, head, figures, tuple(_warnings(source, figures, ceiling)))


def _refuse_if_not_flair(source: str, f: dict[str, float]) -> None:
    problems = []
    if f["negative_share"] > NEGATIVE_SHARE_REFUSE:
        problems.append(
            f"mostly negative intensities ({100 * f['negative_share']:.0f}% of non-zero voxels; "
            "an MR magnitude image is non-negative)"
        )
    if f["distinct_values_in_head"] < MIN_DISTINCT_VALUES or f["commonest_value_share"] > COMMONEST_SHARE_REFUSE:
        problems.append(
            f"looks like a binary mask or label map ({f['distinct_values_in_head']:.0f} distinct values in the "
            f"foreground, {100 * f['commonest_value_share']:.0f}% of it at one value)"
        )
    elif f["neighbour_correlation"] < NEIGHBOUR_CORRELATION_REFUSE:
        problems.append(
            f"intensity histogram looks like noise (neighbouring voxels correlate at r = "
            f"{f['neighbour_correlation']:.2f}; an image of a head has r >= {NEIGHBOUR_CORRELATION_WARN})"
        )
    if f["head_ml"] < HEAD_ML_REFUSE:
        problems.append(
            f"no head-sized object (foreground {f['head_ml']:.0f} mL; a head's brain alone is over "
            f"{HEAD_ML_WARN:.0f} mL)"
        )
    if f["head_ml"] > HEAD_ML_MAX_REFUSE:
        problems.append(
            f"no head-sized object (foreground {f['head_ml'] / 1000:.1f} L, larger than any head; check the "
            "voxel sizes in the header)"
        )
    if problems:
        raise InputFileError(
            source, "does not look like a brain FLAIR: " + "; ".join(problems) + "; give the FLAIR scan itself"
        )


def _warnings(source: str, f: dict[str, float], ceiling: float) -> list[QCWarning]:
    out = []
    if f["negative_share"] > NEGATIVE_SHARE_WARN:
        out.append(QCWarning(
            "scan.negative_values", source,
            f"{100 * f['negative_share']:.0f}% of the non-zero voxels are negative (an MR magnitude image is "
            "non-negative); they were treated as background, so check the image was not inverted or rescaled",
        ))
    if f["commonest_value_share"] > COMMONEST_SHARE_WARN:
        out.append(QCWarning(
            "scan.few_values", source,
            f"{100 * f['commonest_value_share']:.0f}% of the head is at one intensity value (saturated or "
            "masked image?); figures may be off",
        ))
    if f["neighbour_correlation"] < NEIGHBOUR_CORRELATION_WARN:
        out.append(QCWarning(
            "scan.noisy", source,
            f"neighbouring voxels correlate at r = {f['neighbour_correlation']:.2f} (noise outweighs anatomy "
            f"below {NEIGHBOUR_CORRELATION_WARN}); lesion figures are unreliable on so noisy a scan",
        ))
    if f["head_ml"] < HEAD_ML_WARN:
        out.append(QCWarning(
            "scan.small_head", source,
            f"the head seen holds {f['head_ml']:.0f} mL, less than the smallest adult brain "
            f"(~{HEAD_ML_WARN:.0f} mL): partial coverage? Figures cover only the brain scanned",
        ))
    if HEAD_ML_MAX_WARN < f["head_ml"] <= HEAD_ML_MAX_REFUSE:
        out.append(QCWarning(
            "scan.large_head", source,
            f"the foreground holds {f['head_ml'] / 1000:.1f} L, more than a head and neck (~"
            f"{HEAD_ML_MAX_WARN / 1000:.0f} L): check the voxel sizes in the header",
        ))
    if f["clipped_voxels"]:
        out.append(QCWarning(
            "scan.clipped_outliers", source,
            f"{f['clipped_voxels']:.0f} voxels brighter than any tissue (above {ceiling:.4g}, "
            f"{CEILING_TIMES_P995:g} x the head's 99.5th percentile) were clipped to that value before processing",
        ))
    return out


def _neighbour_correlation(volume: Volume, head: BoolArray) -> float:
    """Pearson correlation of in-plane neighbouring voxel pairs inside ``head`` (the lower of
    the two finest axes)."""
    finest = np.argsort(volume.spacing_mm)[:2]
    data = volume.data
    result = 1.0
    for axis in finest:
        a = np.moveaxis(data, int(axis), 0)
        h = np.moveaxis(head, int(axis), 0)
        both = h[1:] & h[:-1]
        if np.count_nonzero(both) < 2:
            return 0.0
        x = a[1:][both].astype(np.float64)
        y = a[:-1][both].astype(np.float64)
        if x.std() == 0 or y.std() == 0:
            return 1.0
        result = min(result, float(np.corrcoef(x, y)[0, 1]))
    return result
