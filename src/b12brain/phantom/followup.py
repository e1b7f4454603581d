"""Follow-up pairs of phantoms: the same subject scanned twice, with known lesion change.

:func:`make_followup` makes the baseline with :func:`~b12brain.phantom.make_phantom` and a
later visit of the same subject (same anatomy, contrasts and lesions as drawn from ``seed``).
Its *scenario* gives the pair a clinical direction, as users meet it (:data:`SCENARIOS`):

* ``response`` (a treatment response, as in the B12 case reports): among the largest deep
  white-matter lesions two resolve and two shrink, while one smaller lesion enlarges and one new
  lesion appears; the outer 30 % of the periventricular band regresses;
* ``progression``: the two largest deep lesions enlarge and two new lesions appear, while one
  smaller lesion shrinks and one resolves; the periventricular band extends outwards by 30 %;
* ``mixed`` (the earlier design): two new, two enlarged, one shrunk and one resolved lesion
  drawn among the largest, so that gains and losses partly cancel, and the band regresses;
* ``by_seed`` (the default): ``response`` for an even seed, ``progression`` for an odd one.

Every pair holds every kind of deep change (new, enlarged, shrunk, resolved, stable). The
changes that set the direction go to the largest lesions (at least :data:`MIN_CHANGED_VOXELS`
voxels at 1 mm), in random order among twice as many; the opposite changes to lesions drawn
at random among the smaller half of the other ones that size, so that the direction leads
whatever sizes the draw gives. ``resolved`` lesions disappear, ``shrunk`` keep
their innermost 35 % (the core, farthest from their edge), ``enlarged`` grow to 2.5 times
their volume (dilated inside the deep white matter zone; each added voxel takes the contrast of
the lesion voxel nearest it) and ``new`` lesions of 6-9 mm appear
at least 8 mm from any lesion. The periventricular band regresses from its outer edge (the
voxels farthest from the ventricles) or extends outwards into the white matter next to it
(keeping the deep lesions' clearance). The head moves rigidly about the brain's centre (each
rotation and shift drawn between half and all of ``max_rotation_deg`` and ``max_shift_mm``, of
random sign) before the visit is acquired, optionally with another slice thickness, with its
own bias field and noise.

Every deep lesion gets a row in ``FollowupPhantom.changes``: its change (``new``,
``enlarged``, ``shrunk``, ``resolved``, or ``stable``), its volume at each visit (mL on the
1 mm design grid) and its centre in the follow-up's world coordinates (for a resolved lesion,
where it was, moved with the head).
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
#: Each scenario's deep lesion changes (counts), ``pv_change`` (the periventricular band's
#: change, a share of its volume: negative regresses, positive extends) and ``leading``, the
#: changes that set its direction (given the largest lesions).
SCENARIOS: dict[str, dict[str, Any]] = {
    "response": {"new": 1, "enlarged": 1, "shrunk": 2, "resolved": 2, "pv_change": -0.3,
                 "leading": ("resolved", "shrunk")},
    "progression": {"new": 2, "enlarged": 2, "shrunk": 1, "resolved": 1, "pv_change": 0.3, "leading": ("enlarged",)},
    "mixed": {"new": 2, "enlarged": 2, "shrunk": 1, "resolved": 1, "pv_change": -0.3,
              "leading": ("resolved", "shrunk", "enlarged")},
}
_SHRUNK_KEEP = 0.35
_ENLARGED_FACTOR = 2.5
_NEW_GAP_MM = 8.0
_NEW_DIAMETER_MM = (6.0, 9.0)


@dataclass(frozen=True)
class FollowupConfig:
    """What follow-up to make of the phantom ``baseline`` (see the module's description).

    ``scenario`` is one of :data:`SCENARIOS` or ``"by_seed"``; the counts and ``pv_change``
    (the periventricular band's change, a share of its volume, -0.9 to 1) override the
    scenario's when given. Counts larger than the number of deep lesions big enough to change
    are cut to it; ``followup_slice_mm`` None keeps the baseline's slice thickness.
    """

    baseline: PhantomConfig = PhantomConfig(lesion_load="moderate")
    scenario: str = "by_seed"
    new: int | None = None
    enlarged: int | None = None
    shrunk: int | None = None
    resolved: int | None = None
    pv_change: float | None = None
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
        The scenario is unknown, a count is negative, ``pv_change`` is outside -0.9 to 1, a
        motion bound is negative or too large (over 15 degrees or 20 mm), or a slice thickness
        is unsupported.

    Examples
    --------
    ``pair = make_followup(FollowupConfig(PhantomConfig(seed=3, slice_mm=6.0)))`` gives
    ``pair.changes``, one truth row per lesion with its ``"change"`` (new, enlarged, shrunk,
    resolved or stable); tests/phantom/test_followup.py runs it.
    """
    plan = resolve_scenario(config)
    seed = int(config.baseline.seed)
    baseline = make_phantom(config.baseline)
    rng = np.random.default_rng([seed, 2])
    # Each angle and shift is half to all of its bound, of random sign: the head always moves.
    rotation = rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.5, 1.0, size=3) * config.max_rotation_deg
    shift = rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.5, 1.0, size=3) * config.max_shift_mm
    record: dict[str, Any] = {}

    def edit(lesions: Lesions, geo: Geometry, vent: Ventricles) -> Lesions:
        edited, rows = _change_lesions(lesions, geo, vent, plan, rng)
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
        "scenario": plan["scenario"],
        "pv_change": plan["pv_change"],
    }
    return FollowupPhantom(baseline, followup, tuple(changes), truth)


def resolve_scenario(config: FollowupConfig) -> dict[str, Any]:
    """The changes ``config`` asks for: its scenario's (:data:`SCENARIOS`; ``by_seed``: ``response``
    for an even seed, ``progression`` for an odd one) with the config's own counts and
    ``pv_change`` where given, and ``"scenario"``, the scenario's name.

    Raises
    ------
    ConfigError
        As :func:`make_followup`.

    Examples
    --------
    >>> resolve_scenario(FollowupConfig(PhantomConfig(seed=3)))["scenario"]
    'progression'
    """
    check_config(config.baseline)
    if config.followup_slice_mm is not None:
        check_config(replace(config.baseline, slice_mm=config.followup_slice_mm))
    name = config.scenario
    if name == "by_seed":
        name = "response" if int(config.baseline.seed) % 2 == 0 else "progression"
    if name not in SCENARIOS:
        raise ConfigError(f"scenario: {config.scenario!r} is not one of {', '.join([*SCENARIOS, 'by_seed'])}")
    plan = {**SCENARIOS[name], "scenario": name}
    for field in ("new", "enlarged", "shrunk", "resolved"):
        value = getattr(config, field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{field}: {value!r} must be a non-negative integer")
        plan[field] = value
    if config.pv_change is not None:
        if not -0.9 <= config.pv_change <= 1.0:
            raise ConfigError(f"pv_change: {config.pv_change!r} is outside -0.9 to 1 (a share of the band's volume)")
        plan["pv_change"] = float(config.pv_change)
    if not 0.0 <= config.max_rotation_deg <= 15.0:
        raise ConfigError(f"max_rotation_deg: {config.max_rotation_deg!r} is outside 0-15 degrees")
    if not 0.0 <= config.max_shift_mm <= 20.0:
        raise ConfigError(f"max_shift_mm: {config.max_shift_mm!r} is outside 0-20 mm")
    return plan


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
    lesions: Lesions, geo: Geometry, vent: Ventricles, plan: dict[str, Any], rng: np.random.Generator
) -> tuple[Lesions, list[dict[str, Any]]]:
    """Apply the changes of ``plan`` (:func:`resolve_scenario`) to the drawn lesions; one truth
    row per deep lesion."""
    pv, deep = lesions.pv_box.copy(), lesions.deep_box.copy()
    flair, t1 = lesions.flair_factor_box.copy(), lesions.t1_factor_box.copy()
    box_origin = np.array([s.start for s in geo.box], dtype=np.float64)
    if plan["pv_change"] < 0 and pv.any():
        # The band thins from its outer edge; what stays keeps touching the ventricles.
        reach = vent.dist_box[pv]
        pv[pv] = reach <= np.quantile(reach, 1.0 + plan["pv_change"])
    elif plan["pv_change"] > 0 and pv.any():
        _extend_band(pv, deep, flair, t1, geo, vent, plan["pv_change"])
    labels, n = ndi.label(deep, structure=CONNECTIVITY_26)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    # The changes that set the direction go to the larger lesions, in random order among twice
    # as many; the opposite ones to lesions drawn at random among the smaller half of the rest
    # (so that the direction leads whatever sizes the draw gives).
    kinds_all = ("resolved", "shrunk", "enlarged")
    leading = [k for k in kinds_all if k in plan["leading"] for _ in range(plan[k])]
    opposing = [k for k in kinds_all if k not in plan["leading"] for _ in range(plan[k])]
    big = sorted((i for i in range(1, n + 1) if sizes[i] >= MIN_CHANGED_VOXELS), key=lambda i: -sizes[i])
    top = big[: 2 * len(leading)]
    order = [top[i] for i in rng.permutation(len(top))]
    kinds = dict(zip(order, leading))
    rest = [i for i in big if i not in kinds]
    rest = rest[len(rest) // 2:] if len(rest) >= 2 * len(opposing) else rest
    if opposing:
        kinds.update(zip([rest[i] for i in rng.permutation(len(rest))], opposing))
    zone = geo.deep_ok_box & (geo.dist_ventricle_box >= DEEP_VENTRICLE_CLEARANCE_MM + vent.max_growth_mm)
    zone &= ndi.distance_transform_edt(~(lesions.pv_box | pv)) >= DEEP_PV_GAP_MM
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
            # The lesion goes on as it is: each new voxel takes the contrast of its nearest lesion voxel.
            _, nearest = ndi.distance_transform_edt(~comp, return_indices=True)
            added = grown & ~comp
            source = tuple(axis[added] for axis in nearest)
            flair[added], t1[added] = flair[source], t1[source]
            deep |= grown
            after = int(grown.sum())
        rows.append(_row(kind, before, after, centre))
    flair[~(pv | deep)] = 0.0
    t1[~(pv | deep)] = 0.0
    # New lesions keep away from where lesions were too (a new one is not a resolved one back).
    taken = lesions.deep_box | lesions.pv_box
    for _ in range(plan["new"]):
        placed = _place_new(deep, taken, zone, flair, t1, rng)
        if placed is not None:
            rows.append(_row("new", 0, int(placed.sum()), np.asarray(ndi.center_of_mass(placed)) + box_origin))
    return Lesions(pv, deep, flair, t1, lesions.deep_count), rows


def _extend_band(pv: npt.NDArray[np.bool_], deep: npt.NDArray[np.bool_], flair: npt.NDArray[np.float32],
                 t1: npt.NDArray[np.float32], geo: Geometry, vent: Ventricles, share: float) -> None:
    """Grow the periventricular band (in place) by ``share`` of its volume: the white matter
    next to the ventricles nearest the band, at least ``DEEP_PV_GAP_MM`` from deep lesions; the
    new voxels take the contrast of the band voxel nearest them."""
    candidates = (geo.wm_near_box > 0.45) & ~vent.mask_box & ~pv
    candidates &= ndi.distance_transform_edt(~deep) >= DEEP_PV_GAP_MM
    distance, nearest = ndi.distance_transform_edt(~pv, return_indices=True)
    where = np.flatnonzero(candidates)
    want = int(round(share * np.count_nonzero(pv)))
    added = where[np.argsort(distance.ravel()[where], kind="stable")[:want]]
    source = np.ravel_multi_index(tuple(nearest.reshape(3, -1)[:, added]), pv.shape)
    flair.ravel()[added], t1.ravel()[added] = flair.ravel()[source], t1.ravel()[source]
    pv.ravel()[added] = True


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
