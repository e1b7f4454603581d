"""Guard against silent drift: the default pipeline's masks of one committed synthetic FLAIR are
pinned.

The figures in docs/accuracy.md, MODEL_CARD.md ("Quantitative analyses") and README.md were
measured with a given pipeline and library set. When the masks of this phantom change beyond the
last-digit differences of another CPU (a change of code, of a dependency's version, or of
anything the result should not depend on, such as ITK's thread count before N4 ran on one
thread), the same real scans give other figures too, and this test fails, saying so, instead of
the tables going silently out of date.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import numpy.typing as npt

from b12brain.pipeline import PipelineConfig, run_pipeline

DATA = Path(__file__).parent / "data"
#: ``tests/data/make_pinned_phantom.py``: a phantom FLAIR (seed 7, moderate load, 7 mm slices,
#: 1.8 mm pixels, uint8, 128 x 128 x 25); no real scan goes into it.
PHANTOM = DATA / "pinned_phantom_flair.nii.gz"
PHANTOM_SHA256 = "d3064f2f04d9593cd2b40396f1635e1c51cfd3af3b11e75cb99afb0910869d7e"
#: What the default pipeline (learned segmenter, release 2) made of it, pinned on 2026-12-07 with
#: SimpleITK 2.5.7, onnxruntime 1.32.0, numpy 2.4.6, scipy 1.17.1 (after N4 went to one thread):
#: 1069 lesion voxels, 6 caps/lining voxels (``make_pinned_phantom.py --masks`` re-pins).
PINNED_MASKS = DATA / "pinned_phantom_masks.npz"
#: Another CPU's rounding may move a few edge voxels; a change of method or library moves more
#: (ITK's thread count moved 3 % of tabriz 106639's lesion voxels). Allowed: lesion-mask Dice
#: against the pinned mask >= MIN_DICE; any mask's voxel count within MAX_VOXEL_SHARE of the
#: pinned count or MAX_VOXELS voxels, whichever is larger.
MIN_DICE = 0.99
MAX_VOXEL_SHARE = 0.01
MAX_VOXELS = 3

_LIBRARIES = ("SimpleITK", "onnxruntime", "numpy", "scipy", "nibabel")
_REMEASURE = (
    "The same scans now give other results, so the published figures no longer describe this "
    "version. If the change is intended, re-measure them (python benchmarks/evaluate_shared.py "
    "../shared/data/lesions, with --segmenter classical too, and python "
    "benchmarks/phantom_accuracy.py), update docs/accuracy.md, MODEL_CARD.md 'Quantitative "
    "analyses' and README.md with the date and commit, then re-pin (python "
    "tests/data/make_pinned_phantom.py --masks). If it is not intended, find what changed: code, "
    "a library version ({libraries}), or something the result must not depend on (thread count, "
    "machine)."
)


def _pinned(name: str) -> npt.NDArray[np.bool_]:
    with np.load(PINNED_MASKS) as saved:
        shape = tuple(int(n) for n in saved["shape"])
        bits = np.unpackbits(saved[name])[: int(np.prod(shape))]
    return bits.reshape(shape).astype(bool)


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
        "restore it: the pinned masks belong to that file"
    )


def test_default_pipeline_masks_of_the_pinned_phantom_have_not_drifted() -> None:
    result = run_pipeline(PHANTOM, None, PipelineConfig())
    masks = {"lesion_mask": result.lesion_mask, "caps_lining_mask": result.caps_lining_mask}
    voxel_ml = float(np.prod(result.flair.spacing_mm)) / 1000.0
    changed = []
    for name, mask in masks.items():
        pinned = _pinned(name)
        voxels, pinned_voxels = int(mask.sum()), int(pinned.sum())
        overlap = int(np.count_nonzero(mask & pinned))
        dice = 2.0 * overlap / (voxels + pinned_voxels) if voxels + pinned_voxels else 1.0
        allowed = max(MAX_VOXELS, MAX_VOXEL_SHARE * pinned_voxels)
        if abs(voxels - pinned_voxels) > allowed or (name == "lesion_mask" and dice < MIN_DICE):
            changed.append(
                f"{name}: {voxels} voxels ({voxels * voxel_ml:.3f} mL), pinned {pinned_voxels} "
                f"({pinned_voxels * voxel_ml:.3f} mL), Dice {dice:.4f} against the pinned mask"
            )
    assert not changed, (
        "The default pipeline's masks of the pinned phantom changed: "
        + "; ".join(changed)
        + ". "
        + _REMEASURE.format(libraries=_libraries())
    )
