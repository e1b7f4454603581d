"""Accuracy of ``b12brain followup`` on seeded phantom pairs, and its speed on clinical-size pairs.

Usage::

    python benchmarks/followup_phantoms.py [--seeds 5] [--slices 1,6] [--scenario by_seed]
                                           [--segmenter classical] [--speed-repeats 3] [--workdir DIR]

For each seed and slice thickness, :func:`b12brain.phantom.followup.make_followup` makes a
baseline and a follow-up with known change (the head moved 1.5-3 degrees and 2-4 mm about
each axis; new, enlarged, shrunk, resolved and stable deep lesions, the periventricular band
regressed or extended; ``--scenario``: ``by_seed``, the default, alternates a treatment
response (even seeds) and a progression (odd seeds); ``mixed`` is the earlier design, where
gains and losses partly cancel); both visits go through ``b12brain run``'s library path
(:func:`~b12brain.pipeline.run_pipeline`, :func:`~b12brain.outputs.write_outputs`) and then
:func:`~b12brain.followup.compare_visits`. A truth lesion is matched to the lesion group
with most voxels within 4 mm (plus half a slice) of its centre on the reference grid. Prints per pair and
in total:

* recall and precision of ``new`` and ``enlarging`` calls (lesion-wise: a truth new lesion
  counts as found when its group is called new, an enlarged one when called enlarging; a call
  is right when it is the group of a truth lesion of that change; the truth table lists the
  deep lesions only: where the periventricular band extends, calls on groups classed
  periventricular that hold no listed lesion are counted apart, not judged, as the band's
  change is known as a volume only; where it regresses, they are wrong calls);
* stable truth lesions of at least ``STABLE_MIN_ML`` found at both visits (in a group holding no
  changed truth lesion) and called stable;
* per-class volume change since the baseline (periventricular, deep, and all lesions together),
  as ``followup.json`` reports it (measured jointly on the aligned scans,
  :mod:`b12brain.followup.volume_change`), and, for comparison, the difference of the two runs'
  own volumes; each against the truth: the change of the drawn lesions (``design``: 1 mm design
  grid, by design class) and, beside it, the difference of each visit's reader truth on its own
  grid (``visible``; on thick slices it also holds how differently the two visits' slices cut the
  unchanged lesions). The truth's periventricular band includes its thin parts, which b12brain
  reports apart as caps/lining (not lesion): ``periventricular`` is measured as the
  periventricular lesions plus caps/lining, as ``benchmarks/phantom_accuracy.py`` scores the band
  (``periventricular lesions alone`` is printed beside it). Relative error ``|measured - truth| / |truth|``; a pair is within 20 % when
  that error is at most 0.2; the absolute error (mL) is printed beside it.

Speed: the ``b12brain followup`` command (a fresh process, as a user runs it: start-up, reading,
alignment, matching, writing) on a 256x256x20 (0.9x0.9x6 mm) pair and on a 182x218x182 1 mm
pair, median of ``--speed-repeats``; the pipeline runs that make the run folders are not timed. ``--workdir`` keeps phantoms and run
folders between invocations (a rerun only repeats the comparison).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from b12brain.followup import compare_visits
from b12brain.followup.compare import FollowupResult
from b12brain.io import save_nifti
from b12brain.outputs import write_outputs
from b12brain.phantom import PhantomConfig
from b12brain.phantom.followup import FollowupConfig, make_followup
from b12brain.pipeline import PipelineConfig, run_pipeline
from b12brain.quantify.lesions import LESION_CLASSES
from b12brain.types import Volume

DATES = [date(2025, 1, 10), date(2025, 7, 2)]
#: Stable truth lesions smaller than this (mL, 1 mm design) are left out of the stable score:
#: 10 voxels of 0.9x0.9x6 mm; most are not segmented at either visit.
STABLE_MIN_ML = 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="5", help="seeds per slice thickness (default 5), or one count per "
                        "thickness of --slices, e.g. 17,6 (0: speed only)")
    parser.add_argument("--slices", default="1,6", help="slice thicknesses in mm (default 1,6)")
    parser.add_argument("--scenario", default="by_seed", help="phantom scenario (FollowupConfig.scenario; default by_seed)")
    parser.add_argument("--segmenter", default="classical", help="segmenter of the runs (default classical)")
    parser.add_argument("--speed-repeats", type=int, default=3, help="repeats of the speed test (0: skip)")
    parser.add_argument("--workdir", type=Path, help="keep phantoms and runs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        rows = []
        slices = [float(s) for s in args.slices.split(",")]
        counts = [int(n) for n in args.seeds.split(",")]
        if len(counts) not in (1, len(slices)):
            parser.error("--seeds: give one count, or one per slice thickness")
        for slice_mm, n_seeds in zip(slices, counts * len(slices) if len(counts) == 1 else counts):
            for seed in range(n_seeds):
                rows.append(_pair(work, seed, slice_mm, args.segmenter, args.scenario))
                _print_row(rows[-1])
        if rows:
            _print_totals(rows)
        if args.speed_repeats > 0:
            _speed(work, args.speed_repeats, args.segmenter)
    return 0


def _pair(work: Path, seed: int, slice_mm: float, segmenter: str, scenario: str) -> dict[str, Any]:
    folder, truth = ensure_pair(work, seed, slice_mm, segmenter, scenario)
    result = compare_visits([folder / "run_baseline", folder / "run_followup"], dates=DATES)
    return {"pair": f"{folder.name} {truth['truth'].get('scenario', scenario)}", **_score(result, truth)}


def ensure_pair(work: Path, seed: int, slice_mm: float, segmenter: str, scenario: str) -> tuple[Path, dict[str, Any]]:
    """The folder of a phantom pair's run folders and its truth (``truth.json``), made once."""
    folder = work / scenario / f"s{seed}_{slice_mm:g}mm"
    truth_path = folder / "truth.json"
    if not truth_path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        pair = make_followup(FollowupConfig(PhantomConfig(seed=seed, slice_mm=slice_mm), scenario=scenario))
        for name, phantom in (("baseline", pair.baseline), ("followup", pair.followup)):
            flair = _write(phantom.flair, folder / f"{name}_flair.nii.gz")
            result = run_pipeline(flair, config=PipelineConfig(segmenter=segmenter))
            write_outputs(result, folder / f"run_{name}", overwrite=True)
        truth_path.write_text(json.dumps({"changes": pair.changes, "truth": pair.truth}))
    return folder, json.loads(truth_path.read_text())


def _write(volume: Volume, path: Path) -> Path:
    save_nifti(volume.data, volume.affine, path)
    return path


def match_truth(result: FollowupResult, changes: list[dict[str, Any]]) -> list[int | None]:
    """The lesion group of each truth lesion: the group with most voxels within 4 mm (plus half a
    voxel) of its centre on the reference grid; None where there is none."""
    ref = result.reference
    inverse = np.linalg.inv(ref.affine)
    spacing = np.asarray(ref.spacing_mm)
    out: list[int | None] = []
    for change in changes:
        centre = inverse[:3, :3] @ np.asarray(change["centre_mm"]) + inverse[:3, 3]
        radius = 4.0 + spacing / 2.0
        lo = np.maximum(np.floor(centre - radius / spacing), 0).astype(int)
        hi = np.minimum(np.ceil(centre + radius / spacing) + 1, ref.shape).astype(int)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij"), axis=-1)
        near = np.linalg.norm((grid - centre) * spacing, axis=-1) <= np.linalg.norm(radius) / np.sqrt(3)
        ids = result.group_map[box][near]
        ids = ids[ids > 0]
        out.append(int(np.bincount(ids).argmax()) if ids.size else None)
    return out


def _score(result: FollowupResult, truth: dict[str, Any]) -> dict[str, Any]:
    by_id = {g.id: g for g in result.groups}
    matched = [(change["change"], group) for change, group in zip(truth["changes"], match_truth(result, truth["changes"]))]
    out: dict[str, Any] = {}
    # The truth table lists the deep lesions; the periventricular band's change is known as a
    # volume only. Where the band extends, a new or enlarging call on a group classed
    # periventricular that holds no listed lesion may be right: it is counted apart, not judged.
    # Where the band regresses, such a call is wrong.
    listed = {g for _, g in matched if g is not None}
    band_grows = truth["truth"]["design_ml_change_by_class"]["periventricular"] > 0
    judged = {g.id for g in result.groups
              if not band_grows or g.id in listed or g.lesion_class != "periventricular"}
    for kind, call in (("new", "new"), ("enlarged", "enlarging")):
        truth_groups = {g for c, g in matched if c == kind and g is not None}
        n_truth = sum(c == kind for c, _ in matched)
        found = sum(1 for c, g in matched if c == kind and g is not None and by_id[g].category == call)
        calls = [g.id for g in result.groups if g.category == call]
        right = sum(1 for g in calls if g in truth_groups)
        unjudged = sum(1 for g in calls if g not in judged)
        out[kind] = (found, n_truth, right, len(calls) - unjudged, unjudged)
    # Stable truth lesions large enough to see on 6 mm slices, found at both visits, in a group
    # that holds no changed truth lesion (a neighbour's change is that neighbour's).
    changed_groups = {g for (c, g) in matched if c != "stable"}
    stable = [by_id[g].category for (c, g), row in zip(matched, truth["changes"])
              if c == "stable" and g is not None and g not in changed_groups and all(by_id[g].lesion_ids)
              and row["baseline_ml"] >= STABLE_MIN_ML]
    out["stable"] = (stable.count("stable"), len(stable))
    joint = result.change_by_class()["since_previous"]
    before, after = result.ml_by_class()[-2:]
    runs = {k: after[k] - before[k] for k in after}
    design, visible = truth["truth"]["design_ml_change_by_class"], truth["truth"]["lesion_ml_change_by_class"]
    # The phantom's band is periventricular in the truth, its thin parts too, which b12brain sets apart as
    # caps/lining (not lesion): the band's change is the periventricular lesions' and the caps/lining's.
    band = [sum(m[k] for k in ("periventricular", "caps_lining")) for m in (joint, runs)]
    out["class_change"] = {
        "periventricular": (*band, design["periventricular"], visible["periventricular"]),
        "deep": (joint["deep"], runs["deep"], design["deep"], visible["deep"]),
        "all lesions": (sum(joint.values()), sum(runs.values()), sum(design.values()), sum(visible.values())),
        "periventricular lesions alone": (joint["periventricular"], runs["periventricular"], design["periventricular"],
                                          visible["periventricular"]),
    }
    return out


def _cropped_runs(folder: Path, slice_mm: float, shape: tuple[int, int, int], segmenter: str) -> list[Path]:
    """Run folders of a phantom pair cropped to ``shape`` (top slices / centre), made once."""
    runs = [folder / "run_baseline", folder / "run_followup"]
    if all((run / "summary.json").is_file() for run in runs):
        return runs
    folder.mkdir(parents=True, exist_ok=True)
    pair = make_followup(FollowupConfig(PhantomConfig(seed=0, slice_mm=slice_mm), scenario="mixed"))
    for run, phantom in zip(runs, (pair.baseline, pair.followup)):
        flair = phantom.flair
        starts = [(n - m) // 2 for n, m in zip(flair.shape, shape)]
        if slice_mm > 1.0:
            starts[2] = flair.shape[2] - shape[2]  # the top slices, as a clinical scan of the brain
        box = tuple(slice(a, a + m) for a, m in zip(starts, shape))
        affine = flair.affine.copy()
        affine[:3, 3] = flair.affine[:3, :3] @ np.asarray(starts, dtype=float) + flair.affine[:3, 3]
        path = _write(Volume(np.ascontiguousarray(flair.data[box]), affine, flair.source),
                      folder / f"{run.name}_flair.nii.gz")
        write_outputs(run_pipeline(path, config=PipelineConfig(segmenter=segmenter)), run, overwrite=True)
    return runs


def _print_row(row: dict[str, Any]) -> None:
    n, e, s = row["new"], row["enlarged"], row["stable"]
    change = "  ".join(f"{k} {j:+.2f} (runs {r:+.2f}) / {d:+.2f} (visible {v:+.2f}) mL, error {_error(j, d):.0%}"
                       for k, (j, r, d, v) in row["class_change"].items())
    print(f"{row['pair']:>10}  new found {n[0]}/{n[1]} right {n[2]}/{n[3]} (+{n[4]} periventricular)  enlarging "
          f"found {e[0]}/{e[1]} right {e[2]}/{e[3]} (+{e[4]} periventricular)  stable {s[0]}/{s[1]}  change measured/truth: {change}", flush=True)


def _error(measured: float, truth: float) -> float:
    return abs(measured - truth) / abs(truth) if truth else float("nan")


def _print_totals(rows: list[dict[str, Any]]) -> None:
    def ratio(a: int, b: int) -> str:
        return f"{a / b:.2f} ({a}/{b})" if b else "n/a"

    print("\nTotals (lesion-wise)")
    print("| change | recall | precision | calls on periventricular groups holding no listed lesion (not judged) |\n"
          "|---|---|---|---|")
    for kind in ("new", "enlarged"):
        found, n_truth, right, calls, unjudged = (sum(r[kind][i] for r in rows) for i in range(5))
        print(f"| {kind} | {ratio(found, n_truth)} | {ratio(right, calls)} | {unjudged} |")
    both = [sum(r[k][i] for r in rows for k in ("new", "enlarged")) for i in range(5)]
    print(f"| new + enlarged | {ratio(both[0], both[1])} | {ratio(both[2], both[3])} | {both[4]} |")
    stable = [sum(r["stable"][i] for r in rows) for i in range(2)]
    print(f"\nstable truth lesions found at both visits and called stable: {ratio(*stable)}")
    print("\nPer-class change since the baseline, relative error per pair (measured = followup.json, jointly on the "
          "aligned scans; runs = difference of the runs' own volumes)")
    print("| class | measured vs truth (per pair) | within 20 % | median | absolute error, mL (median, max) "
          "| runs vs truth (per pair) | within 20 % | median | measured vs visible, within 20 % |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for name in ("periventricular", "deep", "all lesions", "periventricular lesions alone"):
        cells = []
        for col, ref in ((0, 2), (1, 2), (0, 3)):
            errors = [_error(r["class_change"][name][col], r["class_change"][name][ref]) for r in rows]
            errors = [e for e in errors if not np.isnan(e)]
            cells += [" ".join(f"{e:.0%}" for e in errors), f"{sum(e <= 0.2 for e in errors)}/{len(errors)}",
                      f"{statistics.median(errors):.0%}" if errors else "n/a"]
        absolute = [abs(r["class_change"][name][0] - r["class_change"][name][2]) for r in rows]
        cells.insert(3, f"{statistics.median(absolute):.2f}, {max(absolute):.2f}")
        print(f"| {name} | {' | '.join(cells[:7])} | {cells[8]} |")


def _speed(work: Path, repeats: int, segmenter: str) -> None:
    print(f"\nSpeed of `b12brain followup` (whole command), median of {repeats}")
    print("| pair | seconds (median) | all |\n|---|---|---|")
    for name, slice_mm, shape in (("256x256x20, 6 mm", 6.0, (256, 256, 20)), ("182x218x182, 1 mm", 1.0, (182, 218, 182))):
        folder = work / f"speed_{slice_mm:g}mm"
        runs = _cropped_runs(folder, slice_mm, shape, segmenter)
        times = []
        for i in range(repeats):
            command = [str(Path(sys.executable).with_name("b12brain")), "followup", *map(str, runs), "--out",
                       str(folder / f"out{i}"), "--overwrite", "--quiet", "--dates", ",".join(map(str, DATES))]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        print(f"| {name} | {statistics.median(times):.1f} | {', '.join(f'{t:.1f}' for t in times)} |", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
