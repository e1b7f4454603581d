"""Write ``pinned_phantom_flair.nii.gz``, the small synthetic FLAIR of ``tests/test_pipeline_pinned.py``.

Usage::

    python tests/data/make_pinned_phantom.py [OUT]

A ``b12brain phantom`` FLAIR (seed 7, moderate load, 7 mm slices) averaged over 2 x 2 voxels
in-plane (1.8 mm pixels, as a scanner with that matrix would give) and stored as uint8 (0-250),
so that it takes about 270 KB. No real scan goes into it. Regenerating it is only needed if the
file is lost: the test pins the file's own SHA-256, then what the pipeline makes of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from b12brain.phantom import PhantomConfig, make_phantom

DEFAULT_OUT = Path(__file__).with_name("pinned_phantom_flair.nii.gz")


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or [DEFAULT_OUT])[0])
    flair = make_phantom(PhantomConfig(seed=7, lesion_load="moderate", slice_mm=7.0)).flair
    nx, ny, nz = flair.shape[0] // 2 * 2, flair.shape[1] // 2 * 2, flair.shape[2]
    data = flair.data[:nx, :ny].reshape(nx // 2, 2, ny // 2, 2, nz).mean(axis=(1, 3))
    affine = flair.affine.copy()
    affine[:3, 3] += (affine[:3, 0] + affine[:3, 1]) / 2  # centre of each 2 x 2 block
    affine[:3, :2] *= 2
    scaled = np.round(data * (250.0 / float(data.max()))).astype(np.uint8)
    nib.save(nib.Nifti1Image(scaled, affine), out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
