"""Lesion groups over the overlap graph (merges, splits) and the change categories' thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from b12brain.followup.match import (
    ENLARGING_RELATIVE,
    MIN_CHANGE_ML,
    MIN_LESION_ML,
    SHRINKING_RELATIVE,
    categorise,
    group_lesions,
)

MM1 = 0.001  # mL of a 1 mm voxel


def _grid(*boxes: tuple[int, tuple[slice, ...]]) -> np.ndarray:
    labels = np.zeros((20, 20, 5), dtype=np.int32)
    for lesion_id, box in boxes:
        labels[box] = lesion_id
    return labels


def test_a_merge_and_a_split_are_one_group_each_listing_every_lesion():
    before = _grid((1, np.s_[2:4, 2:4, 2]), (2, np.s_[5:7, 2:4, 2]), (3, np.s_[12:16, 12:14, 2]))
    after = _grid((1, np.s_[2:7, 2:4, 2]), (2, np.s_[12:13, 12:14, 2]), (3, np.s_[15:16, 12:14, 2]))
    groups, group_map = group_lesions([before, after])
    assert sorted(groups) == sorted([[(1, 2), (1,)], [(3,), (2, 3)]])
    # Every lesion voxel of the reference carries its group; the group ids follow the list.
    merged = groups.index([(1, 2), (1,)]) + 1
    assert set(np.unique(group_map[after == 1])) == {merged}


def test_lesions_one_voxel_apart_in_plane_are_matched_but_not_across_slices():
    before = _grid((1, np.s_[2:4, 2:4, 2]), (2, np.s_[10:12, 10:12, 1]))
    after = _grid((1, np.s_[4:6, 2:4, 2]), (2, np.s_[10:12, 10:12, 3]))
    groups, _ = group_lesions([before, after])
    assert [(1,), (1,)] in groups
    assert [(2,), ()] in groups and [(), (2,)] in groups


def test_three_visits_chain_through_the_middle_one():
    first = _grid((1, np.s_[2:4, 2:4, 2]))
    middle = _grid((1, np.s_[3:6, 2:4, 2]))
    last = _grid((1, np.s_[5:8, 2:4, 2]))
    groups, _ = group_lesions([first, middle, last])
    assert groups == [[(1,), (1,), (1,)]]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (0.0, 0.05, "new"),
        (0.0, MIN_LESION_ML / 2, "absent"),
        (0.2, 0.0, "resolved"),
        (0.2, 0.2 * (1 + ENLARGING_RELATIVE), "enlarging"),
        (0.2, 0.2 * (1 + ENLARGING_RELATIVE) - 0.001, "stable"),
        (0.02, 0.035, "stable"),  # +75 % but under the absolute margin
        (0.2, 0.2 * (1 - SHRINKING_RELATIVE) - 1e-9, "shrinking"),
        (0.2, 0.2 * (1 - SHRINKING_RELATIVE) + 0.001, "stable"),
        (0.03, 0.03 + MIN_CHANGE_ML, "enlarging"),
    ],
)
def test_categories_follow_the_stated_thresholds(before, after, expected):
    assert categorise(before, after, MM1, MM1) == expected


def test_the_absolute_margin_grows_with_thick_voxels():
    thick = 0.9 * 0.9 * 10.0 / 1000.0  # mL of a 0.9x0.9x10 mm voxel: 3 voxels = 0.0243 mL
    assert categorise(0.04, 0.063, MM1, MM1) == "enlarging"  # +58 %, +0.023 mL >= 0.02 mL
    assert categorise(0.04, 0.063, MM1, thick) == "stable"  # +0.023 mL < 3 voxels of the coarser grid
    assert categorise(0.0, 3.1 * thick, thick, thick) == "new"
    assert categorise(0.0, 2.9 * thick, thick, thick) == "absent"  # under 3 voxels: not a lesion yet
