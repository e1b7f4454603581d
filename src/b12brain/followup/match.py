"""Lesions matched across visits, and what happened to each group of them.

Every visit's lesion labels lie on the reference grid (earlier ones resampled by nearest
neighbour). Two lesions of consecutive visits are linked when they overlap, the earlier one
grown by one voxel in-plane first (:data:`MATCH_RULE`); the connected components of that graph
(the union-find of the overlap graph, computed with :func:`scipy.sparse.csgraph.connected_components`)
are the lesion groups: a group holding two lesions of one visit is a merge or a split, listed
as such. Each group's volume at a visit is the sum of its lesions' volumes as that run measured
them on its own grid (``lesions.csv``), so resampling never changes a volume.

Categories between the previous visit and the reference (b12brain's own rules [U]; no
guideline defines lesion-wise change for white-matter hyperintensities, so these follow the
practice of asking for a change larger than both a relative and an absolute margin):

* a group is *present* at a visit when its volume is at least :data:`MIN_LESION_ML` and at
  least :data:`MIN_LESION_VOXELS` voxels of that visit's grid;
* *new*: absent at the previous visit, present at the reference; *resolved*: the reverse;
* *enlarging*: present at both, volume up by at least :data:`ENLARGING_RELATIVE` (50 %) and by
  at least the absolute margin; *shrinking*: down by at least :data:`SHRINKING_RELATIVE`
  (a third, the inverse of +50 %) and the absolute margin; else *stable*. The absolute margin
  is :data:`MIN_CHANGE_ML` or :data:`MIN_LESION_VOXELS` voxels of the coarser grid, whichever
  is larger, so that a change of a voxel or two at a lesion's edge is never called a change;
* presence is judged on the runs' own volumes; for a group present at both visits,
  :func:`~b12brain.followup.compare.compare_visits` then takes the size change from its volumes
  measured jointly on the aligned scans where they could be measured
  (:mod:`b12brain.followup.volume_change`);
* a group that one run missed is new (resolved) only when it is absent on the aligned scan of
  that visit too (:data:`ABSENCE_RULE`): a lesion one segmentation missed, e.g. thinner than a
  thick slice at one visit, is otherwise called by its size change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MIN_LESION_ML = 0.01
MIN_LESION_VOXELS = 3
ENLARGING_RELATIVE = 0.5
SHRINKING_RELATIVE = 1.0 / 3.0
MIN_CHANGE_ML = 0.02
CATEGORIES = ("stable", "enlarging", "shrinking", "new", "resolved")
#: The categories of a group present at both visits (decided by its size change).
SIZE_CATEGORIES = ("stable", "enlarging", "shrinking")
#: Values of the change label map (``followup_change.nii.gz``).
CHANGE_LABELS = {"stable": 1, "enlarging": 2, "shrinking": 3, "new": 4, "resolved": 5}
MATCH_RULE = (
    "b12brain's own rule [U]: lesions of consecutive visits belong to one group when they overlap on the "
    "reference grid after the earlier one is grown by one voxel in-plane (to absorb residual misalignment); "
    "groups are the connected components of that overlap graph (merges and splits listed)"
)
CATEGORY_RULE = (
    f"b12brain's own rules [U], previous visit against the reference: present = at least {MIN_LESION_ML} mL "
    f"and {MIN_LESION_VOXELS} voxels; new = absent then present; resolved = present then absent; enlarging = "
    f"volume up by >= {ENLARGING_RELATIVE:.0%} and by >= max({MIN_CHANGE_ML} mL, {MIN_LESION_VOXELS} voxels of "
    f"the coarser grid); shrinking = down by >= {SHRINKING_RELATIVE:.0%} and the same absolute margin; "
    "else stable; presence is judged on each run's own volumes (a new or resolved call then also needs "
    "absence on the aligned scan: absence rule), and for a group present at both visits "
    "the size change on its volumes measured jointly on the aligned scans (volume_change) where they could "
    "be measured, else on the runs' own"
)
ABSENCE_RULE = (
    "b12brain's own rule [U]: a group that one run did not segment is new (resolved) only when it is absent "
    "on that visit's aligned scan too: its volume measured jointly on the aligned scans (volume_change) at "
    f"that visit is under the presence minimum ({MIN_LESION_ML} mL and {MIN_LESION_VOXELS} voxels); "
    "otherwise it is enlarging, shrinking or stable by those volumes, with a note; where they could not "
    "be measured, the runs' call stands"
)
_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[:, :, 1] = True


@dataclass(frozen=True)
class LesionGroup:
    """Lesions linked across visits: ids per visit, volume per visit (mL), category.

    ``volume_ml`` holds the volumes as each run measured them; ``joint_ml`` the volumes measured
    jointly on the reference grid (:mod:`b12brain.followup.volume_change`; NaN where they could
    not be), from which per-class change is taken.
    """

    id: int
    lesion_ids: tuple[tuple[int, ...], ...]
    volume_ml: tuple[float, ...]
    category: str
    lesion_class: str
    note: str = ""
    joint_ml: tuple[float, ...] = ()

    @property
    def event(self) -> str:
        """``merge``/``split`` when a visit holds several lesions of the group, else ``""``."""
        counts = [len(ids) for ids in self.lesion_ids]
        if len(counts) < 2 or max(counts) < 2:
            return ""
        return "split" if counts[-1] > counts[-2] else "merge" if counts[-2] > counts[-1] else "merge/split"

    def as_row(self, dates: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"group": self.id, "category": self.category, "event": self.event,
                               "lesion_class": self.lesion_class, "note": self.note}
        for k, (date, ids, ml) in enumerate(zip(dates, self.lesion_ids, self.volume_ml)):
            row[f"ids_{date}"] = " ".join(str(i) for i in ids)
            row[f"ml_{date}"] = round(ml, 4)
            joint = self.joint_ml[k] if k < len(self.joint_ml) else float("nan")
            row[f"joint_ml_{date}"] = "" if np.isnan(joint) else round(joint, 4)
        return row


def group_lesions(labels: Sequence[npt.NDArray[np.integer]]) -> tuple[list[list[tuple[int, ...]]], npt.NDArray[np.int32]]:
    """Link the lesions of consecutive visits (all on one grid) and group them.

    Returns the lesion ids per visit of each group, and the group map: each voxel labelled with
    the group of the latest visit's lesion there (earlier visits' where the latest has none).

    Examples
    --------
    >>> a = np.zeros((6, 1, 1), int); a[0:2] = 1; a[3:5] = 2
    >>> b = np.zeros((6, 1, 1), int); b[0:5] = 1
    >>> group_lesions([a, b])[0]
    [[(1, 2), (1,)]]
    """
    offsets = np.cumsum([0] + [int(lab.max()) for lab in labels])
    rows: list[int] = []
    cols: list[int] = []
    for k in range(len(labels) - 1):
        if not labels[k].any():
            continue
        # Growing keeps the larger id where two lesions are near: the ungrown overlaps count too.
        later = labels[k + 1]
        base = int(later.max()) + 1
        for earlier in (labels[k], ndi.grey_dilation(labels[k], footprint=_IN_PLANE)):
            both = (earlier > 0) & (later > 0)
            codes = np.unique(earlier[both].astype(np.int64) * base + later[both])
            rows += (codes // base + offsets[k] - 1).tolist()
            cols += (codes % base + offsets[k + 1] - 1).tolist()
    n = int(offsets[-1])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members: dict[int, list[list[int]]] = {}
    for k in range(len(labels)):
        present = np.unique(labels[k])
        for lesion_id in present[present > 0]:
            comp = int(component[offsets[k] + lesion_id - 1])
            members.setdefault(comp, [[] for _ in labels])[k].append(int(lesion_id))
    ordered = sorted(members.values(), key=lambda g: [-len(g[-1] or [])] + [min(ids or [1 << 30]) for ids in g[::-1]])
    groups = [[tuple(ids) for ids in g] for g in ordered]
    group_map = np.zeros(labels[-1].shape, dtype=np.int32)
    for k in range(len(labels)):
        lookup = np.zeros(int(labels[k].max()) + 1, dtype=np.int32)
        for g, ids in enumerate(groups, start=1):
            lookup[list(ids[k])] = g
        place = (group_map == 0) if k < len(labels) - 1 else np.ones(group_map.shape, dtype=bool)
        values = lookup[labels[k]]
        group_map[place & (values > 0)] = values[place & (values > 0)]
    return groups, group_map


def categorise(before_ml: float, after_ml: float, before_voxel_ml: float, after_voxel_ml: float) -> str:
    """Category of a group between two visits (see the module's rules); ``"absent"`` when absent at both.

    Examples
    --------
    >>> categorise(0.10, 0.20, 0.001, 0.001), categorise(0.10, 0.12, 0.001, 0.001)
    ('enlarging', 'stable')
    >>> categorise(0.0, 0.05, 0.001, 0.001), categorise(0.3, 0.0, 0.001, 0.001)
    ('new', 'resolved')
    """
    was = before_ml >= max(MIN_LESION_ML, MIN_LESION_VOXELS * before_voxel_ml)
    now = after_ml >= max(MIN_LESION_ML, MIN_LESION_VOXELS * after_voxel_ml)
    if not was:
        return "new" if now else "absent"
    if not now:
        return "resolved"
    margin = max(MIN_CHANGE_ML, MIN_LESION_VOXELS * max(before_voxel_ml, after_voxel_ml))
    change = after_ml - before_ml
    if change >= max(ENLARGING_RELATIVE * before_ml, margin):
        return "enlarging"
    if -change >= max(SHRINKING_RELATIVE * before_ml, margin):
        return "shrinking"
    return "stable"
