"""Where the error of the deep class's volume change comes from, lesion by lesion, on phantom pairs.

Usage::

    python benchmarks/followup_breakdown.py --workdir DIR [--seeds 5] [--slices 6,1] [--scenario by_seed]
                                            [--lesions]

Uses (or makes) the pairs of ``benchmarks/followup_phantoms.py`` in ``DIR/SCENARIO/sSEED_SLICEmm``.
The deep class's error, ``measured - design`` (``followup.json``'s change against the change of
the drawn lesions), is split over lesion groups. Each drawn deep lesion (a row of the truth
table) is given to the group with most voxels within 4 mm of its centre, as the accuracy
benchmark does, else to the nearest group within 10 mm (centre to centre); a group classed
deep with no drawn lesion of its own within 10 mm of a group that has one is a piece of that
lesion (split between two groups) and counts with it. The parts (``rest``: what none holds):

* (f) *missed*: drawn changes in no group, or in a group that could not be measured;
* (a) *class*: a changed drawn deep lesion in a group classed otherwise (its change is missing
  from the deep class);
* (a/g) *no drawn deep lesion*: the measured change of groups classed deep with no drawn deep
  lesion near: a periventricular fragment that the slices detach from the ventricles (deep by
  the LST-AI rule, which the reader truth follows; periventricular by design: the truth's own
  definition, g) or a lesion given the wrong class (a);
* (g) *the truth's own definition*: also design changes not in the truth table;
* (e) *unchanged lesions*: the measured change of groups holding only stable drawn lesions;
* (b) *changed lesions without a core* (full contrast from the peak of a thin lesion) and
  *changed lesions with a core*: measured minus drawn change;
* (c) *noise floor*: the part of (e), (b) and the cored changed error that the noise-floor
  correction makes (the measured change with it minus without it);
* (d) *resampling*: measured/drawn volume of unchanged groups with a core (>= 0.1 mL) at the
  baseline (resampled onto the reference grid) and at the follow-up (its own grid), medians.

``--lesions`` also prints every group that holds deep truth or is classed deep.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from b12brain.followup import compare_visits
from b12brain.followup.volume_change import measure_groups

#: A row-less deep group this near (mm, centre to centre) a group holding a drawn lesion is a piece of it.
PIECE_MM = 10.0
COMPONENTS = ("g", "f", "a", "ag", "e", "b", "cored", "rest", "c")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="the pairs of followup_phantoms.py (made if absent)")
    parser.add_argument("--seeds", default="5", help="seeds per slice thickness, or one count per thickness")
    parser.add_argument("--slices", default="6,1")
    parser.add_argument("--scenario", default="by_seed")
    parser.add_argument("--segmenter", default="classical")
    parser.add_argument("--lesions", action="store_true", help="print every deep group")
    args = parser.parse_args(argv)
    from followup_phantoms import DATES, ensure_pair

    print("| pair | measured | design | error | (g) truth | (f) missed | (a) class | (a/g) no drawn lesion | (e) unchanged | (b) no core "
          "| changed, cored | rest | (c) floor's part | (d) unchanged measured/true, baseline / follow-up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    totals = []
    slices = [float(s) for s in args.slices.split(",")]
    counts = [int(n) for n in args.seeds.split(",")]
    for slice_mm, n_seeds in zip(slices, counts * len(slices) if len(counts) == 1 else counts):
        for seed in range(n_seeds):
            folder, truth = ensure_pair(args.workdir, seed, slice_mm, args.segmenter, args.scenario)
            result = compare_visits([folder / "run_baseline", folder / "run_followup"], dates=DATES)
            row, lesions = _breakdown(result, truth)
            totals.append(row)
            print(f"| {folder.name} {truth['truth'].get('scenario', args.scenario)} | " + " | ".join(
                f"{row[k]:+.2f}" for k in ("measured", "design", "error", *COMPONENTS)) + f" | {row['d']} |", flush=True)
            if args.lesions:
                for line in lesions:
                    print("   ", line)
    print("\nmedian |component| over the pairs, mL: " + ", ".join(
        f"{k} {statistics.median(abs(r[k]) for r in totals):.2f}" for k in ("error", *COMPONENTS)))
    return 0


def _breakdown(result: Any, truth: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    from followup_phantoms import match_truth

    design = truth["truth"]["design_ml_change_by_class"]["deep"]
    measured = result.change_by_class()["since_previous"]["deep"]
    reference = result.reference
    voxel = reference.voxel_volume_ml
    n = len(result.groups)
    centres = ndi.center_of_mass(result.group_map > 0, result.group_map, range(1, n + 1))
    world = {g: reference.affine[:3, :3] @ np.asarray(c) + reference.affine[:3, 3] for g, c in enumerate(centres, 1)}

    def nearest(point: Any, among: list[int]) -> int | None:
        if not among:
            return None
        best = min(among, key=lambda g: float(np.linalg.norm(world[g] - point)))
        return best if np.linalg.norm(world[best] - point) <= PIECE_MM else None

    rows: dict[int | None, list[dict[str, Any]]] = {}
    for change, group_id in zip(truth["changes"], match_truth(result, truth["changes"])):
        if group_id is None:
            group_id = nearest(np.asarray(change["centre_mm"]), list(world))
        rows.setdefault(group_id, []).append(change)
    measures = measure_groups(result.aligned_flairs, result.aligned_labels, [g.lesion_ids for g in result.groups],
                              result.group_map, reference.spacing_mm, voxel)
    # A group classed deep with no drawn lesion of its own, within PIECE_MM of a group that has
    # one: a piece of that lesion (split between two groups).
    owned = [g for g in rows if g is not None]
    pieces: dict[int, list[int]] = {}
    for group in result.groups:
        if group.id in rows or group.lesion_class != "deep":
            continue
        owner = nearest(world[group.id], owned)
        if owner is not None:
            pieces.setdefault(owner, []).append(group.id)
    piece_of = {p: g for g, ps in pieces.items() for p in ps}

    def joint_change(group_id: int) -> tuple[float, float]:
        m = measures[group_id - 1]
        if m is None or np.isnan(m.volume_ml).any():
            return 0.0, 0.0
        return m.volume_ml[1] - m.volume_ml[0], m.raw_ml[1] - m.raw_ml[0]
    comp = dict.fromkeys(COMPONENTS, 0.0)
    comp["g"] = design - sum(c["followup_ml"] - c["baseline_ml"] for c in truth["changes"])
    comp["f"] = -sum(c["followup_ml"] - c["baseline_ml"] for c in rows.get(None, []))
    ratios: list[tuple[float, float]] = []
    lines = []
    for group, m in zip(result.groups, measures):
        own = rows.get(group.id, [])
        before, after = (sum(c[k] for c in own) for k in ("baseline_ml", "followup_ml"))
        true_change = after - before
        if m is None or np.isnan(m.volume_ml).any():
            comp["f"] -= true_change
            continue
        if group.id in piece_of:
            continue
        change, raw_change = (sum(v) for v in zip(*(joint_change(g) for g in [group.id, *pieces.get(group.id, [])])))
        changed = any(c["change"] != "stable" for c in own)
        if group.lesion_class != "deep":
            if not changed:
                continue
            kind = "a"
            comp["a"] -= true_change
        elif not own:
            kind = "ag"
            comp["ag"] += change
        elif not changed:
            kind = "e"
            comp["e"] += change
            comp["c"] += change - raw_change
            if m.from_core and before >= 0.1:
                ratios.append((m.volume_ml[0] / before, m.volume_ml[1] / after))
        else:
            kind = "cored" if m.from_core else "b"
            comp[kind] += change - true_change
            comp["c"] += change - raw_change
        lines.append(f"group {group.id:3d}{'+' + '+'.join(map(str, pieces[group.id])) if group.id in pieces else ''} "
                     f"{group.lesion_class:15s} {group.category:9s} ({kind:5s}) drawn "
                     f"[{','.join(c['change'] for c in own)}] {before:.3f}->{after:.3f} measured "
                     f"{m.volume_ml[0]:.3f}->{m.volume_ml[1]:.3f} error {change - true_change:+.3f} full contrast "
                     f"{m.full_contrast:.2f} ({'core' if m.from_core else 'peak'}{', typical' if m.typical else ''}) floor {m.floor[0]:.2f}/{m.floor[1]:.2f}")
    comp["rest"] = measured - design - sum(comp[k] for k in ("g", "f", "a", "ag", "e", "b", "cored"))
    d = (f"{statistics.median(r[0] for r in ratios):.2f} / {statistics.median(r[1] for r in ratios):.2f} "
         f"(n={len(ratios)})") if ratios else "n/a"
    return {"measured": measured, "design": design, "error": measured - design, **comp, "d": d}, lines


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
