"""The main job: FLAIR (+ optional T1) in, lesions found, measured and localised out.

Every stage runs on the FLAIR's closest-canonical grid (a lossless axis reordering) and every
voxel result is mapped back to the FLAIR's native grid and affine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from b12brain.anatomy.localise import Anatomy, localise_anatomy
from b12brain.errors import ConfigError
from b12brain.io import load_volume
from b12brain.preprocess.bias import correct_bias
from b12brain.preprocess.coregister import check_overlap
from b12brain.preprocess.orient import to_canonical
from b12brain.qc import T1Check, check_atlas_fit, check_flair, check_t1, check_ventricles
from b12brain.qc.contrast import check_flair_contrast, check_metadata, check_t1_contrast, tissue_cores
from b12brain.qc.selfcheck import SelfCheck, run_self_check
from b12brain.quantify import (
    LESION_CLASSES,
    Burden,
    Lesion,
    measure_lesions,
    set_apart_caps_and_lining,
    summarise_burden,
)
from b12brain.segment import Segmenter, found_lesion_mask, get_segmenter
from b12brain.subject import check_same_patient
from b12brain.types import BoolArray, FloatArray, QCWarning, Volume

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PipelineConfig:
    """Options of :func:`run_pipeline`.

    Parameters
    ----------
    segmenter : str
        Name of the lesion segmenter (see ``b12brain.segment.SEGMENTERS``): ``learned``
        (default, the packaged 2.5D U-Net; MODEL_CARD.md) or ``classical``.
    threshold : float or None
        Probability at which a voxel is lesion; None takes the segmenter's own.
    min_lesion_ml : float or None
        Lesions smaller than this (mL) are dropped; None takes the segmenter's own (learned
        0.01 mL, classical 0.03 mL).
    model : path or None
        ONNX weights for the learned segmenter (with ``<model>.sha256`` beside them); None
        takes the packaged ones.
    refine_edges : bool
        Put each detected lesion's edge at the FLAIR half-maximum between it and its
        surroundings, and drop detections whose surroundings are brighter than brain tissue
        (:mod:`b12brain.segment.edges`); False keeps the segmenter's lesions and edges
        (``probability >= threshold``).
    self_check : bool
        Insert synthetic lesions into the scan's normal-appearing white matter, segment again
        and rate how well small and faint lesions are seen in this scan
        (:mod:`b12brain.qc.selfcheck`). Off by default as not validated: its rate followed the true
        lesion recall only weakly on phantoms and not on the 12 expert-labelled validation scans
        (docs/accuracy.md, "Per-scan self-check").
    """

    segmenter: str = "learned"
    threshold: float | None = None
    min_lesion_ml: float | None = None
    model: Path | str | None = None
    refine_edges: bool = True
    self_check: bool = False

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold {self.threshold} is outside (0, 1)")
        if self.min_lesion_ml is not None and not 0.0 <= self.min_lesion_ml <= 10.0:
            raise ConfigError(f"min_lesion_ml {self.min_lesion_ml} is outside 0-10 mL")


@dataclass(frozen=True, eq=False)
class PipelineResult:
    """Everything the pipeline found; voxel maps are on the input FLAIR's native grid.

    ``lesion_mask``, ``lesion_labels`` and ``lesions`` hold the lesions; caps and pencil-thin
    lining of the ventricles (:mod:`b12brain.quantify.lining`) are in ``caps_lining`` and
    ``caps_lining_mask`` instead. ``warnings`` holds every QC warning (reader, scan checks,
    tissue contrast, atlas fit and its ventricles, T1 checks, self-check); ``self_check`` the
    per-scan self-check (None with ``PipelineConfig(self_check=False)``); ``qc_figures`` the
    figures of the scan, contrast, atlas and ventricle checks and ``t1_check`` those of the T1
    (None without a T1); see docs/scan-qc.md.
    """

    flair: Volume
    t1: Volume | None
    config: PipelineConfig
    segmenter: str
    threshold: float
    min_lesion_ml: float
    lesion_probability: FloatArray
    lesion_mask: BoolArray
    lesion_labels: npt.NDArray[np.int32]
    ventricles: BoolArray
    brain: BoolArray
    lesions: list[Lesion]
    caps_lining: list[Lesion]
    caps_lining_mask: BoolArray
    burden: Burden
    seconds_by_stage: dict[str, float] = field(default_factory=dict)
    segmenter_provenance: dict[str, str] = field(default_factory=dict)
    warnings: tuple[QCWarning, ...] = ()
    qc_figures: dict[str, float] = field(default_factory=dict)
    t1_check: T1Check | None = None
    self_check: SelfCheck | None = None

    def class_map(self) -> npt.NDArray[np.uint8]:
        """Voxel map of lesion classes: 0 none, 1 periventricular, 2 deep, 3 juxtacortical, 4 infratentorial."""
        codes = np.zeros(len(self.lesions) + 1, np.uint8)
        for lesion in self.lesions:
            codes[lesion.id] = LESION_CLASSES.index(lesion.lesion_class) + 1
        return codes[self.lesion_labels]

    @property
    def hyperintensity_mask(self) -> BoolArray:
        """Lesions together with caps and lining: all the white-matter hyperintensity found."""
        return self.lesion_mask | self.caps_lining_mask


@dataclass(frozen=True, eq=False)
class Scans:
    """The scans of one run, each read once and checked together (:func:`read_scans`);
    ``warnings`` holds those of the checks made on reading (a T1 whose metadata call it
    something else)."""

    flair: Volume
    t1: Volume | None = None
    warnings: tuple[QCWarning, ...] = ()


def read_scans(flair: Volume | Path | str, t1: Volume | Path | str | None = None) -> Scans:
    """Read the FLAIR (and the T1) unless given as Volumes, and check that they go together and
    that their metadata, where they have any, call them a FLAIR and a T1
    (:func:`b12brain.qc.contrast.check_metadata`).

    A caller that must refuse bad inputs before any work starts (``b12brain run``) calls this
    first and hands the result to :func:`run_pipeline`, which then reads and checks nothing
    again.

    Raises
    ------
    InputFileError, HeaderError
        A scan is unreadable or unusable, the FLAIR's metadata call it another kind of series,
        the T1's DICOM patient identifiers differ from the FLAIR's, or the T1 does not overlap
        the FLAIR (the message names it).
    """
    flair_volume = flair if isinstance(flair, Volume) else load_volume(flair)
    check_metadata(flair_volume, "flair")
    t1_volume = None if t1 is None else t1 if isinstance(t1, Volume) else load_volume(t1)
    if t1_volume is None:
        return Scans(flair_volume)
    check_same_patient(flair_volume, t1_volume)
    check_overlap(t1_volume, flair_volume)
    return Scans(flair_volume, t1_volume, check_metadata(t1_volume, "t1"))


def run_pipeline(
    flair: Scans | Volume | Path | str,
    t1: Volume | Path | str | None = None,
    config: PipelineConfig | None = None,
    *,
    progress: Progress | None = None,
    segmenter: Segmenter | None = None,
) -> PipelineResult:
    """Find, measure and localise the white-matter lesions of one FLAIR scan.

    Parameters
    ----------
    flair : Scans, Volume or path
        FLAIR scan (NIfTI file or DICOM folder, any orientation, 3D or thick-slice 2D), or the
        scans :func:`read_scans` already read and checked (then ``t1`` must be None).
    t1 : Volume or path, optional
        T1 scan of the same session, on any grid. Neither segmenter reads it yet, so it is not
        registered; it is only checked against the FLAIR (:func:`b12brain.qc.check_t1`).
    config : PipelineConfig, optional
    progress : callable, optional
        Called with one line per stage.
    segmenter : Segmenter, optional
        ``get_segmenter(config.segmenter, model=config.model)`` already built (a caller that
        checks the weights before any work passes it here, so they are read once); None
        builds it.

    Raises
    ------
    InputFileError, HeaderError
        An input is unreadable or unusable, or is not a brain FLAIR: not an image of a head, or
        by its metadata or tissue contrast another sequence (the message names it and says
        what looked wrong; docs/scan-qc.md).
    RegistrationError
        The atlas could not be placed plausibly.
    ConfigError, ModelError
        Unknown segmenter, or the learned segmenter's weights are missing or unusable;
        ``segmenter`` is not the one ``config`` names.

    Examples
    --------
    >>> from b12brain.phantom import PhantomConfig, make_phantom
    >>> scan = make_phantom(PhantomConfig(seed=1, lesion_load="mild", slice_mm=6.0))
    >>> result = run_pipeline(scan.flair)                      # doctest: +SKIP
    >>> result.burden.lesion_ml, result.burden.fazekas         # doctest: +SKIP
    """
    config = config or PipelineConfig()
    say = progress or (lambda _line: None)
    if segmenter is None:
        segmenter = get_segmenter(config.segmenter, model=config.model)
    elif segmenter.name != config.segmenter:
        raise ConfigError(
            f"segmenter {segmenter.name!r} given for a configuration naming {config.segmenter!r}; "
            "pass the segmenter that get_segmenter(config.segmenter, model=config.model) builds"
        )
    if isinstance(flair, Scans) and t1 is not None:
        raise ConfigError("a T1 was given beside Scans; pass it to read_scans(flair, t1) instead")
    threshold = config.threshold if config.threshold is not None else segmenter.threshold
    min_lesion_ml = config.min_lesion_ml if config.min_lesion_ml is not None else segmenter.min_lesion_ml
    clock = _Clock(say)

    with clock("load"):
        scans = flair if isinstance(flair, Scans) else read_scans(flair, t1)
        flair_native, t1_native = scans.flair, scans.t1
        canonical, how = to_canonical(flair_native)
    with clock("scan checks (is this a brain FLAIR?)"):
        scan = check_flair(canonical)
        t1_check = None if t1_native is None else check_t1(t1_native, canonical, scan.head)
    with clock("bias-field correction (N4)"):
        head = scan.head
        corrected, _ = correct_bias(scan.volume, head)
    with clock("anatomy (atlas registration, ventricles, cortex, infratentorial)"):
        anatomy = localise_anatomy(corrected, head)
        # Before the atlas-fit checks: a T1 or T2 given as the FLAIR may fit the atlas poorly
        # too, and "looks like a T1" is what helps the user.
        cores = tissue_cores(anatomy, corrected)
        contrast = check_flair_contrast(corrected, anatomy, cores)
        atlas_figures, atlas_warnings = check_atlas_fit(anatomy.alignment, flair_native.source)
        ventricle_figures, ventricle_warnings = check_ventricles(corrected, anatomy, cores, flair_native.source)
        if t1_native is not None and t1_check is not None and not t1_check.warnings:
            # Only a T1 showing the FLAIR's head in the same place samples the same tissues.
            t1_contrast = check_t1_contrast(t1_native, corrected, anatomy, cores)
            t1_check = replace(t1_check, contrast=t1_contrast.figures, warnings=t1_contrast.warnings)
    with clock(f"lesion segmentation ({segmenter.name})"):
        # Neither segmenter reads a T1 yet (the T1 is only checked, see b12brain.qc.t1).
        probability = segmenter.predict(corrected, anatomy, None)
        mask = found_lesion_mask(
            probability,
            corrected,
            anatomy,
            threshold=threshold,
            min_lesion_ml=min_lesion_ml,
            refine_edges=config.refine_edges,
        )
    with clock("quantification"):
        places = {"ventricles": anatomy.ventricles, "cortex": anatomy.cortex, "infratentorial": anatomy.infratentorial}
        lesion_mask, caps_lining_mask, caps_lining = set_apart_caps_and_lining(
            mask, canonical.affine, **places, min_lesion_ml=min_lesion_ml
        )
        lesions, labels = measure_lesions(lesion_mask, canonical.affine, **places)
        burden = _burden(lesions, caps_lining, anatomy, canonical.voxel_volume_ml, mask)
    self_check = None
    if config.self_check:
        with clock("self-check (synthetic lesions in this scan's white matter)"):
            self_check = run_self_check(
                corrected,
                anatomy,
                segmenter,
                probability=probability,
                found=mask,
                threshold=threshold,
                min_lesion_ml=min_lesion_ml,
                refine_edges=config.refine_edges,
            )
    return PipelineResult(
        flair=flair_native,
        t1=t1_native,
        config=config,
        segmenter=segmenter.name,
        segmenter_provenance=segmenter.provenance,
        threshold=threshold,
        min_lesion_ml=min_lesion_ml,
        lesion_probability=how.to_native(probability).astype(np.float32),
        lesion_mask=how.to_native(lesion_mask).astype(bool),
        lesion_labels=how.to_native(labels).astype(np.int32),
        ventricles=how.to_native(anatomy.ventricles).astype(bool),
        brain=how.to_native(anatomy.brain).astype(bool),
        lesions=lesions,
        caps_lining=caps_lining,
        caps_lining_mask=how.to_native(caps_lining_mask).astype(bool),
        burden=burden,
        seconds_by_stage=clock.seconds,
        warnings=flair_native.warnings
        + (t1_native.warnings if t1_native is not None else ())
        + scans.warnings
        + scan.warnings
        + contrast.warnings
        + atlas_warnings
        + ventricle_warnings
        + (t1_check.warnings if t1_check is not None else ())
        + (self_check.warnings if self_check is not None else ()),
        qc_figures={**scan.figures, **contrast.figures, **atlas_figures, **ventricle_figures},
        t1_check=t1_check,
        self_check=self_check,
    )


def _burden(
    lesions: list[Lesion], caps_lining: list[Lesion], anatomy: Anatomy, voxel_ml: float, mask: BoolArray
) -> Burden:
    # Lesions are tissue even where a FLAIR-dark core pushed them out of the parenchyma mask.
    brain_ml = float((anatomy.parenchyma | mask).sum()) * voxel_ml
    return summarise_burden(
        lesions,
        brain_ml=brain_ml,
        intracranial_ml=float(anatomy.brain.sum()) * voxel_ml,
        ventricle_ml=float(anatomy.ventricles.sum()) * voxel_ml,
        caps_lining=caps_lining,
    )


class _Clock:
    """Times stages and reports each as it starts and ends."""

    def __init__(self, say: Progress) -> None:
        self.say = say
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        self.say(f"{stage} ...")
        start = time.perf_counter()
        yield
        self.seconds[stage] = round(time.perf_counter() - start, 2)
        self.say(f"{stage}: done in {self.seconds[stage]:.1f} s")
