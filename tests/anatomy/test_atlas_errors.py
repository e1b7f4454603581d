"""Whatever fails in the atlas stage reaches the user as a b12brain error (exit 2, a message
saying what to do), never as a bare RuntimeError or ValueError."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from b12brain.anatomy import atlas
from b12brain.anatomy.localise import localise_anatomy
from b12brain.errors import RegistrationError, ResourceError
from b12brain.preprocess.masks import head_mask
from b12brain.types import Volume


def _build_atlas_from(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atlas, "_template_folder", lambda: folder)
    atlas.load_atlas.__wrapped__()  # not the cached atlas the other tests share


@pytest.mark.parametrize(
    ("content", "shows"),
    [
        (None, "cannot be read"),
        (b"not gzip at all", "cannot be read"),
        (gzip.compress(bytes(100)), "cannot be read"),  # shorter than a NIfTI header
        (gzip.compress(bytes(352)), r"unexpected template grid \(0, 0, 0\)"),
    ],
    ids=["missing", "not-gzip", "truncated", "wrong-grid"],
)
def test_broken_templates_raise_a_resource_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, shows: str
) -> None:
    template = tmp_path / atlas._TEMPLATE.format("t1")
    if content is not None:
        template.write_bytes(content)
    with pytest.raises(ResourceError, match=rf"^{re.escape(str(template))}: {shows}.*; reinstall nilearn"):
        _build_atlas_from(tmp_path, monkeypatch)


def test_missing_nilearn_raises_a_resource_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atlas.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ResourceError, match=r"^nilearn: not installed; .*pip install nilearn"):
        atlas.load_atlas.__wrapped__()


def test_grid_too_thin_to_register_raises_a_registration_error() -> None:
    # Three slices pass no reader (8 are needed), but a library caller can hand such a Volume in.
    rng = np.random.default_rng(0)
    flair = Volume(rng.uniform(0, 1000, (128, 128, 3)).astype(np.float32), np.diag([1.8, 1.8, 7.0, 1.0]), "thin.nii")
    with pytest.raises(RegistrationError, match=r"^thin\.nii: too few voxels along an axis"):
        localise_anatomy(flair, head_mask(flair.data))
