"""Is this a brain FLAIR? Refusals, borderline warnings, robust intensities (b12brain.qc.scan).

The refusal cases are the ones a tester saw crash or give figures for a non-FLAIR: pure noise,
a binary lesion mask, a binary brain mask, an all-negative image and a mostly-empty image. Each
is refused at the library level (InputFileError naming the file and what looked wrong) and by
``b12brain run`` (exit 2, one line, nothing written). Phantoms of every lesion load and slice
thickness pass with no warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from b12brain.errors import InputFileError
from b12brain.io import save_nifti
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.phantom.generate import LESION_LOADS
from b12brain.pipeline import PipelineConfig, run_pipeline
from b12brain.qc import check_flair
from b12brain.types import Volume


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom(PhantomConfig(seed=11, lesion_load="moderate", slice_mm=6.0))


def _noise(p: Phantom) -> np.ndarray:
    return np.random.default_rng(0).normal(300.0, 80.0, p.flair.shape)


def _mostly_empty(p: Phantom) -> np.ndarray:
    data = np.zeros(p.flair.shape)
    data[120:124, 120:124, 8:12] = p.flair.data[120:124, 120:124, 8:12]
    return data


#: name -> (image made from the phantom, what the message must say)
NOT_A_FLAIR: dict[str, tuple[Callable[[Phantom], np.ndarray], str]] = {
    "pure-noise": (_noise, "intensity histogram looks like noise"),
    "binary-lesion-mask": (lambda p: p.lesion.data, "looks like a binary mask"),
    "binary-brain-mask": (lambda p: p.brain.data, "looks like a binary mask"),
    "label-map": (lambda p: p.lesion_class.data + 3 * p.brain.data, "looks like a binary mask or label map"),
    "all-negative": (lambda p: -p.flair.data - 1.0, "no voxel is positive"),
    "z-scored": (lambda p: (p.flair.data - p.flair.data.mean()) / p.flair.data.std(), "mostly negative"),
    "mostly-empty": (_mostly_empty, "no head-sized object"),
}


@pytest.mark.parametrize("case", list(NOT_A_FLAIR))
def test_not_a_brain_flair_is_refused_naming_what_looked_wrong(phantom: Phantom, case: str) -> None:
    make, said = NOT_A_FLAIR[case]
    scan = Volume(np.asarray(make(phantom), np.float32), phantom.flair.affine, f"/data/{case}.nii.gz")
    with pytest.raises(InputFileError) as info:
        check_flair(scan)
    message = str(info.value)
    assert message.startswith(f"/data/{case}.nii.gz: does not look like a brain FLAIR: "), message
    assert said in message
    assert "\n" not in message and re.search(r"; give the FLAIR", message), message


def test_header_with_voxels_far_too_large_is_refused(phantom: Phantom) -> None:
    # The atlas fit cannot reach a scale of 2 and would place a normal brain in this head.
    affine = phantom.flair.affine.copy()
    affine[:3] *= 2.0
    with pytest.raises(InputFileError, match="larger than any head; check the voxel sizes"):
        check_flair(Volume(phantom.flair.data, affine, "big.nii.gz"))


@pytest.mark.slow
@pytest.mark.parametrize("slice_mm", [1.0, 6.0])
@pytest.mark.parametrize("load", LESION_LOADS)
def test_phantoms_pass_without_warning(load: str, slice_mm: float) -> None:
    flair = make_phantom(PhantomConfig(seed=11, lesion_load=load, slice_mm=slice_mm)).flair
    check = check_flair(flair)
    assert check.warnings == ()
    assert check.volume is flair  # nothing clipped: the scan goes on untouched
    assert check.figures["clipped_voxels"] == 0
    assert check.head.sum() * flair.voxel_volume_ml > 1000


def _with_noise(p: Phantom, sd_times_wm: float) -> np.ndarray:
    wm = float(np.median(p.flair.data[p.brain.data > 0]))
    return np.abs(p.flair.data + np.random.default_rng(1).normal(0.0, sd_times_wm * wm, p.flair.shape))


def _slab(p: Phantom) -> Volume:
    """Six slices through the top of the brain: a valid partial-coverage scan."""
    top = int(np.flatnonzero(p.brain.data.any(axis=(0, 1))).max())
    affine = p.flair.affine.copy()
    affine[:3, 3] = p.flair.affine[:3] @ [0, 0, top - 6, 1]
    return Volume(np.ascontiguousarray(p.flair.data[:, :, top - 6 : top]), affine, "slab")


def _negative_edge(p: Phantom) -> Volume:
    """The 20 rightmost columns (background, beside the head) made negative: ~8 % of the scan."""
    data = p.flair.data.copy()
    data[:20] = -(np.abs(data[:20]) + 0.05 * data.max())
    return p.flair.with_data(data)


#: name -> (borderline scan, the warning code it must get)
BORDERLINE: dict[str, tuple[Callable[[Phantom], Volume], str]] = {
    "noisy": (lambda p: p.flair.with_data(_with_noise(p, 0.45)), "scan.noisy"),
    "partial-coverage": (_slab, "scan.small_head"),
    "some-negative": (_negative_edge, "scan.negative_values"),
    "voxel-sizes-1.5x": (lambda p: Volume(p.flair.data, np.diag([1.5, 1.5, 1.5, 1.0]) @ p.flair.affine, "big"), "scan.large_head"),
    "saturated": (lambda p: p.flair.with_data(np.minimum(p.flair.data, np.percentile(p.flair.data[p.brain.data > 0], 60))), "scan.few_values"),
}


@pytest.mark.parametrize("case", list(BORDERLINE))
def test_borderline_scan_runs_with_a_warning(phantom: Phantom, case: str) -> None:
    make, code = BORDERLINE[case]
    check = check_flair(make(phantom))
    assert code in [w.code for w in check.warnings], check.figures


def test_one_huge_voxel_is_clipped_and_reported(phantom: Phantom) -> None:
    data = phantom.flair.data.copy()
    data[128, 128, 12] = 3e38
    check = check_flair(phantom.flair.with_data(data))
    clean = check_flair(phantom.flair)
    assert [w.code for w in check.warnings] == ["scan.clipped_outliers"]
    assert check.figures["clipped_voxels"] == 1
    assert np.array_equal(check.head, clean.head)
    changed = check.volume.data != phantom.flair.data
    assert changed.sum() == 1 and changed[128, 128, 12]
    assert check.volume.data[128, 128, 12] <= 3.0 * np.percentile(phantom.flair.data[clean.head], 99.5) * 1.0001
    assert phantom.flair.data[128, 128, 12] != 3e38  # the input is not modified


@pytest.mark.slow
def test_one_huge_voxel_leaves_the_lesion_figures_as_on_the_clean_scan(phantom: Phantom) -> None:
    config = PipelineConfig(segmenter="classical")
    clean = run_pipeline(phantom.flair, config=config)
    data = phantom.flair.data.copy()
    data[128, 128, 12] = 3e38
    spiked = run_pipeline(phantom.flair.with_data(data), config=config)
    assert clean.burden.lesion_count > 5
    assert abs(spiked.burden.lesion_count - clean.burden.lesion_count) <= 1
    assert spiked.burden.lesion_ml == pytest.approx(clean.burden.lesion_ml, rel=0.02)
    assert spiked.burden.fazekas == clean.burden.fazekas
    assert "scan.clipped_outliers" in [w.code for w in spiked.warnings]
    assert clean.warnings == ()


@pytest.mark.parametrize("case", ["pure-noise", "binary-lesion-mask", "binary-brain-mask", "all-negative", "mostly-empty"])
def test_run_command_refuses_with_exit_2_and_one_line(
    phantom: Phantom, case: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from b12brain.cli.main import main

    make, said = NOT_A_FLAIR[case]
    flair = save_nifti(np.asarray(make(phantom), np.float32), phantom.flair.affine, tmp_path / "scan.nii.gz")
    capfd.readouterr()
    code = main(["run", "--flair", str(flair), "--out", str(tmp_path / "out"), "--segmenter", "classical", "--quiet"])
    stdout, stderr = capfd.readouterr()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and str(flair) in lines[0] and said in lines[0], stderr
    assert "Traceback" not in stdout + stderr and "Warning" not in stderr
    assert not (tmp_path / "out").exists()
