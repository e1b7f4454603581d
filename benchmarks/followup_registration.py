"""Accuracy of the follow-up's rigid alignment (:func:`b12brain.followup.register.align_to_reference`).

Usage::

    python benchmarks/followup_registration.py [--shared DIR] [--trials 2] [--phantom-seeds 17]
                                               [--phantom-slices 6,1]

Two sets, each printed as a table:

* *real scans moved by a known motion*: every ``*/*/flair.nii.gz`` under ``--shared`` (default
  ``../shared/data/lesions``) is resampled ``--trials`` times through a random rigid motion about
  its centre (1.5-4 degrees and 2-5 mm about each axis, random signs; linear interpolation) with
  noise added (2 % of its 99th percentile), and the moved copy is aligned back to the original.
  Error: the distance between where a voxel of the head (Otsu foreground) is and where the
  motion composed with the found alignment puts it (mean and largest over the head), in mm.
* *phantom follow-up pairs* (:func:`b12brain.phantom.followup.make_followup`, the pairs of
  ``benchmarks/followup_phantoms.py``): the baseline aligned to the follow-up; error: the
  largest difference between the found rotation angles and the drawn ones, in degrees.

A pair with an error over 2 mm (real) or 1 degree (phantom) is counted as off; the quality
figure (normalised correlation) is printed beside each, with the quality rule's verdict.
Nothing derived from the shared scans is written.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from b12brain.followup.register import align_to_reference
from b12brain.io import load_volume
from b12brain.phantom import PhantomConfig
from b12brain.phantom.followup import FollowupConfig, make_followup
from b12brain.preprocess.sitk_bridge import from_sitk, to_sitk
from b12brain.types import Volume

#: Head voxels whose displacement is measured (an even subsample).
HEAD_POINTS = 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "lesions")
    parser.add_argument("--trials", type=int, default=2, help="moved copies per real scan (default 2)")
    parser.add_argument("--phantom-seeds", type=int, default=17, help="phantom pairs per slice thickness (default 17)")
    parser.add_argument("--phantom-slices", default="6,1", help="slice thicknesses of the phantom pairs (default 6,1)")
    args = parser.parse_args(argv)
    if args.trials and args.shared.is_dir():
        _real(sorted(args.shared.glob("*/*/flair.nii.gz")), args.trials)
    elif args.trials:
        print(f"{args.shared}: not found; real scans skipped")
    for slice_mm in (float(s) for s in args.phantom_slices.split(",") if s and args.phantom_seeds > 0):
        _phantoms(args.phantom_seeds, slice_mm)
    return 0


def _real(paths: list[Path], trials: int) -> None:
    rng = np.random.default_rng(20261208)
    print("\nReal scans moved by a known motion and aligned back")
    print("| scan | voxel mm | trial | correlation | good enough | error mean mm | error max mm |\n|---|---|---|---|---|---|---|")
    worst = []
    for path in paths:
        reference = load_volume(path)
        image = to_sitk(reference.data.astype(np.float32), reference.affine)
        centre = image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2.0 for n in image.GetSize()])
        head = np.argwhere(from_sitk(sitk.OtsuThreshold(image, 0, 1)).astype(bool))
        head = head[:: max(1, len(head) // HEAD_POINTS)]
        points = [image.TransformIndexToPhysicalPoint([int(v) for v in index]) for index in head]
        for trial in range(trials):
            angles = rng.choice([-1.0, 1.0], 3) * rng.uniform(1.5, 4.0, 3)
            shift = rng.choice([-1.0, 1.0], 3) * rng.uniform(2.0, 5.0, 3)
            motion = sitk.Euler3DTransform(centre, *np.radians(angles), tuple(shift))
            moved = from_sitk(sitk.Resample(image, image, motion, sitk.sitkLinear, 0.0)).astype(np.float32)
            moved += rng.normal(0.0, 0.02 * float(np.percentile(reference.data, 99)), moved.shape).astype(np.float32)
            found = align_to_reference(Volume(np.clip(moved, 0.0, None), reference.affine.copy(), f"{path} moved"),
                                       reference)
            errors = [float(np.linalg.norm(np.subtract(motion.TransformPoint(found.transform.TransformPoint(p)), p)))
                      for p in points]
            worst.append(max(errors))
            name = f"{path.parent.parent.name}/{path.parent.name}"
            print(f"| {name} | {'x'.join(f'{v:.1f}' for v in reference.spacing_mm)} | {trial + 1} | {found.correlation:.3f} "
                  f"| {found.good_enough} | {statistics.mean(errors):.2f} | {max(errors):.2f} |", flush=True)
    print(f"\nlargest error per trial: median {statistics.median(worst):.2f} mm, max {max(worst):.2f} mm; "
          f"over 2 mm: {sum(e > 2.0 for e in worst)} of {len(worst)}")


def _phantoms(seeds: int, slice_mm: float) -> None:
    print(f"\nPhantom follow-up pairs, {slice_mm:g} mm: baseline aligned to the follow-up")
    print("| seed | correlation | good enough | rotation error, degrees (largest axis) |\n|---|---|---|---|")
    errors = []
    for seed in range(seeds):
        pair = make_followup(FollowupConfig(PhantomConfig(seed=seed, slice_mm=slice_mm)))
        found = align_to_reference(pair.baseline.flair, pair.followup.flair)
        # The drawn motion is about the design grid's axes; its third angle turns the other way in
        # SimpleITK's LPS coordinates.
        drawn = np.asarray(pair.truth["rotation_deg"]) * np.array([1.0, 1.0, -1.0])
        error = float(np.abs(np.asarray(found.rotation_deg) - drawn).max())
        errors.append(error)
        print(f"| {seed} | {found.correlation:.3f} | {found.good_enough} | {error:.2f} |", flush=True)
    print(f"\nrotation error: median {statistics.median(errors):.2f}, max {max(errors):.2f} degrees; "
          f"over 1 degree: {sum(e > 1.0 for e in errors)} of {len(errors)}")


if __name__ == "__main__":
    raise SystemExit(main())
