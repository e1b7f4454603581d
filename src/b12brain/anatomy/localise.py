"""Subject anatomy for lesion localisation: brain, tissue priors, ventricles, cortex,
infratentorial region, on the scan's own grid.

The MNI152 atlas is aligned to the scan (``register.py``); what an affine fit cannot get right
is taken from the scan itself: the ventricles are the dark (CSF) voxels of a FLAIR found near
the atlas ventricles and connected to them, so enlarged ventricles are followed; brain
parenchyma excludes the dark CSF. Works on thick-slice 2D FLAIR because every step uses world
millimetres, never voxel counts.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.anatomy.atlas import Atlas, load_atlas
from b12brain.anatomy.register import AtlasAlignment, MovingAtlas, align_atlas, moving_atlas
from b12brain.types import BoolArray, FloatArray, Volume

#: How far (mm) subject ventricles may extend beyond the aligned atlas ventricles.
VENTRICLE_GROWTH_MM = 15.0
#: A FLAIR nulls free CSF: under this fraction of the white-matter level a voxel is CSF
#: (partial volume aside); brain tissue is about as bright as white matter or brighter.
NULLED_CSF_OF_WM = 0.5
#: Cortex = grey matter within this depth (mm) of the brain surface (excludes deep grey matter).
CORTEX_DEPTH_MM = 15.0


@dataclass(frozen=True, eq=False)
class TissueLevels:
    """Typical FLAIR intensities of the scan (after bias correction)."""

    wm: float
    wm_sd: float
    gm: float
    csf: float


@dataclass(frozen=True, eq=False)
class Anatomy:
    """Anatomy of one scan on its (closest-canonical) grid.

    Parameters
    ----------
    brain : (X, Y, Z) ndarray of bool
        Intracranial space (aligned atlas brain, within the head).
    parenchyma : (X, Y, Z) ndarray of bool
        Brain tissue: ``brain`` minus dark CSF.
    wm, gm : (X, Y, Z) ndarray of float32
        Aligned atlas white- and grey-matter probabilities.
    ventricles, cortex, infratentorial : (X, Y, Z) ndarray of bool
        Lateral + third ventricles (from the scan's CSF signal), cortical grey matter, and the
        cerebellum + brainstem.
    levels : TissueLevels
        FLAIR intensities of white matter, grey matter and CSF.
    alignment : AtlasAlignment
        Subject-to-atlas transform.
    """

    brain: BoolArray
    parenchyma: BoolArray
    wm: FloatArray
    gm: FloatArray
    ventricles: BoolArray
    cortex: BoolArray
    infratentorial: BoolArray
    levels: TissueLevels
    alignment: AtlasAlignment


@dataclass(frozen=True, eq=False)
class PreparedAtlas:
    """An atlas with what the localisation of every scan derives from it alone
    (:func:`prepare_atlas`): the registration's moving image and the atlas cortex."""

    atlas: Atlas
    moving: MovingAtlas
    cortex: BoolArray


_PREPARING = threading.Lock()


def prepare_atlas(atlas: Atlas | None = None) -> PreparedAtlas:
    """``atlas`` (default: the packaged one, :func:`load_atlas`) prepared for :func:`localise_anatomy`;
    made once per atlas and process (about 1.5 s of CPU for the packaged one).

    Safe to call from several threads: a caller waits for a preparation under way in another.
    ``b12brain run`` calls it on a background thread while it reads and checks the scan, so
    that the pipeline finds it made.

    Raises
    ------
    ResourceError
        The atlas templates cannot be read.
    """
    with _PREPARING:
        return _prepare(atlas or load_atlas())


@functools.lru_cache(maxsize=2)
def _prepare(atlas: Atlas) -> PreparedAtlas:
    return PreparedAtlas(atlas, moving_atlas(_flair_like(atlas), atlas.brain, atlas.affine), _cortex(atlas))


def localise_anatomy(flair: Volume, head: BoolArray, atlas: Atlas | None = None) -> Anatomy:
    """Align the atlas (default: the packaged one) to a bias-corrected FLAIR and derive the scan's anatomy.

    Raises
    ------
    RegistrationError
        The atlas could not be placed in the scan.
    """
    prepared = prepare_atlas(atlas)
    return anatomy_from_alignment(flair, head, align_atlas(flair, head, prepared.moving), prepared.atlas)


def anatomy_from_alignment(flair: Volume, head: BoolArray, alignment: AtlasAlignment, atlas: Atlas | None = None) -> Anatomy:
    """The scan's anatomy from a given atlas fit (the second half of :func:`localise_anatomy`).

    Lets a caller (a test, a QC study) see what a known fit, right or deliberately wrong,
    makes of a scan without running the registration.

    Raises
    ------
    ResourceError
        The atlas templates cannot be read.
    """
    prepared = prepare_atlas(atlas)
    atlas = prepared.atlas

    def warp(array: npt.NDArray[np.generic]) -> FloatArray:
        return alignment.warp(array, atlas.affine, flair.shape, flair.affine)

    brain = (warp(atlas.brain) > 0.5) & head
    wm = warp(atlas.wm) * brain
    gm = warp(atlas.gm) * brain
    ventricle_prior = warp(atlas.ventricles)
    cortex = (warp(prepared.cortex) > 0.5) & brain
    infratentorial = (warp(atlas.infratentorial) > 0.5) & brain

    levels = _tissue_levels(flair.data, brain, wm, gm, ventricle_prior)
    csf_cut = levels.csf + 0.5 * (levels.wm - levels.csf)
    dark = brain & (flair.data < csf_cut)
    nulled = flair.data < NULLED_CSF_OF_WM * levels.wm
    ventricles = _ventricles(dark, nulled, ventricle_prior, brain, flair.spacing_mm)
    parenchyma = brain & ~dark
    return Anatomy(brain, parenchyma, wm, gm, ventricles, cortex & ~ventricles, infratentorial, levels, alignment)


def _flair_like(atlas: Atlas) -> FloatArray:
    """The atlas in FLAIR contrast (CSF dark, grey matter brighter than white matter)."""
    image = (0.08 * atlas.csf + 0.55 * atlas.wm + 0.75 * atlas.gm) * atlas.brain
    image.setflags(write=False)
    return image


def _cortex(atlas: Atlas) -> BoolArray:
    """Cortical grey matter of the atlas: superficial, supratentorial, GM probability > 0.5.

    Depth is measured on a 2 mm subsample of the 1 mm atlas brain (ten times faster than at
    1 mm, ~1.9 s saved per run): the 15 mm cut only separates the cortical ribbon (< ~6 mm
    deep) from the deep grey nuclei (> 20 mm), so a millimetre of error moves nothing that
    matters.
    """
    step = 2
    coarse_depth = ndi.distance_transform_edt(atlas.brain[::step, ::step, ::step], sampling=step)
    depth = coarse_depth[np.ix_(*(np.arange(n) // step for n in atlas.brain.shape))]
    cortex = (atlas.gm > 0.5) & (depth <= CORTEX_DEPTH_MM) & ~atlas.infratentorial
    cortex.setflags(write=False)
    return cortex


def _tissue_levels(
    data: FloatArray, brain: BoolArray, wm: FloatArray, gm: FloatArray, ventricle_prior: FloatArray
) -> TissueLevels:
    """Mode of white matter (robust to a bright lesion tail), its spread, and CSF/GM levels."""
    wm_values = data[brain & (wm > 0.9)]
    if wm_values.size < 100:
        wm_values = data[brain & (wm > 0.5)]
    wm_mode, wm_sd = _mode_and_spread(wm_values)
    gm_values = data[brain & (gm > 0.7)]
    gm_level = float(np.median(gm_values)) if gm_values.size else wm_mode
    csf_values = data[brain & (ventricle_prior > 0.9)]
    csf_level = float(np.percentile(csf_values, 25)) if csf_values.size > 20 else float(np.percentile(data[brain], 2))
    return TissueLevels(wm=wm_mode, wm_sd=wm_sd, gm=gm_level, csf=min(csf_level, wm_mode))


def _mode_and_spread(values: FloatArray) -> tuple[float, float]:
    """Histogram mode and a spread from the half-maximum width on the mode's lower side.

    The lower side only: lesions make the upper tail heavy, and partial volume with CSF and
    grey matter makes the lower tail long, so neither a standard deviation nor a MAD of all
    values describes normal white matter; the peak's half width does (Gaussian: HWHM = 1.1774 σ).
    """
    lo, hi = np.percentile(values, [0.5, 99.5])
    if hi <= lo:
        return float(np.median(values)), max(abs(float(lo)) * 0.05, 1e-6)
    hist, edges = np.histogram(values, bins=200, range=(lo, hi))
    hist = ndi.gaussian_filter1d(hist.astype(float), 2)
    centres = (edges[:-1] + edges[1:]) / 2
    peak = int(hist.argmax())
    below_half = np.nonzero(hist[:peak] < hist[peak] / 2)[0]
    left = centres[below_half[-1]] if below_half.size else centres[0]
    mode = float(centres[peak])
    return mode, max(float(mode - left) / 1.1774, 1e-3 * abs(mode) + 1e-9)


def _ventricles(
    dark: BoolArray, nulled: BoolArray, prior: FloatArray, brain: BoolArray, spacing_mm: tuple[float, float, float]
) -> BoolArray:
    """Dark voxels near the aligned atlas ventricles that connect to their core.

    ``nulled`` marks the voxels as dark as nulled CSF (:data:`NULLED_CSF_OF_WM`), which an
    enlarged ventricle must mostly be.
    """
    core = prior > 0.5
    if not core.any():
        return np.zeros_like(dark)
    near = ndi.distance_transform_edt(~core, sampling=spacing_mm) <= VENTRICLE_GROWTH_MM
    # Stay away from the brain surface, where dark voxels are sulcal CSF.
    deep = ndi.distance_transform_edt(brain, sampling=spacing_mm) > 8.0
    candidates = dark & near & deep
    labels, n = ndi.label(candidates)
    if n == 0:
        return np.zeros_like(dark)
    # Keep the parts that mostly overlap the atlas ventricles' neighbourhood, not stray dark
    # regions (sinuses, cisterns) that a few misaligned millimetres bring close. Also keep a
    # part, however large, that fills at least a third of the atlas ventricles and is mostly
    # nulled CSF: enlarged ventricles (atrophy, hydrocephalus) are one dark part several times
    # the atlas's, which it covers by less than a fifth of its size (a real scan's 77 mL of
    # ventricles were dropped so), but placed right the atlas's ventricles lie mostly inside
    # it. A stray region never fills that much of them; the "dark" white matter of a fit that
    # lays them on white matter (whose CSF level, read from them, is then white matter's) is
    # not nulled CSF.
    inside = np.bincount(labels[core], minlength=n + 1)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    nulled_share = np.bincount(labels[nulled], minlength=n + 1) / np.maximum(sizes, 1)
    enlarged = (3 * inside >= np.count_nonzero(core)) & (nulled_share >= 0.5)
    keep = ((inside >= 0.2 * sizes) | enlarged) & (inside > 0)
    keep[0] = False
    return keep[labels]
