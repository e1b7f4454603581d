"""Rigid alignment of an earlier visit to the reference (b12brain.followup.register)."""

from __future__ import annotations

import numpy as np

from b12brain.followup.register import align_to_reference
from b12brain.phantom import PhantomConfig
from b12brain.phantom.followup import FollowupConfig, make_followup


def test_a_thick_slice_pair_is_aligned_to_its_drawn_motion():
    # Seed 14 at 6 mm ended 14 mm off when the metric was taken inside the head only.
    pair = make_followup(FollowupConfig(PhantomConfig(seed=14, slice_mm=6.0)))
    found = align_to_reference(pair.baseline.flair, pair.followup.flair)
    assert found.good_enough
    # The drawn motion's third angle turns the other way in SimpleITK's LPS coordinates.
    drawn = np.asarray(pair.truth["rotation_deg"]) * np.array([1.0, 1.0, -1.0])
    assert np.abs(np.asarray(found.rotation_deg) - drawn).max() < 1.0
