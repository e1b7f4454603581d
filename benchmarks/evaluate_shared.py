"""Run the b12brain pipeline on the shared expert-labelled subjects and score it (MICCAI WMH).

Usage::

    python benchmarks/evaluate_shared.py [DATA_DIR] [--segmenter NAME | --model ONNX]
        [--datasets NAME ...] [--subjects DATASET/SUBJECT ...] [--no-edge-refinement]
        [--out-dir DIR] [--hyperintensity-dir DIR] [--score-only] [--json FILE]

DATA_DIR holds ``<dataset>/<subject>/{flair,lesion[,t1]}.nii.gz`` (default
``../shared/data/lesions`` next to the repository). For every subject the pipeline runs on
``flair.nii.gz`` (with ``t1.nii.gz`` when present) and its lesion mask is written to
``OUT_DIR/<dataset>/<subject>/lesion_mask.nii.gz``; then every prediction is scored against
``lesion.nii.gz`` and the per-subject table, per-dataset means, lesion-wise detection by
lesion size (< 0.05, 0.05-0.5, > 0.5 mL, lesions pooled per dataset and over all) and run
times are printed; ``--json FILE`` also writes them (``b12brain evaluate``'s JSON).

A subject the pipeline fails on gets an empty mask (it scores as "found nothing") and is
listed; the exit code is then 1. ``--score-only`` skips the pipeline and scores the masks
already in OUT_DIR. ``--model`` runs the learned segmenter with other weights (a
cross-validation model), ``--datasets`` keeps only the named datasets (its held-out site),
``--subjects`` only the named subjects (``tabriz_ms/106639``). ``--no-edge-refinement`` keeps
the segmenter's own lesions and edges (``b12brain run --no-edge-refinement``).
``--hyperintensity-dir DIR`` also writes each subject's lesions with caps and lining
(``hyperintensity_mask``) under DIR, in the same layout; score them with ``--score-only
--out-dir DIR``. Predictions go outside the repository by default; never commit them or
the data.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from b12brain.errors import B12BrainError
from b12brain.evaluate import DatasetEvaluation, evaluate_dataset
from b12brain.evaluate.dataset import PRED_NAME, find_subjects
from b12brain.io import load_volume, save_nifti

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "lesions"
_SUMMARY = ("dice", "h95_mm", "avd_percent", "lesion_recall", "lesion_f1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR, help="default: %(default)s")
    parser.add_argument("--segmenter", default=None, help="PipelineConfig(segmenter=NAME); default: the pipeline's")
    parser.add_argument("--model", type=Path, default=None, help="ONNX weights for the learned segmenter")
    parser.add_argument("--datasets", nargs="+", default=None, help="only these datasets of DATA_DIR")
    parser.add_argument("--subjects", nargs="+", default=None, metavar="DATASET/SUBJECT",
                        help="only these subjects of DATA_DIR, e.g. tabriz_ms/106639")
    parser.add_argument("--no-edge-refinement", action="store_true", help="PipelineConfig(refine_edges=False)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where predictions go (default: a temp folder)")
    parser.add_argument("--hyperintensity-dir", type=Path, default=None,
                        help="also write each subject's lesions with caps and lining here")
    parser.add_argument("--score-only", action="store_true", help="score the masks already in --out-dir")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores as JSON here")
    args = parser.parse_args(argv)

    if not args.data_dir.is_dir():
        print(
            f"evaluate_shared: data folder {args.data_dir} not found; give DATA_DIR holding "
            "<dataset>/<subject>/{flair,lesion}.nii.gz",
            file=sys.stderr,
        )
        return 2
    label = args.segmenter or (args.model.parent.name if args.model else "default")
    out_dir = args.out_dir or Path(tempfile.gettempdir()) / "b12brain-evaluate-shared" / label
    if not args.datasets and not args.subjects:
        return _evaluate(args, args.data_dir, out_dir, label)
    chosen = _chosen_subjects(args.data_dir, args.datasets, args.subjects)
    if isinstance(chosen, str):
        print(f"evaluate_shared: {chosen}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="b12brain-subjects-") as links:
        # A folder of links to the chosen subjects, so that scoring sees them alone.
        for dataset, subject in chosen:
            (Path(links) / dataset).mkdir(exist_ok=True)
            (Path(links) / dataset / subject).symlink_to((args.data_dir / dataset / subject).resolve())
        return _evaluate(args, Path(links), out_dir, label)


def _chosen_subjects(
    data_dir: Path, datasets: list[str] | None, subjects: list[str] | None
) -> list[tuple[str, str]] | str:
    """``(dataset, subject)`` pairs that ``--datasets`` and ``--subjects`` keep, or why none can be."""
    missing = [name for name in datasets or [] if not (data_dir / name).is_dir()]
    if missing:
        return f"no dataset {missing[0]!r} in {data_dir}"
    available = [(dataset, subject) for dataset, subject, _ in find_subjects(data_dir)]
    if datasets:
        available = [pair for pair in available if pair[0] in datasets]
    if not subjects:
        return available
    wanted = [tuple(name.strip("/").split("/")) for name in subjects]
    unknown = [name for name, pair in zip(subjects, wanted, strict=True) if pair not in available]
    if unknown:
        return f"no subject {unknown[0]!r} in {data_dir} (give DATASET/SUBJECT, e.g. tabriz_ms/106639)"
    return [pair for pair in available if pair in wanted]


def _evaluate(args: argparse.Namespace, data_dir: Path, out_dir: Path, label: str) -> int:
    subjects = [s for s in find_subjects(data_dir) if (s[2] / "flair.nii.gz").is_file()]
    if not subjects:
        print(f"evaluate_shared: no <dataset>/<subject>/lesion.nii.gz under {args.data_dir}", file=sys.stderr)
        return 2

    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    if not args.score_only:
        print(f"running the pipeline ({label}) on {len(subjects)} subjects -> {out_dir}")
        seconds, failures = _run_pipeline(subjects, out_dir, args)

    try:
        evaluation = evaluate_dataset(data_dir, out_dir)
    except B12BrainError as err:
        print(f"evaluate_shared: {err}", file=sys.stderr)
        return 2
    _print_report(evaluation, seconds, failures)
    if args.json is not None:
        print(f"wrote {evaluation.to_json(args.json)}")
    return 1 if failures else 0


def _run_pipeline(
    subjects: list[tuple[str, str, Path]], out_dir: Path, args: argparse.Namespace
) -> tuple[dict[str, float], dict[str, str]]:
    from b12brain.pipeline import PipelineConfig, run_pipeline

    options: dict[str, object] = {} if args.segmenter is None else {"segmenter": args.segmenter}
    if args.model is not None:
        options.update(segmenter="learned", model=args.model)
    if args.no_edge_refinement:
        options.update(refine_edges=False)
    config = PipelineConfig(**options)  # type: ignore[arg-type]
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    for dataset, subject, folder in subjects:
        key = f"{dataset}/{subject}"
        flair_path = folder / "flair.nii.gz"
        t1_path = folder / "t1.nii.gz"
        target = out_dir / dataset / subject / PRED_NAME
        also = None if args.hyperintensity_dir is None else args.hyperintensity_dir / dataset / subject / PRED_NAME
        for path in (target, also):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            result = run_pipeline(flair_path, t1_path if t1_path.is_file() else None, config)
            save_nifti(result.lesion_mask.astype("uint8"), result.flair.affine, target, dtype="uint8")
            if also is not None:
                save_nifti(result.hyperintensity_mask.astype("uint8"), result.flair.affine, also, dtype="uint8")
        except Exception as err:  # noqa: BLE001 - one subject's failure must not stop the run
            failures[key] = f"{type(err).__name__}: {err}"
            flair = load_volume(flair_path)  # empty masks on the FLAIR grid: "found nothing"
            for path in (target, also):
                if path is not None:
                    save_nifti(np.zeros(flair.shape, np.uint8), flair.affine, path, dtype="uint8")
        seconds[key] = time.perf_counter() - start
        status = "FAILED" if key in failures else "ok"
        print(f"  {key:<28} {seconds[key]:7.1f} s  {status}", flush=True)
    return seconds, failures


def _print_report(evaluation: DatasetEvaluation, seconds: dict[str, float], failures: dict[str, str]) -> None:
    print()
    print(evaluation.format_table())
    print()
    print("per-dataset means:")
    width = max(len(name) for name in evaluation.means_by_dataset())
    for name, mean in evaluation.means_by_dataset().items():
        n = sum(1 for r in evaluation.rows if r.dataset == name)
        cells = "  ".join(f"{m} {_fmt(mean[m])}" for m in _SUMMARY)
        print(f"  {name:<{width}}  n={n:<3} {cells}")
    print()
    print("lesion-wise detection by lesion size (lesions pooled):")
    print(evaluation.format_size_table())
    if seconds:
        times = np.array(list(seconds.values()))
        print()
        print(f"time per subject: mean {times.mean():.1f} s, median {np.median(times):.1f} s, max {times.max():.1f} s")
        for key, sec in seconds.items():
            print(f"  {key:<28} {sec:7.1f} s")
    if failures:
        print()
        print(f"{len(failures)} subject(s) failed (scored as empty masks):")
        for key, message in failures.items():
            print(f"  {key}: {message}")


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
