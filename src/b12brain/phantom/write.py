"""Writing a phantom to a folder, all files at once or none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from b12brain.io import save_nifti
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


def write_phantom(phantom: Phantom, out_dir: Path | str, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the images, masks and ``truth.json`` of ``phantom`` into ``out_dir``.

    The folder appears complete or not at all (it is staged beside ``out_dir`` first).

    Returns
    -------
    dict of str to Path
        Final path of each file, keyed by field name (plus ``"truth"``).

    Raises
    ------
    OutputError
        ``out_dir`` exists and is not empty (and ``overwrite`` is not set, or it is not a
        previous b12brain result), or its parent is missing or not writable.
    """
    out_dir = Path(out_dir)
    with staged_output_dir(out_dir, overwrite=overwrite) as stage:
        for field, name in FILE_NAMES.items():
            volume = getattr(phantom, field)
            dtype = np.float32 if volume.data.dtype.kind == "f" else np.uint8
            save_nifti(volume.data, volume.affine, stage / name, dtype=dtype)
        (stage / "truth.json").write_text(json.dumps(phantom.truth, indent=2) + "\n")
    paths = {field: out_dir / name for field, name in FILE_NAMES.items()}
    paths["truth"] = out_dir / "truth.json"
    return paths
