"""Phantom follow-up pairs: the later visit holds the changes its truth table lists."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from b12brain.errors import ConfigError
from b12brain.phantom import PhantomConfig
from b12brain.phantom.followup import SCENARIOS, FollowupConfig, _change_lesions, make_followup, resolve_scenario
from b12brain.phantom.generate import LESION_EDGE_MM, render_phantom


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
    """Seed 4 (even): a treatment response."""
    return make_followup(FollowupConfig(PhantomConfig(seed=4, lesion_load="moderate", slice_mm=6.0)))


def test_each_change_is_where_its_truth_row_says(pair):
    assert pair.truth["scenario"] == "response"
    kinds = [c["change"] for c in pair.changes]
    for kind in ("new", "enlarged", "shrunk", "resolved"):
        assert kinds.count(kind) == SCENARIOS["response"][kind]
    assert kinds.count("stable") >= 5
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
    # A response: in both classes the lesion load falls, by more than a new lesion and an enlarging one add.
    design = pair.truth["design_ml_change_by_class"]
    gained = sum(c["followup_ml"] - c["baseline_ml"] for c in pair.changes if c["change"] in ("new", "enlarged"))
    assert design["periventricular"] < -1.0 and design["deep"] < -2.0 * gained < 0
    # Same subject: the follow-up's brain volume is the baseline's within the resampling's error.
    assert pair.truth["followup"]["brain_ml"] == pytest.approx(pair.truth["baseline"]["brain_ml"], rel=0.03)


def test_an_odd_seed_progresses_and_the_band_extends():
    pair = make_followup(FollowupConfig(PhantomConfig(seed=1, lesion_load="moderate", slice_mm=6.0), max_shift_mm=0.0,
                                        max_rotation_deg=0.0))
    assert pair.truth["scenario"] == "progression"
    kinds = [c["change"] for c in pair.changes]
    assert all(kinds.count(k) == SCENARIOS["progression"][k] for k in ("new", "enlarged", "shrunk", "resolved"))
    design = pair.truth["design_ml_change_by_class"]
    lost = sum(c["baseline_ml"] - c["followup_ml"] for c in pair.changes if c["change"] in ("shrunk", "resolved"))
    assert design["periventricular"] > 1.0 and design["deep"] > 2.0 * lost > 0
    # The extended band stays periventricular by the location rule: it still touches the ventricles.
    assert pair.truth["followup"]["lesion_ml_by_class"]["periventricular"] > pair.truth["baseline"]["lesion_ml_by_class"]["periventricular"]


def test_the_design_change_is_the_lesion_signal_drawn_in_the_parenchyma():
    # The truth the benchmark scores against (design_ml_change_by_class) counts drawn voxels whole;
    # the renderer blurs each lesion's FLAIR excess by LESION_EDGE_MM (as render_phantom does). The blur keeps the excess's
    # sum, so a faint one-voxel rim (the band's extension) still holds its whole voxels of signal,
    # spread over its neighbours: the change is drawn where the truth counts it, not lost into the
    # ventricles or outside the white matter (what a partial-volume sum cannot measure).
    config = FollowupConfig(PhantomConfig(seed=3, lesion_load="moderate", slice_mm=6.0))
    seen = {}

    def edit(lesions, geo, vent):
        edited, _ = _change_lesions(lesions, geo, vent, resolve_scenario(config), np.random.default_rng([3, 2]))
        seen.update(before=lesions, after=edited, geo=geo, vent=vent)
        return edited

    render_phantom(config.baseline, edit_lesions=edit)
    before, after, geo, vent = seen["before"], seen["after"], seen["geo"], seen["vent"]
    parenchyma = ~vent.mask_box & (geo.wm_near_box > 0.45)
    for name, box in (("periventricular", "pv_box"), ("deep", "deep_box")):
        drawn = [np.where(getattr(les, box), les.flair_factor_box - 1.0, 0.0).astype(np.float32) for les in (before, after)]
        blurred = [ndi.gaussian_filter(d, np.float32(LESION_EDGE_MM)) for d in drawn]
        change = float(drawn[1].sum() - drawn[0].sum())  # voxels times their excess
        assert abs(change) > 500
        rendered = float(blurred[1][parenchyma].sum() - blurred[0][parenchyma].sum())
        assert rendered == pytest.approx(change, rel=0.05), name


def test_the_scenario_is_chosen_by_seed_or_given():
    assert resolve_scenario(FollowupConfig(PhantomConfig(seed=2)))["scenario"] == "response"
    mixed = resolve_scenario(FollowupConfig(PhantomConfig(seed=2), scenario="mixed", new=3))
    assert (mixed["scenario"], mixed["new"], mixed["resolved"]) == ("mixed", 3, 1)


@pytest.mark.parametrize("field", [{"new": -1}, {"pv_change": -0.95}, {"max_shift_mm": 50.0},
                                   {"followup_slice_mm": 12.0}, {"scenario": "stable"}])
def test_bad_settings_are_refused(field):
    with pytest.raises(ConfigError, match=next(iter(field)).replace("followup_", "")):
        make_followup(FollowupConfig(**field))
