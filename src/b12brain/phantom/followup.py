"""Follow-up pairs of phantoms: the same subject scanned twice, with known lesion change.

:func:`make_followup` makes the baseline with :func:`~b12brain.phantom.make_phantom` and a
later visit of the same subject (same anatomy, contrasts and lesions as drawn from ``seed``)
in which, among the largest deep white-matter lesions (at least :data:`MIN_CHANGED_VOXELS` voxels
at 1 mm), ``resolved`` disappear, ``shrunk`` keep their innermost 35 % (the core, farthest
from their edge), ``enlarged`` grow to 2.5 times their volume (dilated inside the deep white
matter zone) and ``new`` lesions of 6-9 mm appear at least 8 mm from any lesion. The outer
``pv_regression`` share of the periventricular band (the voxels farthest from the
ventricles) goes away, as periventricular lesions do when they regress. The head moves
rigidly about the brain's centre (each rotation and shift drawn between half and all of
``max_rotation_deg`` and ``max_shift_mm``, of random sign) before the visit is acquired, optionally with another slice thickness, with
its own bias field and noise.

Every changed lesion gets a row in ``FollowupPhantom.changes``: its change (``new``,
``enlarged``, ``shrunk``, ``resolved``, or ``stable`` for the other deep lesions), its volume
at each visit (mL on the 1 mm design grid) and its centre in the follow-up's world
coordinates (for a resolved lesion, where it was, moved with the head).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from b12brain.errors import ConfigError
from b12brain.geometry import CONNECTIVITY_26
from b12brain.phantom._anatomy import Geometry, Ventricles
from b12brain.phantom._lesions import DEEP_PV_GAP_MM, DEEP_VENTRICLE_CLEARANCE_MM, Lesions, blob
from b12brain.phantom.generate import Phantom, PhantomConfig, check_config, make_phantom, render_phantom

#: Least size (voxels at 1 mm, i.e. 0.06 mL) of a deep lesion that is made to change: smaller
#: ones are hard to see on 6 mm slices at all.
MIN_CHANGED_VOXELS = 60
_SHRUNK_KEEP = 0.35
_ENLARGED_FACTOR = 2.5
_NEW_GAP_MM = 8.0
_NEW_DIAMETER_MM = (6.0, 9.0)


@dataclass(frozen=True)
class FollowupConfig:
    """What follow-up to make of the phantom ``baseline`` (see the module's description).

    Counts larger than the number of deep lesions big enough to change are cut to it;
    ``followup_slice_mm`` None keeps the baseline's slice thickness.
    """

    baseline: PhantomConfig = PhantomConfig(lesion_load="moderate")
    new: int = 2
    enlarged: int = 2
    shrunk: int = 1
    resolved: int = 1
    pv_regression: float = 0.3
    max_rotation_deg: float = 3.0
    max_shift_mm: float = 4.0
    followup_slice_mm: float | None = None


@dataclass(frozen=True, eq=False)
class FollowupPhantom:
    """Two visits of one phantom subject and the truth of what changed between them.

    ``truth`` is JSON-able: the motion (``rotation_deg``, ``shift_mm``, about ``centre_mm``),
    both visits' truths and per-class volume change: ``lesion_ml_change_by_class``, follow-up
    minus baseline as each visit's reader truth measures it on its own grid, and
    ``design_ml_change_by_class``, the change of the drawn lesions themselves (1 mm design grid,
    by design class). On thick slices the first also holds how differently the two visits'
    slices cut the unchanged lesions (a lesion thinner than the slice shows as its whole
    footprint on one or two slices); the second is the change alone.
    """

    baseline: Phantom
    followup: Phantom
    changes: tuple[dict[str, Any], ...]
    truth: dict[str, Any]


def make_followup(config: FollowupConfig = FollowupConfig()) -> FollowupPhantom:
    """Make a baseline phantom and a later visit with known lesion change (about 5 s).

    Raises
    ------
    ConfigError
        A count is negative, ``pv_regression`` is outside 0-0.9, a motion bound is negative or
        too large (over 15 degrees or 20 mm), or a slice thickness is unsupported.

    Examples
    --------
    ``pair = make_followup(FollowupConfig(PhantomConfig(seed=3, slice_mm=6.0)))`` gives
    ``pair.changes``, one truth row per lesion with its ``"change"`` (new, enlarged, shrunk,
    resolved or stable); tests/phantom/test_followup.py runs it.
    """
    _check(config)
    seed = int(config.baseline.seed)
    baseline = make_phantom(config.baseline)
    rng = np.random.default_rng([seed, 2])
    # Each angle and shift is half to all of its bound, of random sign: the head always moves.
    rotation = rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.5, 1.0, size=3) * config.max_rotation_deg
    shift = rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.5, 1.0, size=3) * config.max_shift_mm
    record: dict[str, Any] = {}

    def edit(lesions: Lesions, geo: Geometry, vent: Ventricles) -> Lesions:
        edited, rows = _change_lesions(lesions, geo, vent, config, rng)
        record["rows"], record["geo"] = rows, geo
        record["design_change"] = {  # 1 mm design grid: one voxel is 0.001 mL
            name: (int(np.count_nonzero(getattr(edited, box))) - int(np.count_nonzero(getattr(lesions, box)))) / 1000.0
            for name, box in (("periventricular", "pv_box"), ("deep", "deep_box"))}
        return edited

    follow_config = config.baseline
    if config.followup_slice_mm is not None:
        follow_config = replace(follow_config, slice_mm=config.followup_slice_mm)
    # The motion needs the geometry, known only once the edit hook ran: it is built lazily.
    centre: list[npt.NDArray[np.float64]] = []

    def motion(array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if not centre:
            brain = record["geo"].atlas.brain
            centre.append(np.asarray(ndi.center_of_mass(brain), dtype=np.float64))
        matrix, offset = _inverse_motion(rotation, shift, centre[0])
        return ndi.affine_transform(array, matrix, offset, order=1, mode="constant", cval=0.0).astype(np.float32)

    followup = render_phantom(follow_config, edit_lesions=edit, motion=motion,
                              acquisition_rng=np.random.default_rng([seed, 3]))
    geo: Geometry = record["geo"]
    to_world = geo.atlas.affine
    changes = []
    for row in record["rows"]:
        moved = _forward_motion(rotation, shift, centre[0], np.asarray(row.pop("centre_vox")))
        row["centre_mm"] = [round(float(v), 2) for v in to_world[:3, :3] @ moved + to_world[:3, 3]]
        changes.append(row)
    base_cls, follow_cls = baseline.truth["lesion_ml_by_class"], followup.truth["lesion_ml_by_class"]
    truth = {
        "rotation_deg": [round(float(v), 3) for v in rotation],
        "shift_mm": [round(float(v), 3) for v in shift],
        "centre_mm": [round(float(v), 2) for v in to_world[:3, :3] @ centre[0] + to_world[:3, 3]],
        "baseline": baseline.truth,
        "followup": followup.truth,
        "lesion_ml_change_by_class": {k: round(follow_cls[k] - base_cls[k], 3) for k in base_cls},
        "design_ml_change_by_class": {k: round(v, 3) for k, v in record["design_change"].items()},
        "pv_regression": config.pv_regression,
    }
    return FollowupPhantom(baseline, followup, tuple(changes), truth)


def _check(config: FollowupConfig) -> None:
    check_config(config.baseline)
    if config.followup_slice_mm is not None:
        check_config(replace(config.baseline, slice_mm=config.followup_slice_mm))
    for name in ("new", "enlarged", "shrunk", "resolved"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name}: {value!r} must be a non-negative integer")
    if not 0.0 <= config.pv_regression <= 0.9:
        raise ConfigError(f"pv_regression: {config.pv_regression!r} is outside 0-0.9")
    if not 0.0 <= config.max_rotation_deg <= 15.0:
        raise ConfigError(f"max_rotation_deg: {config.max_rotation_deg!r} is outside 0-15 degrees")
    if not 0.0 <= config.max_shift_mm <= 20.0:
        raise ConfigError(f"max_shift_mm: {config.max_shift_mm!r} is outside 0-20 mm")


def _rotation(angles_deg: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _forward_motion(angles: npt.NDArray[np.float64], shift: npt.NDArray[np.float64], centre: npt.NDArray[np.float64],
                    point: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Where a point of the template grid (voxels = mm) is after the head moved."""
    return _rotation(angles) @ (point - centre) + centre + shift


def _inverse_motion(angles: npt.NDArray[np.float64], shift: npt.NDArray[np.float64],
                    centre: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``affine_transform``'s matrix and offset: the moved image at ``x`` is the image at
    ``R^T (x - centre - shift) + centre``."""
    inverse = _rotation(angles).T
    return inverse, centre - inverse @ (centre + shift)


def _change_lesions(
    lesions: Lesions, geo: Geometry, vent: Ventricles, config: FollowupConfig, rng: np.random.Generator
) -> tuple[Lesions, list[dict[str, Any]]]:
    """Apply the changes of ``config`` to the drawn lesions; one truth row per deep lesion."""
    pv, deep = lesions.pv_box.copy(), lesions.deep_box.copy()
    flair, t1 = lesions.flair_factor_box.copy(), lesions.t1_factor_box.copy()
    box_origin = np.array([s.start for s in geo.box], dtype=np.float64)
    if config.pv_regression > 0 and pv.any():
        # The band thins from its outer edge; what stays keeps touching the ventricles.
        reach = vent.dist_box[pv]
        pv[pv] = reach <= np.quantile(reach, 1.0 - config.pv_regression)
    labels, n = ndi.label(deep, structure=CONNECTIVITY_26)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    # The changes go to the larger lesions, in random order among them.
    plan = ["resolved"] * config.resolved + ["shrunk"] * config.shrunk + ["enlarged"] * config.enlarged
    big = sorted((i for i in range(1, n + 1) if sizes[i] >= MIN_CHANGED_VOXELS), key=lambda i: -sizes[i])
    big = big[: 2 * len(plan)]
    order = [big[i] for i in rng.permutation(len(big))]
    kinds = dict(zip(order, plan))
    zone = geo.deep_ok_box & (geo.dist_ventricle_box >= DEEP_VENTRICLE_CLEARANCE_MM + vent.max_growth_mm)
    zone &= ndi.distance_transform_edt(~lesions.pv_box) >= DEEP_PV_GAP_MM
    rows: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        comp = labels == i
        kind = kinds.get(i, "stable")
        centre = np.asarray(ndi.center_of_mass(comp)) + box_origin
        before = after = int(sizes[i])
        if kind == "resolved":
            deep &= ~comp
            after = 0
        elif kind == "shrunk":
            # The core stays: the voxels farthest from the edge, ties broken in array order.
            where = np.flatnonzero(comp)
            inside = ndi.distance_transform_edt(comp).ravel()[where]
            core = where[np.argsort(-inside, kind="stable")[: max(1, round(_SHRUNK_KEEP * before))]]
            deep.ravel()[where] = False
            deep.ravel()[core] = True
            after = int(core.size)
        elif kind == "enlarged":
            others = ndi.binary_dilation(deep & ~comp, iterations=3)
            grown = comp
            while grown.sum() < _ENLARGED_FACTOR * before:
                step = (ndi.binary_dilation(grown) & zone & ~others) | comp
                if step.sum() == grown.sum():
                    break
                grown = step
            flair[grown & ~comp], t1[grown & ~comp] = flair[comp].max(), t1[comp].max()
            deep |= grown
            after = int(grown.sum())
        rows.append(_row(kind, before, after, centre))
    flair[~(pv | deep)] = 0.0
    t1[~(pv | deep)] = 0.0
    # New lesions keep away from where lesions were too (a new one is not a resolved one back).
    taken = lesions.deep_box | lesions.pv_box
    for _ in range(config.new):
        placed = _place_new(deep, taken, zone, flair, t1, rng)
        if placed is not None:
            rows.append(_row("new", 0, int(placed.sum()), np.asarray(ndi.center_of_mass(placed)) + box_origin))
    return Lesions(pv, deep, flair, t1, lesions.deep_count), rows


def _row(kind: str, before: int, after: int, centre: npt.NDArray[np.float64]) -> dict[str, Any]:
    # 1 mm grid: one voxel is 0.001 mL.
    return {"change": kind, "baseline_ml": before / 1000.0, "followup_ml": after / 1000.0,
            "centre_vox": centre.tolist()}


def _place_new(deep: npt.NDArray[np.bool_], taken: npt.NDArray[np.bool_], zone: npt.NDArray[np.bool_],
               flair: npt.NDArray[np.float32], t1: npt.NDArray[np.float32],
               rng: np.random.Generator) -> npt.NDArray[np.bool_] | None:
    """Draw one new deep lesion at least :data:`_NEW_GAP_MM` from every lesion; None if no room."""
    free = zone & (ndi.distance_transform_edt(~(deep | taken)) >= _NEW_GAP_MM)
    centres = np.flatnonzero(free)
    if centres.size == 0:
        return None
    shape = np.array(deep.shape)
    for _ in range(20):
        centre = np.array(np.unravel_index(centres[rng.integers(centres.size)], deep.shape))
        piece_small = blob(rng, float(rng.uniform(*_NEW_DIAMETER_MM)))
        lo = centre - np.array(piece_small.shape) // 2
        hi = lo + np.array(piece_small.shape)
        if (lo < 0).any() or (hi > shape).any():
            continue
        sub = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        piece = np.zeros(deep.shape, dtype=bool)
        piece[sub] = piece_small & zone[sub]
        if piece.sum() < MIN_CHANGED_VOXELS:
            continue
        deep |= piece
        taken |= piece
        flair[piece] = rng.uniform(1.6, 2.2)
        t1[piece] = rng.uniform(0.6, 0.9)
        return piece
    return None
