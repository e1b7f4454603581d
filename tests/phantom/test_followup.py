"""Phantom follow-up pairs: the later visit holds the changes its truth table lists."""

from __future__ import annotations

import numpy as np
import pytest

from b12brain.errors import ConfigError
from b12brain.phantom import PhantomConfig
from b12brain.phantom.followup import FollowupConfig, make_followup


def _near(volume, centre_mm, radius_mm=2.0):
    """Whether ``volume`` has a nonzero voxel within ``radius_mm`` (in-plane; half a slice across)."""
    inverse = np.linalg.inv(volume.affine)
    centre = inverse[:3, :3] @ np.asarray(centre_mm) + inverse[:3, 3]
    spacing = np.asarray(volume.spacing_mm)
    reach = np.ceil(np.maximum(radius_mm / spacing, 0.5)).astype(int)
    lo = np.maximum(np.round(centre).astype(int) - reach, 0)
    return bool(volume.data[tuple(slice(a, b + 1) for a, b in zip(lo, np.round(centre).astype(int) + reach))].any())


@pytest.fixture(scope="module")
def pair():
    return make_followup(FollowupConfig(PhantomConfig(seed=4, lesion_load="moderate", slice_mm=6.0)))


def test_each_change_is_where_its_truth_row_says(pair):
    kinds = [c["change"] for c in pair.changes]
    for kind, count in (("new", 2), ("enlarged", 2), ("shrunk", 1), ("resolved", 1)):
        assert kinds.count(kind) == count
    for change in pair.changes:
        if change["change"] == "new":
            assert change["baseline_ml"] == 0 and change["followup_ml"] > 0.05
            assert _near(pair.followup.lesion, change["centre_mm"])
        elif change["change"] == "resolved":
            assert change["followup_ml"] == 0 and not _near(pair.followup.lesion, change["centre_mm"], 1.0)
        elif change["change"] == "enlarged":
            assert change["followup_ml"] >= 2.0 * change["baseline_ml"]
        elif change["change"] == "shrunk":
            assert change["followup_ml"] <= 0.4 * change["baseline_ml"]


def test_the_head_moved_and_the_band_regressed(pair):
    assert all(1.5 <= abs(a) <= 3.0 for a in pair.truth["rotation_deg"])
    assert all(2.0 <= abs(s) <= 4.0 for s in pair.truth["shift_mm"])
    assert pair.truth["lesion_ml_change_by_class"]["periventricular"] < -1.0
    # Same subject: the follow-up's brain volume is the baseline's within the resampling's error.
    assert pair.truth["followup"]["brain_ml"] == pytest.approx(pair.truth["baseline"]["brain_ml"], rel=0.03)


@pytest.mark.parametrize("field", [{"new": -1}, {"pv_regression": 0.95}, {"max_shift_mm": 50.0}, {"followup_slice_mm": 12.0}])
def test_bad_settings_are_refused(field):
    with pytest.raises(ConfigError, match=next(iter(field)).replace("followup_", "")):
        make_followup(FollowupConfig(**field))
