"""A small simulated BIDS dataset of phantom FLAIRs for the cohort tests (128 x 128 x 16 voxels,
1.8 x 1.8 x 6 mm: about 15 s a scan with the classical segmenter on one core)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from b12brain.io import save_nifti
from b12brain.phantom import PhantomConfig, make_phantom

PARTICIPANTS_TSV = (
    "participant_id\tage\tsex\tb12\tholotc\tmma\thomocysteine\thypertension\n"
    "sub-01\t71\tF\t150\t30\t0.45\t14\tyes\n"
    "sub-02\t66\tM\t<100\t25\t0.6\t18\tno\n"
    "sub-03\t80\tM\t420\t90\t0.2\t9\tn/a\n"
)
PARTICIPANTS_JSON = ('{"b12": {"Units": "pmol/L"}, "holotc": {"Units": "pmol/L"}, "mma": {"Units": "umol/L"}, '
                     '"homocysteine": {"Units": "umol/L"}}')


@pytest.fixture(scope="module")
def phantom_bids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sub-01..03, each the same moderate-load phantom FLAIR (so every scan must give the same
    lesion figures, whichever worker ran it), sub-04 with a FLAIR that is not a NIfTI file, and
    participants.tsv/.json."""
    flair = make_phantom(PhantomConfig(seed=1, lesion_load="moderate", slice_mm=6.0)).flair
    top = flair.shape[2] - 16
    data = np.ascontiguousarray(flair.data[::2, ::2, top:])
    affine = flair.affine @ np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 1, top], [0, 0, 0, 1]], dtype=float)
    root = tmp_path_factory.mktemp("phantom_bids") / "ds"
    for label in ("01", "02", "03"):
        anat = root / f"sub-{label}" / "anat"
        anat.mkdir(parents=True)
        save_nifti(data, affine, anat / f"sub-{label}_FLAIR.nii.gz")
    broken = root / "sub-04" / "anat" / "sub-04_FLAIR.nii.gz"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a NIfTI file")
    (root / "dataset_description.json").write_text('{"Name": "phantoms", "BIDSVersion": "1.10.0"}')
    (root / "participants.tsv").write_text(PARTICIPANTS_TSV)
    (root / "participants.json").write_text(PARTICIPANTS_JSON)
    return root
