"""Accuracy of ``run_pipeline`` on phantoms: every load, 1 mm and thick slices, several seeds.

Usage::

    python benchmarks/phantom_accuracy.py [--seeds 100 101 102] [--slices 1 6] [--segmenter learned|classical]
                                          [--model M.onnx] [--punctate N] [--mimics]

For each phantom: Dice, H95, lesion F1 (MICCAI WMH metrics) and the error of the total volume of
the hyperintensity found (lesions with caps and pencil-thin lining, which the phantom truth marks
as lesion too), the volume set apart as caps/lining, and the share of the detected true lesion
volume whose class (periventricular / deep) the pipeline got right. Prints one row per phantom, then the mean and the worst value per
(load, slice) group, against the acceptance bar (Dice >= 0.70, volume within 20 %, class >= 90 %),
and lesion-wise recall and precision by lesion size (< 0.05, 0.05-0.5, > 0.5 mL), lesions pooled
per slice thickness. ``--punctate N`` adds N punctate lesions (1.5-3.5 mm) to every phantom and
``--mimics`` normal FLAIR signal that is not lesion (``PhantomConfig``): the small-lesion and
false-positive cases of issue 19, on phantoms (the bars above are for plain phantoms).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from b12brain.evaluate import DatasetEvaluation, SubjectEvaluation, score_masks, score_size_bins
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, run_pipeline

LOADS = ("mild", "moderate", "severe")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    parser.add_argument("--slices", type=float, nargs="+", default=[1.0, 6.0])
    parser.add_argument("--segmenter", default=PipelineConfig().segmenter)
    parser.add_argument("--model", default=None, help="other ONNX weights for the learned segmenter (default: the shipped)")
    parser.add_argument("--punctate", type=int, default=0, help="punctate lesions added to every phantom")
    parser.add_argument("--mimics", action="store_true", help="phantoms with normal FLAIR signal that is not lesion")
    args = parser.parse_args(argv)
    config = PipelineConfig(segmenter=args.segmenter, model=args.model)
    rows = []
    scored: list[SubjectEvaluation] = []
    print(f"{'load':9s} {'slice':>5s} {'seed':>4s} {'truth mL':>8s} {'found mL':>8s} {'vol err%':>8s} "
          f"{'Dice':>5s} {'H95':>5s} {'F1':>5s} {'caps mL':>7s} {'class%':>6s} {'s':>5s}")
    for slice_mm in args.slices:
        for load in LOADS:
            for seed in args.seeds:
                phantom = make_phantom(
                    PhantomConfig(seed=seed, lesion_load=load, slice_mm=slice_mm, punctate_lesions=args.punctate, mimics=args.mimics)
                )
                start = time.perf_counter()
                result = run_pipeline(phantom.flair, config=config)
                seconds = time.perf_counter() - start
                truth = phantom.lesion.data > 0
                scores = score_masks(truth, result.hyperintensity_mask, phantom.flair.affine)
                found = truth & result.lesion_mask
                class_ok = float((result.class_map()[found] == phantom.lesion_class.data[found]).mean()) * 100
                error = 100 * (scores.pred_ml - scores.truth_ml) / scores.truth_ml
                rows.append((load, slice_mm, scores.dice, error, class_ok))
                bins = score_size_bins(truth, result.hyperintensity_mask, phantom.flair.affine)
                scored.append(SubjectEvaluation(f"{slice_mm:g} mm", f"{load}-{seed}", scores, bins))
                print(f"{load:9s} {slice_mm:5.0f} {seed:4d} {scores.truth_ml:8.2f} {scores.pred_ml:8.2f} {error:8.1f} "
                      f"{scores.dice:5.2f} {scores.h95_mm:5.1f} {scores.lesion_f1:5.2f} {result.burden.caps_lining_ml:7.2f} "
                      f"{class_ok:6.1f} {seconds:5.1f}",
                      flush=True)
    print("\nper group: mean (worst); bar: Dice >= 0.70, |volume error| <= 20 %, class >= 90 %")
    failures = 0
    for slice_mm in args.slices:
        for load in LOADS:
            group = [r for r in rows if r[0] == load and r[1] == slice_mm]
            dice = np.array([r[2] for r in group])
            error = np.array([abs(r[3]) for r in group])
            klass = np.array([r[4] for r in group])
            ok = dice.min() >= 0.70 and error.max() <= 20 and klass.min() >= 90
            failures += not ok
            print(f"{load:9s} {slice_mm:3.0f} mm  Dice {dice.mean():.2f} ({dice.min():.2f})  "
                  f"|vol err| {error.mean():4.1f}% ({error.max():4.1f}%)  class {klass.mean():5.1f}% ({klass.min():5.1f}%)"
                  f"  {'meets the bar' if ok else 'BELOW THE BAR'}")
    print("\nlesion-wise detection by lesion size (lesions pooled per slice thickness):")
    print(DatasetEvaluation(tuple(scored)).format_size_table())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
