"""The anatomical plausibility check of the atlas fit (b12brain.qc.ventricles): the ventricles
must be dark where the atlas put them and not a small fraction of the atlas's volume."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from b12brain.anatomy.localise import Anatomy, TissueLevels, anatomy_from_alignment
from b12brain.anatomy.register import AtlasAlignment
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.preprocess.orient import to_canonical
from b12brain.qc import check_flair, check_ventricles
from b12brain.qc.contrast import TissueCores, tissue_cores
from b12brain.qc.ventricles import CORE_DARK_WARN, DARK_OF_WM, VENTRICLES_TO_ATLAS_WARN
from b12brain.types import Volume

WM = 400.0
#: A hand-made scene on a 2 mm grid (8 uL a voxel): the atlas ventricles' core is the first
#: 200 voxels of a row block; the aligned atlas ventricles hold 10 mL (1250 voxels).
SHAPE = (50, 50, 10)
VOXEL_ML = 0.008


def _scene(dark_voxels: int = 200, found_ml: float = 10.0, atlas_ml: float = 10.0, core_voxels: int = 200,
           dark_level: float = 0.2) -> tuple[Volume, Anatomy, TissueCores]:
    """``dark_voxels`` of the ``core_voxels``-voxel atlas core are at ``dark_level`` x WM, the rest
    of the brain at WM; the ventricles found hold ``found_ml``, the aligned atlas's ``atlas_ml``."""
    image = np.full(SHAPE, WM, np.float32)
    flat_core = np.zeros(image.size, bool)
    flat_core[:core_voxels] = True
    core = flat_core.reshape(SHAPE)
    image.reshape(-1)[:dark_voxels] = dark_level * WM
    atlas = np.zeros(image.size, bool)
    atlas[: int(round(atlas_ml / VOXEL_ML))] = True
    found = np.zeros(image.size, bool)
    found[: int(round(found_ml / VOXEL_ML))] = True
    brain = np.ones(SHAPE, bool)
    anatomy = Anatomy(
        brain=brain, parenchyma=brain, wm=brain.astype(np.float32), gm=np.zeros(SHAPE, np.float32),
        ventricles=found.reshape(SHAPE), cortex=np.zeros(SHAPE, bool), infratentorial=np.zeros(SHAPE, bool),
        levels=TissueLevels(wm=WM, wm_sd=10.0, gm=WM, csf=0.2 * WM),
        alignment=None,  # type: ignore[arg-type]  # not used by the check
    )
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    every = (slice(None), slice(None), slice(None))
    cores = TissueCores(grid=every, affine=affine, wm=brain, cortex=np.zeros(SHAPE, bool), ventricles=core,
                        atlas_ventricles=atlas.reshape(SHAPE))
    return Volume(image, affine, "flair.nii.gz"), anatomy, cores


def _codes(**scene: float) -> list[str]:
    _, warnings = check_ventricles(*_scene(**scene), "flair.nii.gz")  # type: ignore[arg-type]
    return [w.code for w in warnings]


def test_dark_ventricles_of_the_atlas_s_size_pass_with_their_figures() -> None:
    figures, warnings = check_ventricles(*_scene(), "flair.nii.gz")
    assert warnings == ()
    assert figures == {"ventricles_ml": 10.0, "atlas_ventricles_ml": 10.0, "ventricles_to_atlas": 1.0,
                       "ventricle_core_dark": 1.0}


@pytest.mark.parametrize(
    ("dark_voxels", "warned"),
    [(int(CORE_DARK_WARN * 200) - 1, True), (int(CORE_DARK_WARN * 200), False)],
    ids=["just-under", "at-the-limit"],
)
def test_a_core_less_than_a_quarter_dark_is_warned_about(dark_voxels: int, warned: bool) -> None:
    assert _codes(dark_voxels=dark_voxels) == (["atlas.ventricles_implausible"] if warned else [])


@pytest.mark.parametrize(("level", "dark"), [(DARK_OF_WM - 0.01, True), (DARK_OF_WM + 0.01, False)])
def test_dark_means_under_six_tenths_of_white_matter(level: float, dark: bool) -> None:
    figures, _ = check_ventricles(*_scene(dark_level=level), "flair.nii.gz")
    assert figures["ventricle_core_dark"] == (1.0 if dark else 0.0)


@pytest.mark.parametrize(
    ("found_ml", "warned"),
    [(10.0 * VENTRICLES_TO_ATLAS_WARN - 0.1, True), (10.0 * VENTRICLES_TO_ATLAS_WARN, False), (60.0, False)],
    ids=["too-small", "at-the-limit", "enlarged-is-a-finding"],
)
def test_ventricles_found_under_a_quarter_of_the_atlas_s_are_warned_about(found_ml: float, warned: bool) -> None:
    assert _codes(found_ml=found_ml) == (["atlas.ventricles_implausible"] if warned else [])


def test_what_is_not_in_view_is_not_judged() -> None:
    # A scan that does not cover the ventricles: no ratio under 2 mL of atlas ventricles, no
    # darkness under 50 core voxels, and no warning although nothing was found.
    figures, warnings = check_ventricles(*_scene(found_ml=0.0, atlas_ml=1.9, core_voxels=49, dark_voxels=0),
                                         "flair.nii.gz")
    assert warnings == ()
    assert figures == {"ventricles_ml": 0.0, "atlas_ventricles_ml": 1.9}


def test_the_warning_says_what_was_found_expected_and_what_it_means() -> None:
    _, (warning,) = check_ventricles(*_scene(dark_voxels=20, found_ml=0.5), "scan.nii.gz")
    assert warning.source == "scan.nii.gz"
    message = warning.message
    assert "10% of the core of the atlas's ventricles is dark on the FLAIR (at least 25% expected" in message
    assert "the ventricles found hold 0.5 mL, 0.05 x the atlas's 10.0 mL" in message
    assert "(at least 0.25 x expected" in message
    assert "lesion classes" in message and "Fazekas estimate" in message and "QC image" in message


@pytest.fixture(scope="module")
def phantom_flair() -> tuple[Volume, np.ndarray]:
    """A 6 mm phantom FLAIR on its canonical grid, with its head; phantoms lie in MNI space,
    so the identity is the atlas's exact fit."""
    phantom = make_phantom(PhantomConfig(seed=11, lesion_load="moderate", slice_mm=6.0))
    scan = check_flair(to_canonical(phantom.flair)[0])
    return scan.volume, scan.head


def _fit(shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0), size: float = 1.0) -> AtlasAlignment:
    transform = sitk.AffineTransform(3)  # subject LPS mm -> atlas LPS mm
    transform.SetMatrix((np.eye(3) / size).ravel().tolist())
    transform.SetTranslation(shift_mm)
    return AtlasAlignment(transform, -0.5, 1.0)


@pytest.mark.parametrize(
    ("alignment", "warned"),
    [
        (_fit(), False),
        (_fit(shift_mm=(0.0, 5.0, 0.0)), False),
        (_fit(size=0.9), False),
        (_fit(shift_mm=(12.0, 0.0, 0.0)), True),
        (_fit(shift_mm=(0.0, 25.0, 0.0)), True),
        (_fit(shift_mm=(0.0, 0.0, 20.0)), True),
    ],
    ids=["exact", "5mm-forward", "atlas-10%-small", "12mm-sideways", "25mm-forward", "20mm-up"],
)
def test_a_fit_that_misplaces_the_ventricles_is_warned_about(
    phantom_flair: tuple[Volume, np.ndarray], alignment: AtlasAlignment, warned: bool
) -> None:
    flair, head = phantom_flair
    anatomy = anatomy_from_alignment(flair, head, alignment)
    figures, warnings = check_ventricles(flair, anatomy, tissue_cores(anatomy, flair), "phantom")
    assert [w.code for w in warnings] == (["atlas.ventricles_implausible"] if warned else []), figures
    if warned:  # the atlas's ventricles lie on white matter: neither dark nor found
        assert figures["ventricle_core_dark"] < CORE_DARK_WARN
        assert figures["ventricles_to_atlas"] < VENTRICLES_TO_ATLAS_WARN
    else:
        assert figures["ventricle_core_dark"] > 0.5 and figures["ventricles_to_atlas"] > 0.8
