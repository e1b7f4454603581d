"""Synthetic subjects with ground truth: FLAIR, T1, lesion and ventricle masks.

A phantom starts from the MNI152 tissue maps (:func:`b12brain.anatomy.load_atlas`), enlarges
the ventricles, draws periventricular and deep white-matter lesions, turns tissue fractions
into FLAIR and T1 signal, wraps a simple head around the brain (with eyes and bright orbital
fat under the frontal lobes, ``_orbits.py``), and then "acquires" it:
either on the 1 mm template grid (3D isotropic) or as clinical 2D axial slices of
``slice_mm`` with 0.9 mm pixels (256 x 256 x N). A smooth bias field and Rician noise are
added on the acquired grid. Every random choice comes from ``numpy.random.default_rng(seed)``
(the orbits from ``default_rng([seed, 1])``).

The truth is what a reader would outline: at 1 mm every drawn lesion bright enough to see, on
thick slices each lesion's footprint at its half maximum (:func:`visible_lesion`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.errors import ConfigError
from b12brain.geometry import CONNECTIVITY_26
from b12brain.phantom._acquire import plan_acquisition
from b12brain.phantom._anatomy import Geometry, Ventricles, enlarge_ventricles, load_geometry
from b12brain.phantom._contrast import (
    add_rician_noise,
    bias_field,
    draw_contrasts,
    draw_other_contrast,
    head_layers_mm,
    head_signal,
)
from b12brain.phantom._fields import mm_grids, smooth_field
from b12brain.phantom._lesions import LOAD_SPECS, Lesions, components_touching, make_lesions
from b12brain.phantom._mimics import add_punctate_lesions, draw_mimics
from b12brain.phantom._orbits import make_orbits, paint_orbits
from b12brain.types import Volume

LesionLoad = Literal["none", "mild", "moderate", "severe"]
LESION_LOADS: tuple[str, ...] = get_args(LesionLoad)
#: Contrasts a phantom can show besides its FLAIR and T1 (``PhantomConfig.other_contrasts``).
OtherContrast = Literal["t2", "pd", "dwi"]
OTHER_CONTRASTS: tuple[str, ...] = get_args(OtherContrast)

#: Ground-truth lesion classes (``lesion_class`` voxel values).
CLASS_NAMES = {1: "periventricular", 2: "deep", 3: "juxtacortical", 4: "infratentorial"}
PERIVENTRICULAR, DEEP = 1, 2

SLICE_MM_RANGE = (1.0, 10.0)
#: Most punctate lesions a phantom may ask for.
MAX_PUNCTATE = 200
#: Gaussian sigma (mm) that gives lesions their soft partial-volume edge in the signal.
LESION_EDGE_MM = 0.7
#: A lesion is in the truth where its FLAIR excess over white matter reaches this somewhere
#: (in each slice, on thick slices): twice the spread of white matter on clinical scans (7-12 %
#: of its level on the shared ones), the least a reader can tell from normal tissue.
VISIBLE_EXCESS = 0.2
_ABSENT = 1e-3
_IN_PLANE_8 = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE_8[:, :, 1] = True


@dataclass(frozen=True)
class PhantomConfig:
    """What phantom to make.

    Parameters
    ----------
    seed : int
        Seed of every random choice; same config -> identical arrays.
    lesion_load : {"none", "mild", "moderate", "severe"}
        Total lesion volume at 1 mm: 0, about 2.5-7.5, 12-28 and 120-180 mL (severe is
        confluent periventricular damage).
    slice_mm : float
        1.0 gives the 3D isotropic 1 mm grid (197 x 233 x 189); more (up to 10) gives
        clinical 2D axial slices of that thickness with 0.9 mm pixels (256 x 256 x N).
    other_contrasts : tuple of {"t2", "pd", "dwi"}
        Also make these images of the same subject on the same grid (``Phantom.other``): a T2,
        a proton-density and a diffusion-weighted (b = 1000 trace) image, e.g. to check that
        a scan that is not a FLAIR is noticed. Their tissue signals are drawn from a stream of
        their own, so asking for them leaves the FLAIR and T1 unchanged.
    punctate_lesions : int
        Add up to this many punctate deep lesions of 1.5-3.5 mm (under 0.05 mL each), the
        small lesions segmenters miss most (``_mimics.py``).
    mimics : bool
        Also draw normal FLAIR signal that is not lesion: a bright ependymal rim, faintly bright
        corticospinal tracts and fornix, and dark perivascular spaces (never in the truth).
    slice_gap_mm : float
        Gap between 2D slices (0 to ``slice_mm``): slices of ``slice_mm`` every
        ``slice_mm + slice_gap_mm``, as many clinical 2D FLAIRs are acquired.

    Notes
    -----
    Punctate lesions and mimics draw from random streams of their own: at the defaults of
    these three the phantom is exactly what it was before they existed.
    """

    seed: int = 0
    lesion_load: LesionLoad = "moderate"
    slice_mm: float = 1.0
    other_contrasts: tuple[OtherContrast, ...] = ()
    punctate_lesions: int = 0
    mimics: bool = False
    slice_gap_mm: float = 0.0


@dataclass(frozen=True, eq=False)
class Phantom:
    """A synthetic subject: images and ground truth on one grid.

    ``lesion_class`` uses :data:`CLASS_NAMES` (only 1 periventricular and 2 deep occur).
    ``truth`` is JSON-able: seed, load, slice_mm, shape, voxel_mm, lesion_ml (total),
    lesion_ml_by_class, lesion_count (26-connected components), ventricle_ml, brain_ml and
    the drawn simulation parameters. ``other`` holds the images of
    ``PhantomConfig.other_contrasts`` by name.
    """

    flair: Volume
    t1: Volume
    lesion: Volume
    lesion_class: Volume
    ventricles: Volume
    brain: Volume
    truth: dict[str, Any]
    other: dict[str, Volume] = field(default_factory=dict)


def check_config(config: PhantomConfig) -> None:
    """Raise :class:`~b12brain.errors.ConfigError` for values outside what is supported."""
    if config.lesion_load not in LOAD_SPECS:
        raise ConfigError(f"lesion_load: {config.lesion_load!r} is not one of {', '.join(LESION_LOADS)}")
    lo, hi = SLICE_MM_RANGE
    if not (np.isfinite(config.slice_mm) and lo <= config.slice_mm <= hi):
        raise ConfigError(f"slice_mm: {config.slice_mm!r} is outside {lo:g}-{hi:g} mm; use 1 for 3D or a clinical slice thickness")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int | np.integer) or config.seed < 0:
        raise ConfigError(f"seed: {config.seed!r} must be a non-negative integer")
    if isinstance(config.punctate_lesions, bool) or not isinstance(config.punctate_lesions, int | np.integer) or not 0 <= config.punctate_lesions <= MAX_PUNCTATE:
        raise ConfigError(f"punctate_lesions: {config.punctate_lesions!r} must be an integer from 0 to {MAX_PUNCTATE}")
    gap = config.slice_gap_mm
    if not (np.isfinite(gap) and 0.0 <= gap <= config.slice_mm) or (gap > 0 and config.slice_mm == 1.0):
        raise ConfigError(
            f"slice_gap_mm: {gap!r} must be 0 to slice_mm ({config.slice_mm:g}) on 2D slices, and 0 at 1 mm (3D)"
        )
    unknown = [c for c in config.other_contrasts if c not in OTHER_CONTRASTS]
    if unknown:
        raise ConfigError(f"other_contrasts: {unknown!r} not among {', '.join(OTHER_CONTRASTS)}")


def make_phantom(config: PhantomConfig = PhantomConfig()) -> Phantom:
    """Generate one synthetic subject (about 2 s; 4 s for the first one in a process).

    Raises
    ------
    ConfigError
        ``config`` holds an unknown load, a slice thickness outside 1-10 mm or a bad seed.

    Examples
    --------
    >>> ph = make_phantom(PhantomConfig(seed=1, lesion_load="mild", slice_mm=5.0))
    >>> ph.flair.shape[:2], ph.flair.spacing_mm[2]
    ((256, 256), 5.0)
    """
    return render_phantom(config)


#: Moves 1 mm template-grid arrays (images linearly, masks as fractions) before acquisition.
Motion = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


def render_phantom(
    config: PhantomConfig,
    *,
    edit_lesions: Callable[[Lesions, Geometry, Ventricles], Lesions] | None = None,
    motion: Motion | None = None,
    acquisition_rng: np.random.Generator | None = None,
) -> Phantom:
    """:func:`make_phantom` with hooks for a later visit of the same subject.

    ``edit_lesions`` changes the drawn lesions (same anatomy and contrasts: every draw from
    ``seed`` stays as it is); ``motion`` moves the head on the 1 mm template grid before it is
    acquired; ``acquisition_rng`` draws the bias field, gain and noise (default: the seed's
    stream, as in :func:`make_phantom`). See :mod:`b12brain.phantom.followup`.
    """
    check_config(config)
    rng = np.random.default_rng(int(config.seed))
    geo = load_geometry()
    atlas, box = geo.atlas, geo.box
    spec = LOAD_SPECS[config.lesion_load]

    vent = enlarge_ventricles(geo, rng, rng.uniform(*spec.ventricle_scale))
    lesions = make_lesions(geo, vent, rng, spec)
    if config.punctate_lesions:
        lesions = add_punctate_lesions(geo, lesions, np.random.default_rng([int(config.seed), 3]), config.punctate_lesions)
    if edit_lesions is not None:
        lesions = edit_lesions(lesions, geo, vent)
    flair_c, t1_c = draw_contrasts(rng)
    radii = head_layers_mm(rng)
    # Orbits draw from their own stream, so adding them left every other draw as it was.
    orbits = make_orbits(atlas.affine, atlas.shape, geo.dist_outside_brain, np.random.default_rng([int(config.seed), 1]))

    # Tissue fractions with the enlarged ventricles (growth turns tissue into CSF).
    growth = vent.growth_box
    gm_b = atlas.gm[box] * (1.0 - growth)
    wm_b = atlas.wm[box] * (1.0 - growth)
    csf_b = atlas.csf[box] + (atlas.gm[box] + atlas.wm[box]) * growth
    lesion_b = lesions.pv_box | lesions.deep_box
    edge = np.float32(LESION_EDGE_MM)
    lesion_soft = ndi.gaussian_filter(lesion_b.astype(np.float32), edge)
    flair_les = ndi.gaussian_filter(lesions.flair_factor_box, edge)
    t1_les = ndi.gaussian_filter(lesions.t1_factor_box, edge)

    brain = atlas.brain
    head_dist = geo.dist_outside_brain * (1.0 + 0.15 * smooth_field(rng, mm_grids(atlas.affine, atlas.shape), wavelength_mm=(80.0, 200.0), terms=3))
    # The face wraps the orbits: only the skin lies outside their fat.
    head_dist[orbits.box] = np.minimum(head_dist[orbits.box], orbits.distance + np.float32(radii[-2]))
    other_rng = np.random.default_rng([int(config.seed), 2])
    contrasts = [(flair_c, flair_les), (t1_c, t1_les)]
    mimic = None
    if config.mimics:
        mimic_rng = np.random.default_rng([int(config.seed), 4])
        mimic = draw_mimics(geo, vent, mimic_rng, mm_grids(atlas.affine, atlas.shape, box), lesion_b, flair_c.csf)
    for kind in config.other_contrasts:
        other_c, lesion_share = draw_other_contrast(kind, other_rng)
        contrasts.append((other_c, lesion_soft + np.float32(lesion_share) * (flair_les - lesion_soft)))
    images = []
    for index, (c, les) in enumerate(contrasts):
        img = atlas.wm + np.float32(c.gm) * atlas.gm + np.float32(c.csf) * atlas.csf
        tissue_b = wm_b + np.float32(c.gm) * gm_b + np.float32(c.csf) * csf_b
        img[box] = tissue_b * (1.0 - lesion_soft) + les
        if mimic is not None and index == 0:  # the FLAIR
            weight, level = mimic
            img[box] = img[box] * (1.0 - weight) + weight * level
        img = np.where(brain, img, head_signal(head_dist, radii, c.head)).astype(np.float32)
        images.append(paint_orbits(img, orbits, vitreous=c.head[0], fat=c.head[4]))

    # Binary truth on the 1 mm grid.
    pv = np.zeros(atlas.shape, dtype=bool)
    deep = np.zeros(atlas.shape, dtype=bool)
    ventricles = np.zeros(atlas.shape, dtype=bool)
    pv[box], deep[box], ventricles[box] = lesions.pv_box, lesions.deep_box, vent.mask_box
    # A lesion too faint to see once blurred is no reader's lesion.
    seen = np.zeros(atlas.shape, dtype=bool)
    seen[box] = lesion_b & (flair_les - lesion_soft >= np.float32(VISIBLE_EXCESS))
    excess = np.zeros(atlas.shape, dtype=np.float32)
    excess[box] = np.where(lesion_b, lesions.flair_factor_box - 1.0, 0.0)
    if motion is not None:
        images = [motion(img) for img in images]
        pv, deep, ventricles, brain, seen = (motion(m.astype(np.float32)) >= 0.5 for m in (pv, deep, ventricles, brain, seen))
        excess = motion(excess)

    if config.slice_mm == 1.0:
        affine = atlas.affine.copy()
        lesion = components_touching(pv | deep, seen)
        pv, deep = pv & lesion, deep & lesion
        lesion_class = np.where(pv, PERIVENTRICULAR, np.where(deep, DEEP, 0)).astype(np.uint8)
        vent_out, brain_out = ventricles, brain
        relabelled = 0
    else:
        zs = np.flatnonzero(brain.any(axis=(0, 1))) + atlas.affine[2, 3]
        ys = np.flatnonzero(brain.any(axis=(0, 2))) + atlas.affine[1, 3]
        z_top = float(zs.max() + radii[-1] + 2.0)
        acq = plan_acquisition(
            atlas.affine, atlas.shape, float(config.slice_mm), (float(atlas.affine[2, 3]), z_top), (0.0, float(ys.mean())),
            gap_mm=float(config.slice_gap_mm),
        )  # fmt: skip
        affine = acq.affine
        images = [acq.apply(img) for img in images]
        pv_f, deep_f = acq.apply(pv.astype(np.float32)), acq.apply(deep.astype(np.float32))
        vent_out = acq.apply(ventricles.astype(np.float32)) >= 0.5
        # A voxel mostly of ventricle reads as CSF.
        lesion = visible_lesion(pv_f + deep_f, acq.apply(excess)) & ~vent_out
        design = np.where(pv_f >= deep_f, PERIVENTRICULAR, DEEP)
        lesion_class, relabelled = _classes_by_rule(lesion, vent_out, design)
        brain_out = acq.apply(brain.astype(np.float32)) >= 0.5

    # Acquisition: bias field, gain, Rician noise, on the output grid.
    coords = mm_grids(affine, images[0].shape)
    rng = rng if acquisition_rng is None else acquisition_rng
    wm_level = rng.uniform(300.0, 900.0)
    bias_amp = rng.uniform(0.10, 0.20)
    noise_frac = rng.uniform(0.02, 0.045) if config.slice_mm == 1.0 else rng.uniform(0.015, 0.035)
    out_images = []
    for img in images:
        img *= bias_field(rng, coords, bias_amp) * np.float32(wm_level)
        out_images.append(add_rician_noise(rng, img, noise_frac * wm_level))

    extras = "".join(
        f", {name}={value:g}" if isinstance(value, float) else f", {name}={value}"
        for name, value in (("punctate_lesions", config.punctate_lesions), ("mimics", config.mimics), ("slice_gap_mm", config.slice_gap_mm))
        if value
    )
    source = f"phantom(seed={config.seed}, load={config.lesion_load}, slice_mm={config.slice_mm:g}{extras})"
    vol = lambda data, kind: Volume(data, affine.copy(), f"{source} {kind}")  # noqa: E731
    phantom = Phantom(
        flair=vol(out_images[0], "flair"),
        t1=vol(out_images[1], "t1"),
        lesion=vol(lesion.astype(np.uint8), "lesion"),
        lesion_class=vol(lesion_class, "lesion_class"),
        ventricles=vol(vent_out.astype(np.uint8), "ventricles"),
        brain=vol(brain_out.astype(np.uint8), "brain"),
        truth={},
        other={kind: vol(img, kind) for kind, img in zip(config.other_contrasts, out_images[2:], strict=True)},
    )
    phantom.truth.update(
        _truth(phantom, config)
        | {
            "ventricle_scale": round(vent.scale, 3),
            "class_relabelled_voxels": int(relabelled),
            "deep_lesions_drawn": lesions.deep_count,
            "bias_amplitude": round(float(bias_amp), 3),
            "noise_sigma_rel_wm": round(float(noise_frac), 4),
            "flair_gm_wm_ratio": round(flair_c.gm, 3),
        }
    )
    return phantom


def visible_lesion(fraction: npt.NDArray[np.floating], excess: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
    """Thick-slice truth as a reader outlines it: in each slice, each lesion's voxels filled to
    at least half the lesion's peak fill there (the full width at half maximum), for lesions
    whose FLAIR excess over white matter reaches ``VISIBLE_EXCESS`` somewhere in the slice.

    ``fraction`` is the share of each voxel that is lesion, ``excess`` the lesions' FLAIR
    excess (lesion / white matter - 1) averaged over the voxel. A lesion thinner than the slice
    fills only part of each voxel and shows as its footprint at reduced contrast; experts
    outline that footprint where it is visible (on the shared clinical scans their edges lie
    between 0.3 and 0.85 of the way from the surrounding tissue's FLAIR to the lesion's). A
    lesion that fills its voxels is outlined where it fills half of them. Lesions are
    8-connected in-plane regions of ``fraction > 0``.

    Examples
    --------
    >>> f = np.zeros((7, 3, 1)); f[1:6, 1, 0] = [0.1, 0.3, 0.4, 0.3, 0.1]
    >>> visible_lesion(f, 0.5 * f)[:, 1, 0].astype(int).tolist()
    [0, 0, 1, 1, 1, 0, 0]
    >>> int(visible_lesion(f, 0.2 * f).sum())  # a peak excess of 0.08: not seen
    0
    """
    present = fraction > _ABSENT
    labels, n = ndi.label(present, structure=_IN_PLANE_8)
    if n == 0:
        return present
    index = np.arange(1, n + 1)
    peak = np.zeros(n + 1, dtype=np.float64)
    peak[1:] = ndi.maximum(fraction, labels, index)
    seen = np.zeros(n + 1, dtype=bool)
    seen[1:] = np.asarray(ndi.maximum(excess, labels, index)) >= VISIBLE_EXCESS
    level = np.where(seen, 0.5 * peak, np.inf)
    return fraction >= level[labels]


def _classes_by_rule(
    lesion: npt.NDArray[np.bool_], ventricles: npt.NDArray[np.bool_], design: npt.NDArray[np.integer]
) -> tuple[npt.NDArray[np.uint8], int]:
    """Classes of resampled lesions by the LST-AI location rule: periventricular when the 3x3x3
    dilation of the 26-connected component touches the ventricles, else deep.

    At 1 mm the design already satisfies the rule. On thick slices partial volume can detach a
    fragment of a periventricular band from the ventricles, or merge a deep lesion with a band
    across a slice; labelling whole components by the rule keeps the truth consistent with it.
    Returns the classes and the number of lesion voxels whose by-design class changed.
    """
    labels, n = ndi.label(lesion, structure=CONNECTIVITY_26)
    touching = np.zeros(n + 1, dtype=bool)
    touching[np.unique(labels[ndi.binary_dilation(ventricles, structure=CONNECTIVITY_26) & lesion])] = True
    touching[0] = False
    classes = np.where(lesion, np.where(touching[labels], PERIVENTRICULAR, DEEP), 0).astype(np.uint8)
    return classes, int(np.count_nonzero(lesion & (classes != design)))


def _truth(phantom: Phantom, config: PhantomConfig) -> dict[str, Any]:
    voxel_ml = phantom.lesion.voxel_volume_ml
    cls = phantom.lesion_class.data
    _, count = ndi.label(phantom.lesion.data, structure=CONNECTIVITY_26)
    extras = {
        name: value
        for name, value in (
            ("punctate_lesions", int(config.punctate_lesions)),
            ("mimics", bool(config.mimics)),
            ("slice_gap_mm", float(config.slice_gap_mm)),
        )
        if value
    }
    return {
        "seed": int(config.seed),
        "lesion_load": config.lesion_load,
        "slice_mm": float(config.slice_mm),
        **extras,
        "shape": list(phantom.flair.shape),
        "voxel_mm": [round(s, 6) for s in phantom.flair.spacing_mm],
        "lesion_ml": round(float(np.count_nonzero(phantom.lesion.data)) * voxel_ml, 3),
        "lesion_ml_by_class": {
            CLASS_NAMES[k]: round(float(np.count_nonzero(cls == k)) * voxel_ml, 3) for k in (PERIVENTRICULAR, DEEP)
        },
        "lesion_count": int(count),
        "ventricle_ml": round(float(np.count_nonzero(phantom.ventricles.data)) * voxel_ml, 3),
        "brain_ml": round(float(np.count_nonzero(phantom.brain.data)) * voxel_ml, 3),
    }


