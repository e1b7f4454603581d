"""Tests of the per-scan self-check on a box brain of white matter (library level, no atlas),
and of its place in the pipeline's outputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

from b12brain.anatomy.localise import Anatomy, TissueLevels
from b12brain.cli.main import build_parser
from b12brain.outputs import summarise
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.phantom._lesions import blob
from b12brain.pipeline import PipelineConfig, run_pipeline
from b12brain.qc.selfcheck import (
    CLEARANCE_MM,
    CONTRAST_BINS,
    DESIGN,
    FAINT,
    MAX_CONTRAST,
    PROBE_ML,
    RATING_RULE,
    SIZE_BINS,
    WARNING_CODE,
    SelfCheck,
    SyntheticLesion,
    _share_on_grid,
    run_self_check,
)
from b12brain.types import FloatArray, Volume

WM, CSF = 100.0, 30.0
SHAPE, SPACING = (110, 110, 16), (1.0, 1.0, 4.0)


class _Blind:
    """A segmenter that finds nothing."""

    name, threshold, min_lesion_ml, provenance = "blind", 0.5, 0.01, {}

    def predict(self, flair: Volume, anatomy: Anatomy, t1: Volume | None) -> FloatArray:
        return np.zeros(flair.shape, np.float32)


class _Bright(_Blind):
    """A segmenter that calls every voxel 10 % brighter than white matter lesion."""

    name = "bright"

    def predict(self, flair: Volume, anatomy: Anatomy, t1: Volume | None) -> FloatArray:
        return ((flair.data > 1.1 * WM) & anatomy.brain).astype(np.float32)


def _scene(found: np.ndarray | None = None) -> tuple[Volume, Anatomy, np.ndarray]:
    """A box brain of textured white matter with a CSF box (ventricles) in the middle."""
    brain = np.zeros(SHAPE, bool)
    brain[5:-5, 5:-5, 1:-1] = True
    ventricles = np.zeros(SHAPE, bool)
    ventricles[48:62, 48:62, 5:11] = True
    rng = np.random.default_rng(3)
    texture = ndi.gaussian_filter(rng.normal(0.0, 1.0, SHAPE), 1.0)
    image = np.where(brain, WM * (1.0 + 0.03 * texture / texture.std()), 0.0)
    image[ventricles] = CSF
    anatomy = Anatomy(
        brain=brain,
        parenchyma=brain & ~ventricles,
        wm=(brain & ~ventricles).astype(np.float32),
        gm=np.zeros(SHAPE, np.float32),
        ventricles=ventricles,
        cortex=np.zeros(SHAPE, bool),
        infratentorial=np.zeros(SHAPE, bool),
        levels=TissueLevels(wm=WM, wm_sd=3.0, gm=WM, csf=CSF),
        alignment=None,  # type: ignore[arg-type]  # not used by the self-check
    )
    found = np.zeros(SHAPE, bool) if found is None else found
    return Volume(image.astype(np.float32), np.diag([*SPACING, 1.0]), "scan.nii.gz"), anatomy, found


def _check(
    segmenter: _Blind, *, seed: int = 19, found: np.ndarray | None = None, probability: np.ndarray | None = None
) -> SelfCheck:
    flair, anatomy, _ = _scene()
    probability = segmenter.predict(flair, anatomy, None) if probability is None else probability
    if found is None:  # what the run found
        found = probability >= 0.5
    return run_self_check(flair, anatomy, segmenter, probability=probability, found=found,  # type: ignore[arg-type]
                          threshold=0.5, min_lesion_ml=0.01, refine_edges=False, seed=seed)


def _without_time(check: SelfCheck) -> dict[str, object]:
    record = check.as_dict()
    record.pop("seconds")
    return record


def test_same_scan_same_record_and_the_scan_is_not_changed() -> None:
    flair, anatomy, _ = _scene()
    before = flair.data.copy()
    probability = _Bright().predict(flair, anatomy, None)
    first = run_self_check(flair, anatomy, _Bright(), probability=probability, found=probability >= 0.5,  # type: ignore[arg-type]
                           threshold=0.5, min_lesion_ml=0.01, refine_edges=False)
    assert np.array_equal(flair.data, before)
    assert _without_time(first) == _without_time(_check(_Bright()))
    other = _check(_Bright(), seed=20)
    assert [s.centre_mm for s in other.lesions] != [s.centre_mm for s in first.lesions]


def test_a_segmenter_that_finds_nothing_is_rated_red_with_a_warning() -> None:
    check = _check(_Blind())
    # Some punctate ones are too faint for a reader on 4 mm slices (not counted); every larger one is seen.
    assert len(check.lesions) + check.not_visible == len(DESIGN.sizes_ml) and check.not_placed == 0
    assert sum(s.design_ml >= 0.05 for s in check.lesions) == sum(ml >= 0.05 for ml in DESIGN.sizes_ml)
    assert len(check.lesions) >= 0.6 * len(DESIGN.sizes_ml)
    assert check.detection_rate == 0.0 and check.sees_0_1_ml is False
    assert check.estimated_detection_rate == 0.0
    assert check.volume_error_percent is None
    assert check.rating == "red"
    (warning,) = check.warnings
    assert warning.code == WARNING_CODE and warning.source == "scan.nii.gz"
    probes = DESIGN.sizes_ml.count(PROBE_ML)
    assert f"0 of {probes} synthetic 0.1 mL lesions" in warning.message and "may be missed" in warning.message
    assert check.as_dict()["rating"] == "red" and "NOT seen" in check.describe()


def test_a_segmenter_that_sees_bright_voxels_finds_the_lesions_of_every_size() -> None:
    check = _check(_Bright())
    assert check.detection_rate is not None and check.detection_rate >= 0.9
    assert check.sees_0_1_ml is True and check.rating != "red" and check.warnings == ()
    by_size = check.by_size
    assert list(by_size) == [name for name, _, _ in SIZE_BINS]
    assert all(b["inserted"] >= 1 for b in by_size.values()), by_size  # the design spans the bins
    assert sum(b["inserted"] for b in by_size.values()) == len(check.lesions)
    by_contrast = check.by_contrast
    assert list(by_contrast) == [name for name, _, _ in CONTRAST_BINS]
    assert sum(b["inserted"] for b in by_contrast.values()) == len(check.lesions)
    # Contrasts are stratified: the small and the 0.1 mL lesions each span faint to clear.
    for lo, hi in ((0.0, 0.05), (PROBE_ML, PROBE_ML + 1e-9)):
        contrasts = sorted(s.contrast for s in check.lesions if lo <= s.design_ml <= hi)
        assert contrasts[0] < FAINT and contrasts[-1] > FAINT + 0.05, contrasts
    for lesion in check.lesions:  # at the target, or lifted to where a reader just sees it
        assert DESIGN.contrast_range[0] <= lesion.contrast <= DESIGN.contrast_range[1] + 0.05
        assert 1.0 < lesion.peak_contrast <= MAX_CONTRAST
        # Inserted volume on 4 mm slices: the lesion's share of each voxel, about its design size.
        assert 0.6 * lesion.design_ml < lesion.inserted_ml < 1.8 * lesion.design_ml


def test_record_fields() -> None:
    record = _check(_Bright()).as_dict()
    assert {"rating", "rule", "caveat", "estimated_detection_rate", "estimated_detection_rate_ci95",
            "estimated_detection_rate_definition", "detection_rate", "detection_by_size",
            "detection_by_contrast", "sees_0_1_ml", "detection_rate_0_1_ml", "volume_error_percent",
            "volume_error_definition", "seed", "not_placed", "not_visible", "slices_rerun", "seconds",
            "lesions"} <= set(record)
    assert record["rule"] == RATING_RULE and "[U]" in record["rule"]
    low, high = record["estimated_detection_rate_ci95"]
    assert 0.0 <= low <= record["estimated_detection_rate"] <= high <= 1.0 and high - low > 0.1
    assert 0 < record["slices_rerun"] <= SHAPE[2]
    assert {"design_ml", "inserted_ml", "found", "segmented_ml", "centre_mm", "contrast"} <= set(record["lesions"][0])


@pytest.mark.parametrize(("found", "total", "interval"), [(5, 10, [0.237, 0.763]), (0, 10, [0.0, 0.278]),
                                                        (20, 20, [0.839, 1.0])])
def test_the_estimated_rate_has_a_wilson_interval(found: int, total: int, interval: list[float]) -> None:
    lesions = tuple(SyntheticLesion(0.01, 0.01, 1.2, 1.6, (0.0, 0.0, 0.0), k < found, 0.01) for k in range(total))
    record = SelfCheck(19, lesions, 0, 0, 0, 0.0).as_dict()
    assert record["estimated_detection_rate"] == pytest.approx(found / total)
    assert record["estimated_detection_rate_ci95"] == pytest.approx(interval, abs=0.001)


def test_synthetic_lesions_keep_clear_of_lesions_found_and_of_the_ventricles() -> None:
    found = np.zeros(SHAPE, bool)
    found[10:50, 10:100, :] = True  # a third of the white matter is taken
    check = _check(_Bright(), found=found)
    flair, anatomy, _ = _scene()
    off = ndi.distance_transform_edt(~(found | anatomy.ventricles), sampling=SPACING)
    for lesion in check.lesions:
        voxel = np.round(np.array(lesion.centre_mm) / np.array(SPACING)).astype(int)
        assert off[tuple(voxel)] >= CLEARANCE_MM, lesion


def test_a_lesion_on_thick_slices_keeps_its_volume_as_partial_volume() -> None:
    shape = ndi.gaussian_filter(blob(np.random.default_rng(0), 6.0).astype(np.float32), 0.7)
    box, share = _share_on_grid(shape, np.array([20.3, 20.6, 5.4]), np.array([0.9, 0.9, 6.0]), (40, 40, 11))
    assert share.max() < 0.9  # a 6 mm lesion never fills a 6 mm slice at a random offset
    assert float(share.sum()) * 0.9 * 0.9 * 6.0 == pytest.approx(float(shape.sum()), rel=0.03)


def _lesions(hard_found: float, easy_found: float, error: float) -> tuple[SyntheticLesion, ...]:
    """The design's lesions at contrasts 1.15 and 1.35 in turn; ``hard_found`` of the hard ones
    (small or faint) and ``easy_found`` of the others found, spread evenly, volumes ``error`` high."""
    drawn = [(ml, 1.15 if k % 2 else 1.35) for k, ml in enumerate(sorted(DESIGN.sizes_ml))]
    out = []
    for hard in (True, False):
        share = hard_found if hard else easy_found
        group = [(ml, c) for ml, c in drawn if (ml < 0.05 or c < FAINT) == hard]
        for k, (ml, c) in enumerate(group):
            hit = int((k + 1) * share + 1e-9) > int(k * share + 1e-9)
            out.append(SyntheticLesion(ml, ml, c, 1.6, (0.0, 0.0, 0.0), hit, ml * (1 + error) if hit else 0.0))
    return tuple(out)


@pytest.mark.parametrize(
    ("hard_found", "easy_found", "error", "rating"),
    [
        (1.0, 1.0, 0.2, "green"),
        (1.0, 1.0, 0.8, "amber"),  # every lesion found, volumes 80 % high
        (0.55, 1.0, 0.2, "green"),  # E = 0.55
        (0.45, 1.0, 0.2, "amber"),  # E = 0.45
        (0.2, 1.0, 0.0, "red"),  # few small or faint lesions found: E = 0.2
        (1.0, 0.0, 0.0, "amber"),  # only the faint half of the 0.1 mL lesions found
        (0.35, 0.0, 0.0, "red"),  # under half of the 0.1 mL lesions found
    ],
)
def test_rating_rule(hard_found: float, easy_found: float, error: float, rating: str) -> None:
    check = SelfCheck(19, _lesions(hard_found, easy_found, error), 0, 0, 0, 0.0)
    assert check.estimated_detection_rate == pytest.approx(hard_found, abs=0.04)
    assert check.rating == rating, check.describe()


def test_nowhere_to_place_a_lesion_is_red_and_said() -> None:
    found = np.ones(SHAPE, bool)
    check = _check(_Bright(), found=found)
    assert check.lesions == () and check.not_placed == len(DESIGN.sizes_ml)
    assert check.rating == "red" and "no synthetic lesion could be placed" in check.warnings[0].message


def test_off_by_default_and_no_self_check_leaves_it_out() -> None:
    # Off unless asked for: not validated (docs/accuracy.md, "Per-scan self-check").
    parse = build_parser().parse_args
    assert parse(["run", "--flair", "f.nii.gz", "--out", "o", "--self-check"]).self_check is True
    assert parse(["run", "--flair", "f.nii.gz", "--out", "o", "--no-self-check"]).self_check is False
    assert parse(["run", "--flair", "f.nii.gz", "--out", "o"]).self_check is False
    phantom = make_phantom(PhantomConfig(seed=2, lesion_load="mild", slice_mm=7.0))
    result = run_pipeline(phantom.flair, config=PipelineConfig(segmenter="classical"))
    assert result.self_check is None
    assert not any("self-check" in stage for stage in result.seconds_by_stage)
    assert "self_check" not in summarise(result)
    on = dataclasses.replace(result, self_check=_check(_Blind()))
    assert summarise(on)["self_check"]["rating"] == "red"
