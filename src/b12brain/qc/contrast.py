"""Is the FLAIR a FLAIR, is the T1 a T1? From the series metadata, and from tissue contrast.

**Metadata** (a DICOM series, or a BIDS sidecar beside a NIfTI; ``Volume.metadata``) is checked
right after reading, before any expensive stage (:func:`check_metadata`):
:func:`~b12brain.qc.sequence.call_sequence` says what the series is (docs/series-selection.md).
A scan given as the FLAIR that its metadata call anything else (T1, T2, PD, DWI, ADC, SWI,
perfusion, fMRI, angiogram, localizer, derived or reformatted image, or not MR) is refused; a
scan given as the T1 that its metadata call something else runs with a QC warning (the T1
changes no figure of a run). Metadata that say nothing usable leave it to the image.

**The image** is checked always (the only evidence for a bare NIfTI), after the atlas
registration. On a FLAIR the cerebrospinal fluid (CSF) is dark and grey matter brighter than
white matter; on a T1 white matter is brighter than grey matter and CSF dark; on a T2 CSF is
the brightest tissue; on a proton-density (PD) image CSF is about as bright as grey matter,
above white matter. The check measures this inside the brain, in the tissue cores of the
aligned atlas (:func:`check_flair_contrast`, :func:`check_t1_contrast`). A diffusion-weighted
(b = 1000) image shows a FLAIR's contrast and is told apart by its metadata only.

Figures (ratios, so the scanner's intensity scale does not matter), taken on a ~2 mm subsample:

* ``contrast_gm_wm``: the most common intensity (histogram mode) of the cortex core (cortical
  grey matter, atlas probability > 0.7) over that of the white-matter core (atlas probability
  > 0.9). A mode, not a median: an affine atlas fit on thick slices mixes some white matter
  and CSF into each core, and the mode stays at the tissue that fills most of it.
* ``contrast_csf_wm``: the lower quartile of the ventricle core (aligned atlas ventricles,
  weight > 0.9) over the white-matter mode. The lower quartile, not the median: narrow
  ventricles fill only part of the atlas's ventricle core (the rest is periventricular
  tissue, often with lesions in the patients this tool is for), and where the ventricles are
  dark some of the core is dark.

The cut-offs below are rules of this tool, set between the classes of scans measured with
``benchmarks/contrast_check.py`` (phantom FLAIR, T1, T2, PD and DWI images; the shared real
FLAIRs and T1s); the figures and margins are in docs/scan-qc.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.anatomy.atlas import load_atlas
from b12brain.anatomy.localise import Anatomy
from b12brain.errors import InputFileError
from b12brain.qc.sequence import call_sequence
from b12brain.qc.t1 import resample_by_world
from b12brain.types import BoolArray, QCWarning, Volume

#: A rule of this tool: grey matter on a FLAIR is at least as bright as white matter (longer T2,
#: more water); on a T1 it is 10-30 % darker. A "FLAIR" whose cortex is more than 8 % darker
#: than its white matter is refused as a T1; 5-8 % darker is warned about.
FLAIR_GM_WM_REFUSE, FLAIR_GM_WM_WARN = 0.92, 0.95
#: A rule of this tool: a FLAIR nulls the CSF, so the darker part of the ventricles is well below
#: white matter; on a T2 CSF is 2-4 times as bright as white matter, on a PD image about as
#: bright as grey matter. A "FLAIR" whose ventricles' lower quartile is brighter than 1.3 x
#: white matter is refused (looks like a T2, or a PD image); above 1.0 x it is warned about
#: (CSF not suppressed).
FLAIR_CSF_WM_REFUSE, FLAIR_CSF_WM_WARN = 1.3, 1.0
#: A rule of this tool: on a T1 white matter is the brightest tissue of the brain and CSF the
#: darkest. A "T1" whose cortex is as bright as its white matter (ratio >= 0.95), or whose
#: ventricles are brighter than white matter, does not look like a T1 (warned: the T1 changes
#: no figure of a run, see docs/scan-qc.md).
T1_GM_WM_WARN, T1_CSF_WM_WARN = 0.95, 1.0

#: What each metadata call is, in a message.
_CALLED = {
    "flair": "a FLAIR", "t1": "a T1", "t2": "a T2", "pd": "a proton-density image", "dwi": "a diffusion-weighted image",
    "adc": "a diffusion map (ADC/FA)", "swi": "a susceptibility-weighted (T2*) image", "perfusion": "a perfusion series",
    "fmri": "a functional (BOLD) series", "angio": "an angiogram", "localizer": "a localizer",
    "derived": "a derived or reformatted image", "other": "another kind of series",
}

#: Voxel size (mm) of the grid the tissue cores are sampled on: a histogram of thousands of
#: voxels needs no finer sampling, and this keeps the check to a few hundredths of a second.
_CHECK_MM = 2.0
#: Atlas probabilities above which a voxel belongs to a tissue's core.
_WM_CORE, _GM_CORE, _VENTRICLE_CORE = 0.9, 0.7, 0.9
#: Fewest voxels of a core for its figure to mean anything.
MIN_CORE_VOXELS = 50


@dataclass(frozen=True)
class ContrastCheck:
    """Tissue contrast of one scan and what it looks like.

    Parameters
    ----------
    gm_wm : float
        ``contrast_gm_wm`` (see the module docstring); NaN when a core was too small.
    csf_wm : float
        ``contrast_csf_wm``; NaN when a core was too small.
    looks_like : str
        ``"FLAIR"``, ``"T1"``, ``"T2 or PD"`` or ``"unknown"`` (too little brain sampled).
    warnings : tuple of QCWarning
    """

    gm_wm: float
    csf_wm: float
    looks_like: str
    warnings: tuple[QCWarning, ...] = field(default=())

    @property
    def figures(self) -> dict[str, float]:
        """The figures under their ``summary.json`` names (none when not measured)."""
        figures = {"contrast_gm_wm": self.gm_wm, "contrast_csf_wm": self.csf_wm}
        return {name: round(value, 3) for name, value in figures.items() if np.isfinite(value)}


@dataclass(frozen=True, eq=False)
class TissueCores:
    """Tissue cores of the aligned atlas on a ~2 mm subsample of a scan's grid.

    Parameters
    ----------
    grid : tuple of slice
        Strides that take the subsample from the scan's array.
    affine : (4, 4) ndarray of float64
        Voxel-to-world affine of the subsample.
    wm, cortex, ventricles : ndarray of bool
        The cores, on the subsample.
    atlas_ventricles : ndarray of bool
        The aligned atlas ventricles in the brain (weight > 0.5, not only their core), on the
        subsample (:mod:`b12brain.qc.ventricles` measures their volume).
    """

    grid: tuple[slice, slice, slice]
    affine: npt.NDArray[np.float64]
    wm: BoolArray
    cortex: BoolArray
    ventricles: BoolArray
    atlas_ventricles: BoolArray


def check_metadata(scan: Volume, role: Literal["flair", "t1"]) -> tuple[QCWarning, ...]:
    """Refuse a FLAIR (warn about a T1) whose series metadata say it is another kind of series.

    Parameters
    ----------
    scan : Volume
        The scan as read; its ``metadata`` (BIDS sidecar keys) are checked, nothing when empty.
    role : {"flair", "t1"}
        What it was given as.

    Returns
    -------
    tuple of QCWarning
        For a T1 that its metadata call something else (``contrast.metadata_not_t1``).

    Raises
    ------
    InputFileError
        (role ``"flair"``) The metadata call the scan something other than a FLAIR; the message
        says what, why, and how to find the FLAIR series.

    Examples
    --------
    >>> import numpy as np
    >>> scan = Volume(np.zeros((2, 2, 2)), np.eye(4), "t1w.nii.gz", metadata={"SeriesDescription": "T1W_3D_TFE"})
    >>> check_metadata(scan, "flair")
    Traceback (most recent call last):
    ...
    b12brain.errors.InputFileError: t1w.nii.gz: its metadata say it is a T1, not a FLAIR (description 'T1W_3D_TFE' ...
    """
    if not scan.metadata:
        return ()
    call = call_sequence(scan.metadata)
    if call.contrast is None or call.contrast == role:
        return ()
    what, why = _CALLED[call.contrast], "; ".join(call.reasons)
    if role == "flair":
        raise InputFileError(
            scan.source, f"its metadata say it is {what}, not a FLAIR ({why}); give the FLAIR series (see `b12brain series`)"
        )
    return (QCWarning(
        "contrast.metadata_not_t1", scan.source,
        f"the series given as the T1 is {what} by its metadata ({why}), not a T1: check that it is the T1 series",
    ),)


def tissue_cores(anatomy: Anatomy, scan: Volume) -> TissueCores:
    """The atlas's white-matter, cortex and ventricle cores on a ~2 mm subsample of ``scan``.

    ``anatomy`` must be on ``scan``'s grid (:func:`~b12brain.anatomy.localise.localise_anatomy`
    of it).
    """
    steps = [max(1, int(round(_CHECK_MM / s))) for s in scan.spacing_mm]
    grid = (slice(None, None, steps[0]), slice(None, None, steps[1]), slice(None, None, steps[2]))
    affine = scan.affine @ np.diag([*steps, 1.0])
    brain = anatomy.brain[grid]
    atlas_ventricles, atlas_affine = _atlas_ventricles()
    ventricles = anatomy.alignment.warp(atlas_ventricles, atlas_affine, brain.shape, affine)
    return TissueCores(
        grid=grid,
        affine=affine,
        wm=brain & (anatomy.wm[grid] > _WM_CORE),
        cortex=brain & anatomy.cortex[grid] & (anatomy.gm[grid] > _GM_CORE),
        ventricles=brain & (ventricles > _VENTRICLE_CORE),
        atlas_ventricles=brain & (ventricles > 0.5),
    )


@functools.lru_cache(maxsize=1)
def _atlas_ventricles() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The atlas ventricles cropped to their bounding box (plus 2 voxels), with its affine:
    warping this box instead of the whole 197 x 233 x 189 grid took the FLAIR check from about
    0.2 s to 0.03 s (both measured on the shared machine under load)."""
    atlas = load_atlas()
    box = tuple(slice(max(0, int(i.min()) - 2), int(i.max()) + 3) for i in np.nonzero(atlas.ventricles))
    affine = atlas.affine.copy()
    affine[:3, 3] = atlas.affine[:3] @ [*(s.start for s in box), 1]
    crop = atlas.ventricles[box].astype(np.float32)
    crop.setflags(write=False)
    return crop, affine


def measure_contrast(values: npt.NDArray[np.floating], cores: TissueCores) -> tuple[float, float]:
    """``contrast_gm_wm`` and ``contrast_csf_wm`` of ``values`` (on the cores' subsample; NaN
    where not sampled). NaN figures where a core holds fewer than 50 sampled voxels."""
    samples = {}
    for name in ("wm", "cortex", "ventricles"):
        sample = values[getattr(cores, name)]
        samples[name] = sample[np.isfinite(sample)]
    if min(s.size for s in samples.values()) < MIN_CORE_VOXELS:
        return float("nan"), float("nan")
    wm = _mode(samples["wm"])
    if wm <= 0:
        return float("nan"), float("nan")
    return _mode(samples["cortex"]) / wm, float(np.percentile(samples["ventricles"], 25)) / wm


def check_flair_contrast(flair: Volume, anatomy: Anatomy, cores: TissueCores | None = None) -> ContrastCheck:
    """Refuse a "FLAIR" whose tissue contrast is clearly that of another sequence.

    Parameters
    ----------
    flair : Volume
        The scan given as the FLAIR (bias-corrected, on ``anatomy``'s grid).
    anatomy : Anatomy
        Its anatomy (aligned atlas).
    cores : TissueCores, optional
        :func:`tissue_cores` of ``anatomy`` and ``flair`` when already computed.

    Returns
    -------
    ContrastCheck
        The figures, and a QC warning when one is borderline (``contrast.not_flair_like``) or
        when too little brain was sampled to measure them (``contrast.not_measured``).

    Raises
    ------
    InputFileError
        Grey matter clearly darker than white matter (a T1), or the ventricles bright (a T2 or
        PD image); the message gives the figures and what a FLAIR shows.
    """
    cores = cores or tissue_cores(anatomy, flair)
    gm_wm, csf_wm = measure_contrast(flair.data[cores.grid], cores)
    looks_like = classify_contrast(gm_wm, csf_wm)
    seen = _describe(gm_wm, csf_wm)
    if looks_like in ("T1", "T2 or PD"):
        raise InputFileError(
            flair.source,
            f"looks like a {looks_like}, not a FLAIR: {seen} (a FLAIR shows grey matter at least "
            f"{FLAIR_GM_WM_REFUSE:g} x white matter and dark ventricles, under {FLAIR_CSF_WM_REFUSE:g} x); "
            "give the FLAIR series (see `b12brain series`)",
        )
    warnings = []
    if looks_like == "unknown":
        warnings.append(QCWarning(
            "contrast.not_measured", flair.source,
            "too little white matter, cortex or ventricle in the scan to check that it is a FLAIR by its tissue "
            "contrast; check that this is the FLAIR series",
        ))
    elif gm_wm < FLAIR_GM_WM_WARN or csf_wm > FLAIR_CSF_WM_WARN:
        warnings.append(QCWarning(
            "contrast.not_flair_like", flair.source,
            f"the tissue contrast is unusual for a FLAIR ({seen}; a FLAIR shows grey matter at least "
            f"{FLAIR_GM_WM_WARN:g} x white matter and ventricles under {FLAIR_CSF_WM_WARN:g} x): check that this "
            "is the FLAIR series; lesion figures from another sequence are wrong",
        ))
    return ContrastCheck(gm_wm, csf_wm, looks_like, tuple(warnings))


def check_t1_contrast(t1: Volume, flair: Volume, anatomy: Anatomy, cores: TissueCores | None = None) -> ContrastCheck:
    """Warn when the scan given as the T1 does not show a T1's tissue contrast.

    The T1 is not registered: it is resampled by world coordinates (its affine) onto a ~2 mm
    subsample of the FLAIR's grid, where the atlas's tissue cores are, as for the overlap
    checks of :mod:`b12brain.qc.t1` (scans of one session show the head in the same place).

    Parameters
    ----------
    t1 : Volume
        The T1 as read (any grid).
    flair : Volume
        The FLAIR, on ``anatomy``'s grid.
    anatomy : Anatomy
    cores : TissueCores, optional
        :func:`tissue_cores` of ``anatomy`` and ``flair`` when already computed.

    Returns
    -------
    ContrastCheck
        The T1's figures, and a QC warning (``contrast.not_t1_like``) when it does not look like
        a T1 (a T1 changes no figure of a run, so it is not refused).
    """
    cores = cores or tissue_cores(anatomy, flair)
    values = resample_by_world(t1, cores.wm.shape, cores.affine)
    gm_wm, csf_wm = measure_contrast(values, cores)
    looks_like = classify_contrast(gm_wm, csf_wm)
    warnings = []
    if gm_wm >= T1_GM_WM_WARN or csf_wm > T1_CSF_WM_WARN:
        guess = "" if looks_like in ("T1", "unknown") else f"; it looks like a {looks_like}"
        warnings.append(QCWarning(
            "contrast.not_t1_like", t1.source,
            f"the scan given as the T1 does not show a T1's tissue contrast ({_describe(gm_wm, csf_wm)}; a T1 "
            f"shows grey matter under {T1_GM_WM_WARN:g} x white matter and dark ventricles){guess}: check that it "
            "is the T1 series",
        ))
    return ContrastCheck(gm_wm, csf_wm, looks_like, tuple(warnings))


def classify_contrast(gm_wm: float, csf_wm: float) -> str:
    """What the two figures look like: ``"T2 or PD"`` (bright ventricles), ``"T1"`` (grey matter
    darker than white matter), ``"FLAIR"`` or ``"unknown"`` (NaN figures).

    Examples
    --------
    >>> classify_contrast(1.08, 0.3), classify_contrast(0.78, 0.3), classify_contrast(1.2, 2.5)
    ('FLAIR', 'T1', 'T2 or PD')
    """
    if not (np.isfinite(gm_wm) and np.isfinite(csf_wm)):
        return "unknown"
    if csf_wm > FLAIR_CSF_WM_REFUSE:
        return "T2 or PD"
    if gm_wm < FLAIR_GM_WM_REFUSE:
        return "T1"
    return "FLAIR"


def _describe(gm_wm: float, csf_wm: float) -> str:
    return f"cortex {gm_wm:.2f} x white matter, ventricles (lower quartile) {csf_wm:.2f} x"


def _mode(values: npt.NDArray[np.floating]) -> float:
    """Most common value: peak of the histogram (100 bins over the 1st-99th percentiles),
    smoothed over a few bins so that noise does not pick the peak."""
    lo, hi = np.percentile(values, [1, 99])
    if hi <= lo:
        return float(np.median(values))
    counts, edges = np.histogram(values, bins=100, range=(lo, hi))
    peak = int(ndi.gaussian_filter1d(counts.astype(float), 2).argmax())
    return float((edges[peak] + edges[peak + 1]) / 2)
