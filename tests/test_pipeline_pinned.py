"""Guard against silent drift: the default pipeline's masks of one committed synthetic FLAIR are
pinned voxel for voxel.

The figures in docs/accuracy.md, MODEL_CARD.md ("Quantitative analyses") and README.md were
measured with a given pipeline and library set. When the masks of this phantom change (a change
of code, of a dependency's version, or of anything the result should not depend on, such as
ITK's thread count before N4 ran on one thread), the same real scans give other figures too, and
this test fails, saying so, instead of the tables going silently out of date.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import numpy.typing as npt

from b12brain.pipeline import PipelineConfig, run_pipeline

#: ``tests/data/make_pinned_phantom.py``: a phantom FLAIR (seed 7, moderate load, 7 mm slices,
#: 1.8 mm pixels, uint8, 128 x 128 x 25); no real scan goes into it.
PHANTOM = Path(__file__).parent / "data" / "pinned_phantom_flair.nii.gz"
PHANTOM_SHA256 = "d3064f2f04d9593cd2b40396f1635e1c51cfd3af3b11e75cb99afb0910869d7e"

#: What the default pipeline (learned segmenter, release 2) made of it, pinned on 2026-12-07 with
#: SimpleITK 2.5.7, onnxruntime 1.32.0, numpy 2.4.6, scipy 1.17.1 (after N4 went to one thread).
PINNED = {
    "lesion_mask": ("caebd1ef2a941ef498b3a343dc654d2fce22751520384bed5165b90cf1d59acd", 1069),
    "caps_lining_mask": ("687595e4ad594d0e9f107721cfce62478330d45fdd7f20e2f1f9a3843b5ac452", 6),
}

_LIBRARIES = ("SimpleITK", "onnxruntime", "numpy", "scipy", "nibabel")
_REMEASURE = (
    "The same scans now give other results, so the published figures no longer describe this "
    "version. If the change is intended, re-measure them (python benchmarks/evaluate_shared.py "
    "../shared/data/lesions, with --segmenter classical too, and python "
    "benchmarks/phantom_accuracy.py), update docs/accuracy.md, MODEL_CARD.md 'Quantitative "
    "analyses' and README.md with the date and commit, then pin the new values here. If it is "
    "not intended, find what changed: code, a library version ({libraries}), or something the "
    "result must not depend on (thread count, machine)."
)


def _fingerprint(mask: npt.NDArray[np.bool_]) -> tuple[str, int]:
    return hashlib.sha256(np.packbits(mask.astype(bool)).tobytes()).hexdigest(), int(mask.sum())


def _libraries() -> str:
    found = []
    for name in _LIBRARIES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def test_the_pinned_phantom_is_the_committed_one() -> None:
    digest = hashlib.sha256(PHANTOM.read_bytes()).hexdigest()
    assert digest == PHANTOM_SHA256, (
        f"{PHANTOM} changed ({digest}); regenerate it with tests/data/make_pinned_phantom.py or "
        "restore it: the pinned masks below belong to that file"
    )


def test_default_pipeline_masks_of_the_pinned_phantom_have_not_drifted() -> None:
    result = run_pipeline(PHANTOM, None, PipelineConfig())
    masks = {"lesion_mask": result.lesion_mask, "caps_lining_mask": result.caps_lining_mask}
    voxel_ml = float(np.prod(result.flair.spacing_mm)) / 1000.0
    changed = []
    for name, mask in masks.items():
        digest, voxels = _fingerprint(mask)
        pinned_digest, pinned_voxels = PINNED[name]
        if digest != pinned_digest:
            changed.append(
                f"{name}: {voxels} voxels ({voxels * voxel_ml:.3f} mL), pinned {pinned_voxels} "
                f"({pinned_voxels * voxel_ml:.3f} mL), sha256 {digest}"
            )
    assert not changed, (
        "The default pipeline's masks of the pinned phantom changed: "
        + "; ".join(changed)
        + ". "
        + _REMEASURE.format(libraries=_libraries())
    )
