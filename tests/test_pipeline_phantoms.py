"""End-to-end acceptance of the main job on synthetic subjects with ground truth.

Six pipeline runs (lesion loads mild, moderate, severe x slice thickness 1 mm and 6 mm), each
computed once per module, plus one lesion-free phantom. One seed (:data:`SEED`), chosen before
the first run and never tuned: a case that fails is a finding, not a reason to change the seed.

Acceptance per case:

* Dice of the hyperintensity found (lesions with caps and lining, which the phantom truth marks
  as lesion too) against the truth >= 0.70 (``b12brain.evaluate.score_masks``);
* its volume within 20 % of the truth (``truth['lesion_ml']`` vs ``burden.lesion_ml`` +
  ``burden.caps_lining_ml``);
* periventricular / deep class right for >= 90 % of the detected truth lesion volume (voxels
  in truth and prediction whose ``class_map()`` equals the phantom's ``lesion_class``);
* ventricles found overlap the truth ventricles (Dice >= 0.70), brain mask and parenchyma
  volume plausible against the truth brain;

and across cases: a lesion-free subject gives <= 0.5 mL and nothing outside the brain, the
Fazekas estimate is higher for severe than for mild, and lesions.csv ids match lesion_labels.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from b12brain.evaluate import SegmentationScores, score_masks
from b12brain.outputs import LESION_COLUMNS, write_outputs
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.pipeline import PipelineResult, run_pipeline

pytestmark = pytest.mark.slow

#: The one seed of this module (fixed up front; see the module docstring).
SEED = 11
LOADS = ("mild", "moderate", "severe")
SLICES_MM = (1.0, 6.0)
CASES = [(load, slice_mm) for slice_mm in SLICES_MM for load in LOADS]
CASE_IDS = [f"{load}-{slice_mm:g}mm" for load, slice_mm in CASES]

MIN_DICE = 0.70
MAX_VOLUME_ERROR = 0.20
MIN_CLASS_AGREEMENT = 0.90
MIN_VENTRICLE_DICE = 0.70
#: Brain mask vs the truth brain, and parenchyma (brain minus CSF) as a fraction of it.
MIN_BRAIN_DICE = 0.90
PARENCHYMA_FRACTION = (0.65, 1.02)


@dataclass(frozen=True, eq=False)
class Case:
    phantom: Phantom
    result: PipelineResult
    scores: SegmentationScores


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _class_agreement(case: Case) -> tuple[float, float]:
    """Fraction of detected truth lesion volume with the right class, and that volume (mL)."""
    truth_class = case.phantom.lesion_class.data
    both = (truth_class > 0) & case.result.lesion_mask
    detected = int(both.sum())
    right = int((both & (case.result.class_map() == truth_class)).sum())
    voxel_ml = case.phantom.flair.voxel_volume_ml
    return (right / detected if detected else float("nan")), detected * voxel_ml


@pytest.fixture(scope="module")
def cases() -> Iterator[dict[tuple[str, float], Case]]:
    """Lazily computed cases, each at most once per module."""
    class _Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, key: tuple[str, float]) -> Case:
            load, slice_mm = key
            phantom = make_phantom(PhantomConfig(seed=SEED, lesion_load=load, slice_mm=slice_mm))
            result = run_pipeline(phantom.flair)
            scores = score_masks(phantom.lesion.data > 0, result.hyperintensity_mask, phantom.flair.affine)
            self[key] = Case(phantom, result, scores)
            return self[key]

    lazy = _Lazy()
    yield lazy
    # One line per case, shown with `pytest -s` or in the captured output of a failure.
    for (load, slice_mm), case in sorted(lazy.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        agreement, detected_ml = _class_agreement(case) if load != "none" else (float("nan"), 0.0)
        truth_ml = case.phantom.truth["lesion_ml"]
        print(
            f"\n{load:>8s} {slice_mm:g} mm: Dice {case.scores.dice:.3f}, truth {truth_ml:.2f} mL, "
            f"found {case.result.burden.lesion_ml:.2f} mL + caps/lining {case.result.burden.caps_lining_ml:.2f} mL "
            f"({100 * (case.result.burden.lesion_ml + case.result.burden.caps_lining_ml - truth_ml) / max(truth_ml, 1e-9):+.1f} %), class agreement "
            f"{agreement:.3f} of {detected_ml:.2f} mL, ventricle Dice "
            f"{_dice(case.result.ventricles, case.phantom.ventricles.data):.3f}, brain Dice "
            f"{_dice(case.result.brain, case.phantom.brain.data):.3f}, parenchyma {case.result.burden.brain_ml:.0f} "
            f"/ truth brain {case.phantom.truth['brain_ml']:.0f} mL, Fazekas {case.result.burden.fazekas}, "
            f"{sum(case.result.seconds_by_stage.values()):.1f} s"
        )


@pytest.mark.parametrize(("load", "slice_mm"), CASES, ids=CASE_IDS)
def test_lesion_dice(cases: dict, load: str, slice_mm: float) -> None:
    case = cases[load, slice_mm]
    assert case.result.lesion_mask.shape == case.phantom.lesion.shape
    assert case.scores.dice >= MIN_DICE, case.scores


@pytest.mark.parametrize(("load", "slice_mm"), CASES, ids=CASE_IDS)
def test_lesion_volume_within_20_percent(cases: dict, load: str, slice_mm: float) -> None:
    case = cases[load, slice_mm]
    truth_ml = case.phantom.truth["lesion_ml"]
    found_ml = case.result.burden.lesion_ml
    assert truth_ml > 0
    all_found_ml = found_ml + case.result.burden.caps_lining_ml
    assert abs(all_found_ml - truth_ml) <= MAX_VOLUME_ERROR * truth_ml, (found_ml, all_found_ml, truth_ml)
    # The burden is the sum of the lesion table and equals the mask's volume.
    assert found_ml == pytest.approx(sum(x.volume_ml for x in case.result.lesions), abs=1e-3)
    assert found_ml == pytest.approx(case.result.lesion_mask.sum() * case.result.flair.voxel_volume_ml, rel=1e-3)


@pytest.mark.parametrize(("load", "slice_mm"), CASES, ids=CASE_IDS)
def test_lesion_class_of_detected_volume(cases: dict, load: str, slice_mm: float) -> None:
    case = cases[load, slice_mm]
    agreement, detected_ml = _class_agreement(case)
    assert detected_ml > 0
    assert agreement >= MIN_CLASS_AGREEMENT, (agreement, detected_ml)


@pytest.mark.parametrize(("load", "slice_mm"), CASES, ids=CASE_IDS)
def test_ventricles_and_brain(cases: dict, load: str, slice_mm: float) -> None:
    case = cases[load, slice_mm]
    ventricle_dice = _dice(case.result.ventricles, case.phantom.ventricles.data)
    assert ventricle_dice >= MIN_VENTRICLE_DICE, ventricle_dice
    brain_dice = _dice(case.result.brain, case.phantom.brain.data)
    assert brain_dice >= MIN_BRAIN_DICE, brain_dice
    fraction = case.result.burden.brain_ml / case.phantom.truth["brain_ml"]
    lo, hi = PARENCHYMA_FRACTION
    assert lo <= fraction <= hi, (case.result.burden.brain_ml, case.phantom.truth["brain_ml"])
    # Ventricles and lesions lie inside the brain found.
    assert not (case.result.ventricles & ~case.result.brain).any()


@pytest.mark.parametrize("slice_mm", SLICES_MM, ids=[f"{s:g}mm" for s in SLICES_MM])
def test_fazekas_higher_for_severe_than_mild(cases: dict, slice_mm: float) -> None:
    mild = cases["mild", slice_mm].result.burden.fazekas
    severe = cases["severe", slice_mm].result.burden.fazekas
    assert severe.periventricular >= mild.periventricular, (mild, severe)
    assert severe.periventricular + severe.deep > mild.periventricular + mild.deep, (mild, severe)
    assert severe.periventricular == 3  # confluent damage reaching > 10 mm into white matter


@pytest.mark.parametrize(("load", "slice_mm"), CASES, ids=CASE_IDS)
def test_lesion_table_matches_labels(cases: dict, load: str, slice_mm: float) -> None:
    result = cases[load, slice_mm].result
    ids = [x.id for x in result.lesions]
    assert ids == list(range(1, len(ids) + 1))
    assert set(np.unique(result.lesion_labels)) == {0, *ids}
    counts = np.bincount(result.lesion_labels.ravel(), minlength=len(ids) + 1)
    assert [x.voxels for x in result.lesions] == counts[1:].tolist()
    assert np.array_equal(result.lesion_labels > 0, result.lesion_mask)
    assert result.burden.lesion_count == len(ids)
    # Caps and lining are apart from the lesions, and their volume is their mask's.
    assert not (result.caps_lining_mask & result.lesion_mask).any()
    caps_ml = result.caps_lining_mask.sum() * result.flair.voxel_volume_ml
    assert result.burden.caps_lining_ml == pytest.approx(caps_ml, rel=1e-3, abs=1e-4)
    assert result.burden.caps_lining_count == len(result.caps_lining)


@pytest.mark.parametrize("slice_mm", SLICES_MM, ids=[f"{s:g}mm" for s in SLICES_MM])
def test_written_lesions_csv_matches_written_labels(cases: dict, slice_mm: float, tmp_path: Path) -> None:
    import nibabel as nib

    result = cases["moderate", slice_mm].result
    paths = write_outputs(result, tmp_path / "out")
    with paths["lesions.csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == LESION_COLUMNS
    labels = np.asarray(nib.load(paths["lesion_labels.nii.gz"]).dataobj)
    counts = np.bincount(labels.ravel().astype(np.int64))
    assert sorted(int(r["id"]) for r in rows) == sorted(set(np.unique(labels).tolist()) - {0})
    for row in rows:
        assert int(row["voxels"]) == counts[int(row["id"])]


def test_lesion_free_subject(cases: dict) -> None:
    case = cases["none", 6.0]
    assert case.phantom.truth["lesion_ml"] == 0
    assert case.result.burden.lesion_ml <= 0.5, case.result.burden
    assert not (case.result.hyperintensity_mask & ~(case.phantom.brain.data > 0)).any()
    assert not (case.result.hyperintensity_mask & ~case.result.brain).any()


@pytest.mark.parametrize(("load", "slice_mm"), [*CASES, ("none", 6.0)], ids=[*CASE_IDS, "none-6mm"])
def test_phantoms_pass_every_scan_check_without_warning(cases: dict, load: str, slice_mm: float) -> None:
    # docs/scan-qc.md: a brain FLAIR of any lesion load and slice thickness runs with no QC
    # warning (is this a brain FLAIR, robust intensities, atlas fit scale and similarity, the
    # ventricles dark where the atlas put them and of an adult's size).
    result = cases[load, slice_mm].result
    assert result.warnings == ()
    assert result.qc_figures["clipped_voxels"] == 0
    assert result.qc_figures["ventricle_core_dark"] > 0.9 and result.qc_figures["ventricles_to_atlas"] > 0.9
