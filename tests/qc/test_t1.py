"""The T1 is checked against the FLAIR from headers and head masks, never registered.

Cases a tester saw give results identical to "no T1" without a word: a T1 of another subject
(placed elsewhere), a T1 overlapping the FLAIR by about a third, the FLAIR itself given as the
T1. Now they warn (or, for the FLAIR itself, are refused), and ``summary.json`` says whether
the T1 was used and for what.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from b12brain.errors import InputFileError
from b12brain.io import load_volume, save_nifti
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.preprocess.masks import head_mask
from b12brain.preprocess.orient import to_canonical
from b12brain.qc import T1Check, check_t1
from b12brain.qc.t1 import MIN_FOV_OVERLAP, MIN_HEAD_OVERLAP, NOT_USED_FOR_SEGMENTATION
from b12brain.types import Volume


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom(PhantomConfig(seed=11, lesion_load="mild", slice_mm=6.0))


@pytest.fixture(scope="module")
def other() -> Phantom:
    return make_phantom(PhantomConfig(seed=12, lesion_load="mild", slice_mm=6.0))


def _moved(volume: Volume, shift_mm: tuple[float, float, float], source: str = "t1.nii.gz") -> Volume:
    affine = volume.affine.copy()
    affine[:3, 3] += shift_mm
    return Volume(volume.data, affine, source)


def _check(flair: Volume, t1: Volume) -> T1Check:
    canonical, _ = to_canonical(flair)
    return check_t1(t1, canonical, head_mask(canonical.data))


def test_t1_of_the_same_session_passes_with_full_overlap(phantom: Phantom) -> None:
    check = _check(phantom.flair, phantom.t1)
    assert check.warnings == ()
    assert check.fov_overlap == pytest.approx(1.0)
    assert check.head_overlap > 0.95
    assert check.as_dict() == {
        "given": True,
        "used_for": ["overlap check", "contrast check"],
        "figures": {"fov_overlap": round(check.fov_overlap, 3), "head_overlap": round(check.head_overlap, 3)},
        "segmentation": NOT_USED_FOR_SEGMENTATION,
    }


def test_t1_on_another_grid_of_the_same_head_passes(phantom: Phantom) -> None:
    # The same head stored in another voxel order (LPS) with 2 mm voxels: world coordinates agree.
    t1 = phantom.t1
    lps = Volume(np.ascontiguousarray(t1.data[::-1, ::-1, :]), t1.affine @ _flip_xy(t1.shape), "t1_lps.nii.gz")
    check = _check(phantom.flair, lps)
    assert check.warnings == () and check.head_overlap > 0.95


def _flip_xy(shape: tuple[int, int, int]) -> np.ndarray:
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [shape[0] - 1, shape[1] - 1]
    return flip


def test_t1_of_another_subject_placed_elsewhere_warns(phantom: Phantom, other: Phantom) -> None:
    check = _check(phantom.flair, _moved(other.t1, (30.0, 15.0, 0.0)))
    assert [w.code for w in check.warnings] == ["t1.head_mismatch"]
    assert check.head_overlap < MIN_HEAD_OVERLAP
    assert "another subject or session" in check.warnings[0].message


def test_t1_covering_a_third_of_the_flair_warns(phantom: Phantom) -> None:
    t1 = phantom.t1
    height_mm = t1.shape[2] * t1.spacing_mm[2]
    check = _check(phantom.flair, _moved(t1, (0.0, 0.0, 0.65 * height_mm)))
    assert "t1.fov_overlap" in [w.code for w in check.warnings]
    assert check.fov_overlap < MIN_FOV_OVERLAP


def test_t1_covering_none_of_the_head_is_refused(phantom: Phantom) -> None:
    t1 = phantom.t1
    # Above the head but inside the FLAIR's bounding box would pass a box test; nothing of the
    # head is inside it.
    with pytest.raises(InputFileError, match=r"^t1.nii.gz: covers none of the head seen on the FLAIR"):
        _check(phantom.flair, _moved(t1, (0.0, 0.0, 1.5 * t1.shape[2] * t1.spacing_mm[2])))


def test_the_flair_given_as_t1_is_refused(phantom: Phantom, tmp_path: Path) -> None:
    flair_path = save_nifti(phantom.flair.data, phantom.flair.affine, tmp_path / "flair.nii.gz")
    copy = tmp_path / "t1.nii.gz"
    shutil.copy(flair_path, copy)
    flair = load_volume(flair_path)
    with pytest.raises(InputFileError, match=rf"^{copy}: holds the same voxel data as the FLAIR .*; give the T1"):
        _check(flair, load_volume(copy))
    # Also when stored in another voxel order.
    reordered = Volume(np.ascontiguousarray(flair.data[::-1, ::-1, :]), flair.affine @ _flip_xy(flair.shape), "t1")
    with pytest.raises(InputFileError, match="same voxel data"):
        _check(flair, reordered)


@pytest.mark.slow
def test_run_with_a_misplaced_t1_warns_everywhere_and_gives_the_same_figures(
    phantom: Phantom, other: Phantom, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import SimpleITK as sitk

    from b12brain.cli.main import main

    registrations: list[str] = []
    execute = sitk.ImageRegistrationMethod.Execute

    def counted(self: sitk.ImageRegistrationMethod, *args: object) -> object:
        registrations.append(str(args[1].GetSize()))  # the moving image
        return execute(self, *args)

    monkeypatch.setattr(sitk.ImageRegistrationMethod, "Execute", counted)
    flair = save_nifti(phantom.flair.data, phantom.flair.affine, tmp_path / "flair.nii.gz")
    moved = _moved(other.t1, (30.0, 15.0, 0.0))
    t1 = save_nifti(moved.data, moved.affine, tmp_path / "t1.nii.gz")
    common = ["--flair", str(flair), "--segmenter", "classical", "--quiet"]
    assert main(["run", *common, "--out", str(tmp_path / "without")]) == 0
    atlas_only = list(registrations)
    capfd.readouterr()
    assert main(["run", *common, "--t1", str(t1), "--out", str(tmp_path / "with")]) == 0
    _, stderr = capfd.readouterr()
    # The same registrations (the atlas's) with and without the T1: the T1 was not registered.
    assert atlas_only and registrations == atlas_only * 2

    assert "b12brain run: QC warning: " in stderr and "another subject or session" in stderr
    with_t1 = json.loads((tmp_path / "with" / "summary.json").read_text())
    without = json.loads((tmp_path / "without" / "summary.json").read_text())
    assert with_t1["t1"]["given"] is True and with_t1["t1"]["used_for"] == ["overlap check", "contrast check"]
    assert with_t1["t1"]["figures"]["head_overlap"] < MIN_HEAD_OVERLAP
    # A T1 whose head lies elsewhere samples other tissues: its contrast is not measured.
    assert "contrast_gm_wm" not in with_t1["t1"]["figures"]
    assert with_t1["scan_checks"]["contrast_gm_wm"] > 1.0 and with_t1["scan_checks"]["contrast_csf_wm"] < 0.5
    assert with_t1["t1"]["segmentation"] == NOT_USED_FOR_SEGMENTATION
    assert [w["code"] for w in with_t1["warnings"]] == ["t1.head_mismatch"]
    assert without["t1"] == {"given": False, "used_for": [], "figures": {}, "segmentation": NOT_USED_FOR_SEGMENTATION}
    assert without["warnings"] == []
    assert with_t1["lesions"] == without["lesions"]
    assert not any("T1" in stage for stage in with_t1["seconds_by_stage"])
