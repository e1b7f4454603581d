"""``b12brain evaluate``: score predicted lesion masks against manual ones (MICCAI WMH 2017).

Two forms, exactly one per call::

    b12brain evaluate --truth lesion.nii.gz --pred lesion_mask.nii.gz [--csv scores.csv] [--json scores.json]
    b12brain evaluate --dataset DATASET_DIR --pred-dir PRED_DIR [--csv scores.csv] [--json scores.json]

Beside the metrics it prints lesion-wise recall and precision by lesion size (< 0.05,
0.05-0.5, > 0.5 mL), lesions pooled over the subjects (``b12brain.evaluate.size_bins``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from b12brain.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "evaluate",
        help="score lesion masks against manual masks (Dice, H95, AVD, lesion recall/F1, recall by lesion size)",
        description="Score predicted lesion masks against manual masks with the MICCAI WMH 2017 "
        "metrics, and lesion-wise recall and precision by lesion size (< 0.05, 0.05-0.5, > 0.5 mL, "
        "lesions pooled over the subjects). Give either --truth and --pred (one pair) or --dataset and --pred-dir "
        "(DATASET_DIR/<dataset>/<subject>/lesion.nii.gz against "
        "PRED_DIR/<dataset>/<subject>/lesion_mask.nii.gz).",
    )
    parser.add_argument("--truth", type=Path, metavar="FILE", help="manual lesion mask (NIfTI)")
    parser.add_argument("--pred", type=Path, metavar="FILE", help="predicted lesion mask on the same grid")
    parser.add_argument("--dataset", type=Path, metavar="DIR", help="folder of <dataset>/<subject>/lesion.nii.gz")
    parser.add_argument("--pred-dir", type=Path, metavar="DIR", help="folder of predictions, same layout")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the per-subject scores as CSV")
    parser.add_argument(
        "--json", type=Path, metavar="FILE",
        help="also write per-subject scores, means and pooled size bins (overall and per dataset) as JSON",
    )  # fmt: skip
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from b12brain.evaluate import DatasetEvaluation, evaluate_dataset, evaluate_subject

    pair = args.truth is not None or args.pred is not None
    folder = args.dataset is not None or args.pred_dir is not None
    if pair == folder or (pair and (args.truth is None or args.pred is None)) or (
        folder and (args.dataset is None or args.pred_dir is None)
    ):
        raise ConfigError(
            "give either --truth FILE --pred FILE, or --dataset DIR --pred-dir DIR (exactly one of the two forms)"
        )
    if pair:
        evaluation = DatasetEvaluation((evaluate_subject(args.truth, args.pred),))
    else:
        evaluation = evaluate_dataset(args.dataset, args.pred_dir)
    print(evaluation.format_table())
    print()
    print("lesion-wise detection by lesion size (lesions pooled over the subjects):")
    print(evaluation.format_size_table())
    if args.csv is not None:
        evaluation.to_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.json is not None:
        evaluation.to_json(args.json)
        print(f"wrote {args.json}")
    return 0

