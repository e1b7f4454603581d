"""Is the FLAIR a FLAIR, is the T1 a T1? (b12brain.qc.contrast)

What a tester saw: the wrong series given as the FLAIR ran in silence (a phantom's T1 gave
"509.70 mL" of lesions, real T1s Fazekas up to 3). Now a scan whose metadata call it another
series is refused before any expensive stage, one whose tissue contrast is a T1's or a T2's is
refused after the atlas is placed, a PD-like one is warned about, and a T1 that is not a T1
runs with a warning. The phantom FLAIR runs with no contrast warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from b12brain.anatomy.localise import Anatomy, localise_anatomy
from b12brain.errors import InputFileError
from b12brain.io import save_nifti
from b12brain.phantom import Phantom, PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, read_scans, run_pipeline
from b12brain.preprocess.bias import correct_bias
from b12brain.preprocess.orient import to_canonical
from b12brain.qc import check_flair
from b12brain.qc.contrast import (
    FLAIR_CSF_WM_REFUSE,
    FLAIR_CSF_WM_WARN,
    FLAIR_GM_WM_WARN,
    T1_GM_WM_WARN,
    check_flair_contrast,
    check_metadata,
    check_t1_contrast,
)
from b12brain.types import Volume

#: BIDS sidecars as dcm2niix writes them for series that are not a FLAIR (times in seconds).
NOT_A_FLAIR_METADATA: dict[str, tuple[dict[str, Any], str]] = {
    "philips-3d-t1": ({"SeriesDescription": "T1W_3D_TFE", "RepetitionTime": 0.0081, "EchoTime": 0.0037}, "a T1"),
    "siemens-t2": ({"SeriesDescription": "t2_tse_tra", "RepetitionTime": 5.0, "EchoTime": 0.1}, "a T2"),
    "dwi": ({"SeriesDescription": "ep2d_diff_3scan_trace", "DiffusionBValues": [0, 1000]}, "a diffusion-weighted image"),
    "localizer": ({"SeriesDescription": "AAHead_Scout", "ImageType": ["ORIGINAL", "PRIMARY", "M", "LOCALIZER"]},
                  "a localizer"),
    "reformat": ({"SeriesDescription": "FLAIR_3D_COR", "ImageType": ["DERIVED", "SECONDARY", "MPR"]},
                 "a derived or reformatted image"),
}
FLAIR_METADATA = {"SeriesDescription": "t2_tirm_tra_dark-fluid", "InversionTime": 2.5, "RepetitionTime": 9.0, "EchoTime": 0.081}


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom(PhantomConfig(seed=11, lesion_load="moderate", slice_mm=6.0, other_contrasts=("t2", "pd")))


def _placed(scan: Volume) -> tuple[Volume, Anatomy]:
    """The scan on its canonical grid, bias-corrected, and its anatomy: what the pipeline
    hands to the contrast check."""
    canonical, _ = to_canonical(scan)
    checked = check_flair(canonical)
    corrected, _ = correct_bias(checked.volume, checked.head)
    return corrected, localise_anatomy(corrected, checked.head)


@pytest.fixture(scope="module")
def flair_placed(phantom: Phantom) -> tuple[Volume, Anatomy]:
    return _placed(phantom.flair)


def test_phantom_flair_passes_with_no_contrast_warning(flair_placed: tuple[Volume, Anatomy]) -> None:
    check = check_flair_contrast(*flair_placed)
    assert check.looks_like == "FLAIR" and check.warnings == ()
    assert check.gm_wm > 1.05 and check.csf_wm < 0.5


def _on_flair_anatomy(scan: Volume, flair_placed: tuple[Volume, Anatomy]) -> tuple[Volume, Anatomy]:
    """Another image of the phantom, with the anatomy placed on its FLAIR (same subject, same
    grid: a perfect registration). Its own registration is exercised by the CLI test below and,
    for every contrast and slice thickness, by benchmarks/contrast_check.py."""
    canonical, _ = to_canonical(scan)
    assert np.array_equal(canonical.affine, flair_placed[0].affine)
    return canonical, flair_placed[1]


def test_phantom_t2_given_as_flair_is_refused_as_t2(phantom: Phantom, flair_placed: tuple[Volume, Anatomy]) -> None:
    with pytest.raises(InputFileError) as info:
        check_flair_contrast(*_on_flair_anatomy(phantom.other["t2"], flair_placed))
    assert "looks like a T2 or PD, not a FLAIR" in str(info.value) and "ventricles" in str(info.value)


def test_phantom_pd_given_as_flair_is_refused_or_warned(phantom: Phantom, flair_placed: tuple[Volume, Anatomy]) -> None:
    try:
        check = check_flair_contrast(*_on_flair_anatomy(phantom.other["pd"], flair_placed))
    except InputFileError as err:
        assert "looks like a T2 or PD" in str(err)
    else:
        assert [w.code for w in check.warnings] == ["contrast.not_flair_like"]
        assert FLAIR_CSF_WM_WARN < check.csf_wm <= FLAIR_CSF_WM_REFUSE


def test_figures_are_recorded_and_a_borderline_flair_is_warned(flair_placed: tuple[Volume, Anatomy]) -> None:
    flair, anatomy = flair_placed
    assert set(check_flair_contrast(flair, anatomy).figures) == {"contrast_gm_wm", "contrast_csf_wm"}
    # Cortex dimmed to 0.93 x white matter: between a FLAIR's and a T1's.
    wm = float(np.median(flair.data[anatomy.brain & (anatomy.wm > 0.9)]))
    cortex_level = float(np.median(flair.data[anatomy.cortex & (anatomy.gm > 0.7)]))
    dimmed = np.where(anatomy.cortex & (anatomy.gm > 0.5), flair.data * (0.93 * wm / cortex_level), flair.data)
    check = check_flair_contrast(flair.with_data(dimmed.astype(np.float32)), anatomy)
    assert check.gm_wm < FLAIR_GM_WM_WARN
    assert [w.code for w in check.warnings] == ["contrast.not_flair_like"]
    assert "check that this is the FLAIR series" in check.warnings[0].message


def test_a_t1_given_as_the_t1_is_silent_and_a_flair_or_t2_is_warned(
    phantom: Phantom, flair_placed: tuple[Volume, Anatomy]
) -> None:
    right = check_t1_contrast(phantom.t1, *flair_placed)
    assert right.looks_like == "T1" and right.warnings == () and right.gm_wm < T1_GM_WM_WARN
    for wrong, said in ((phantom.flair, "looks like a FLAIR"), (phantom.other["t2"], "looks like a T2 or PD")):
        check = check_t1_contrast(wrong, *flair_placed)
        assert [w.code for w in check.warnings] == ["contrast.not_t1_like"]
        assert said in check.warnings[0].message


@pytest.mark.parametrize("case", list(NOT_A_FLAIR_METADATA))
def test_metadata_of_another_series_is_refused_before_any_expensive_stage(
    phantom: Phantom, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata, said = NOT_A_FLAIR_METADATA[case]

    def must_not_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an expensive stage ran before the metadata check")

    monkeypatch.setattr("b12brain.pipeline.correct_bias", must_not_run)
    monkeypatch.setattr("b12brain.pipeline.check_flair", must_not_run)
    scan = Volume(phantom.flair.data, phantom.flair.affine, f"/data/{case}.nii.gz", metadata=metadata)
    with pytest.raises(InputFileError) as info:
        run_pipeline(scan, config=PipelineConfig(segmenter="classical"))
    message = str(info.value)
    assert message.startswith(f"/data/{case}.nii.gz: its metadata say it is {said}, not a FLAIR (")
    assert "give the FLAIR series" in message


def test_flair_metadata_and_flair_image_are_silent(phantom: Phantom, flair_placed: tuple[Volume, Anatomy]) -> None:
    scan = Volume(phantom.flair.data, phantom.flair.affine, "flair.nii.gz", metadata=FLAIR_METADATA)
    assert read_scans(scan).warnings == ()
    assert check_flair_contrast(*flair_placed).warnings == ()


def test_a_t1_whose_metadata_call_it_a_t2_is_warned_not_refused(phantom: Phantom) -> None:
    t1 = Volume(phantom.t1.data, phantom.t1.affine, "t1.nii.gz", metadata=NOT_A_FLAIR_METADATA["siemens-t2"][0])
    scans = read_scans(phantom.flair, t1)
    assert [w.code for w in scans.warnings] == ["contrast.metadata_not_t1"]
    assert "is a T2 by its metadata" in scans.warnings[0].message
    assert check_metadata(phantom.t1, "t1") == ()  # no metadata: the image decides


def test_run_refuses_a_t1_given_as_the_flair_with_exit_2_and_one_line(
    phantom: Phantom, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from b12brain.cli.main import main

    t1 = save_nifti(phantom.t1.data, phantom.t1.affine, tmp_path / "t1.nii.gz")
    capfd.readouterr()
    code = main(["run", "--flair", str(t1), "--out", str(tmp_path / "out"), "--segmenter", "classical", "--quiet"])
    stdout, stderr = capfd.readouterr()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith(f"b12brain run: error: {t1}: looks like a T1, not a FLAIR"), stderr
    assert "Traceback" not in stdout + stderr
    assert not (tmp_path / "out").exists()


def test_run_refuses_a_dicom_t1_series_given_as_the_flair_before_any_processing(
    phantom: Phantom, tmp_path: Path, capfd: pytest.CaptureFixture[str], write_dicom_series: Any
) -> None:
    """The tester's case: a phantom's T1 written as a DICOM series ran as a FLAIR ("509.70 mL")."""
    from b12brain.cli.main import main

    data = np.round(phantom.t1.data[:, :, 8:16]).astype(np.int16)  # eight slices: enough to read
    series = write_dicom_series(tmp_path / "t1_series", data, spacing_mm=(0.9, 0.9, 6.0), description="T1W_3D_TFE")
    capfd.readouterr()
    code = main(["run", "--flair", str(series), "--out", str(tmp_path / "out"), "--segmenter", "classical"])
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and "its metadata say it is a T1, not a FLAIR (description 'T1W_3D_TFE'" in lines[0], lines
    assert not (tmp_path / "out").exists()
