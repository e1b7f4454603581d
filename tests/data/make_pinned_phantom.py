"""Write the small synthetic FLAIR of ``tests/test_pipeline_pinned.py`` and the masks it pins.

Usage::

    python tests/data/make_pinned_phantom.py           # the FLAIR, only if it is lost
    python tests/data/make_pinned_phantom.py --masks   # re-pin: what the pipeline makes of it now

The FLAIR (``pinned_phantom_flair.nii.gz``) is a ``b12brain phantom`` FLAIR (seed 7, moderate
load, 7 mm slices) averaged over 2 x 2 voxels in-plane (1.8 mm pixels, as a scanner with that
matrix would give) and stored as uint8 (0-250), so that it takes about 270 KB. No real scan goes
into it. ``--masks`` runs the default pipeline on it and writes its lesion and caps/lining masks
(``pinned_phantom_masks.npz``, bit-packed); do that only after re-measuring the published figures
(the test's failure message says which).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from b12brain.phantom import PhantomConfig, make_phantom

FLAIR = Path(__file__).with_name("pinned_phantom_flair.nii.gz")
MASKS = Path(__file__).with_name("pinned_phantom_masks.npz")


def write_flair(out: Path) -> None:
    """Write the pinned phantom FLAIR to ``out``."""
    flair = make_phantom(PhantomConfig(seed=7, lesion_load="moderate", slice_mm=7.0)).flair
    nx, ny, nz = flair.shape[0] // 2 * 2, flair.shape[1] // 2 * 2, flair.shape[2]
    data = flair.data[:nx, :ny].reshape(nx // 2, 2, ny // 2, 2, nz).mean(axis=(1, 3))
    affine = flair.affine.copy()
    affine[:3, 3] += (affine[:3, 0] + affine[:3, 1]) / 2  # centre of each 2 x 2 block
    affine[:3, :2] *= 2
    scaled = np.round(data * (250.0 / float(data.max()))).astype(np.uint8)
    nib.save(nib.Nifti1Image(scaled, affine), out)


def write_masks(out: Path) -> None:
    """Run the default pipeline on the pinned FLAIR and write its masks to ``out``."""
    from b12brain.pipeline import PipelineConfig, run_pipeline

    result = run_pipeline(FLAIR, None, PipelineConfig())
    masks = {"lesion_mask": result.lesion_mask, "caps_lining_mask": result.caps_lining_mask}
    np.savez_compressed(out, shape=np.asarray(result.lesion_mask.shape),
                        **{name: np.packbits(mask.astype(bool)) for name, mask in masks.items()})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--masks"]:
        write_masks(MASKS)
        print(f"wrote {MASKS}")
    else:
        write_flair(FLAIR)
        print(f"wrote {FLAIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
