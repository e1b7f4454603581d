"""Writing a phantom to a folder, all files at once or none."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from b12brain.io import save_nifti
from b12brain.io.manifest import MANIFEST_NAME
from b12brain.io.outdir import staged_output_dir
from b12brain.phantom.generate import Phantom

#: File names written by :func:`write_phantom`, by field.
FILE_NAMES = {
    "flair": "flair.nii.gz",
    "t1": "t1.nii.gz",
    "lesion": "lesion.nii.gz",
    "lesion_class": "lesion_class.nii.gz",
    "ventricles": "ventricles.nii.gz",
    "brain": "brainmask.nii.gz",
}


def write_phantom(
    phantom: Phantom, out_dir: Path | str, *, overwrite: bool = False, command: str | None = None
) -> dict[str, Path]:
    """Write the images, masks and ``truth.json`` of ``phantom`` into ``out_dir``.

    The folder appears complete or not at all (it is staged beside ``out_dir`` first), with
    ``b12brain-manifest.json`` listing its files (and ``command``); see
    :func:`~b12brain.io.outdir.staged_output_dir` for when an existing folder is replaced.

    Returns
    -------
    dict of str to Path
        Final path of each file, keyed by field name (plus ``"truth"`` and ``"manifest"``).

    Raises
    ------
    OutputError
        ``out_dir`` exists and is not empty (and ``overwrite`` is not set, or it is not an
        unchanged b12brain result), its parent is not a writable folder, too little space is
        free, or writing fails.
    """
    out_dir = Path(out_dir)
    # Upper bound: every image uncompressed as float32.
    need_bytes = 4 * len(FILE_NAMES) * math.prod(phantom.flair.shape[:3]) + (1 << 20)
    with staged_output_dir(out_dir, overwrite=overwrite, need_bytes=need_bytes, command=command) as stage:
        for field, name in FILE_NAMES.items():
            volume = getattr(phantom, field)
            dtype = np.float32 if volume.data.dtype.kind == "f" else np.uint8
            save_nifti(volume.data, volume.affine, stage / name, dtype=dtype)
        (stage / "truth.json").write_text(json.dumps(phantom.truth, indent=2) + "\n")
    paths = {field: out_dir / name for field, name in FILE_NAMES.items()}
    paths["truth"] = out_dir / "truth.json"
    paths["manifest"] = out_dir / MANIFEST_NAME
    return paths
