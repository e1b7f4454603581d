"""The per-scan self-check against the truth, and what it costs.

Usage::

    python benchmarks/self_check.py [DATA_DIR] [--repeats 3] [--seeds 0] [--skip-real] [--skip-speed]

1. **Does it measure the real difficulty?** On every subject of DATA_DIR
   (``<dataset>/<subject>/{flair,lesion[,t1]}.nii.gz``, default ``../shared/data/lesions``)
   the pipeline runs with its self-check, and the self-check's estimated detection rate is set
   beside the true lesion-wise recall of the run's lesion mask against the expert mask (the
   matching of ``b12brain evaluate``: a lesion is found when the mask overlaps it,
   26-connectivity). Printed: one row per subject, Spearman's rho between the two, and whether
   any subject with a true recall under 0.3 was rated green. ``--seeds N`` also runs the
   self-check with N other seeds on each scan (the same run's scan and anatomy) and prints the
   spread of each scan's rate and rating over the seeds, and rho for the mean rate.
2. **What does it cost?** On the clinical 256×256×20 phantom FLAIR (``benchmarks/_phantoms.py``)
   the pipeline runs ``--repeats`` times with and without the self-check, alternating, in this
   process pinned to 2 cores where ``taskset`` allows; the table gives medians and the added time.

Nothing here is written to disk; never commit the data or anything derived from them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from b12brain import pipeline
from b12brain.evaluate.dataset import find_subjects
from b12brain.evaluate.metrics import score_masks
from b12brain.io import load_volume
from b12brain.pipeline import PipelineConfig, run_pipeline
from b12brain.qc import selfcheck
from b12brain.qc.selfcheck import SEED
from b12brain.segment import get_segmenter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES  # noqa: E402
from _phantoms import clinical_flair  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "lesions"
STAGE = "self-check (synthetic lesions in this scan's white matter)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR, help="default: %(default)s")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each configuration (default 3)")
    parser.add_argument("--seeds", type=int, default=0, help="other self-check seeds per scan (default 0)")
    parser.add_argument("--skip-real", action="store_true", help="only the timing")
    parser.add_argument("--skip-speed", action="store_true", help="only the comparison with the truth")
    args = parser.parse_args(argv)
    try:
        os.sched_setaffinity(0, {int(c) for c in CORES.split(",")})
    except (AttributeError, OSError):
        print("(could not pin to 2 cores: timings use every core)")
    segmenter = get_segmenter("learned")
    if not args.skip_real:
        if not args.data_dir.is_dir():
            print(f"self_check: data folder {args.data_dir} not found", file=sys.stderr)
            return 2
        _against_truth(args.data_dir, segmenter, args.seeds)
    if not args.skip_speed:
        _speed(args.repeats, segmenter)
    return 0


def _against_truth(data_dir: Path, segmenter: object, seeds: int) -> None:
    rows = []
    for dataset, subject, folder in find_subjects(data_dir):
        t1 = folder / "t1.nii.gz"
        with _capture_self_check() as calls:
            result = run_pipeline(folder / "flair.nii.gz", t1 if t1.is_file() else None,
                                  config=PipelineConfig(self_check=True), segmenter=segmenter)  # type: ignore[arg-type]
        truth = load_volume(folder / "lesion.nii.gz").data > 0
        recall = score_masks(truth, result.lesion_mask, result.flair.affine).lesion_recall
        check = result.self_check
        assert check is not None
        args, kwargs = calls[0]
        others = [selfcheck.run_self_check(*args, **{**kwargs, "seed": SEED + k}) for k in range(1, seeds + 1)]
        rows.append((f"{dataset}/{subject}", recall, check, others))
    print("\n| subject | true lesion recall | self-check detection rate | < 0.05 mL | 0.05-0.5 mL | > 0.5 mL "
          "| 0.1 mL seen | volume error | rating | self-check s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, recall, check, _ in rows:
        bins = [f"{b['found']}/{b['inserted']}" for b in check.by_size.values()]
        error = check.volume_error_percent
        print(f"| {name} | {recall:.2f} | {check.detection_rate:.2f} | {' | '.join(bins)} | "
              f"{'yes' if check.sees_0_1_ml else 'no'} | {'n/a' if error is None else f'{error:+.0f} %'} | "
              f"{check.rating} | {check.seconds:.2f} |")
    recalls = np.array([r for _, r, _, _ in rows])
    rates = np.array([_rate(c) for _, _, c, _ in rows])
    rho, p = spearmanr(recalls, rates, nan_policy="omit")
    green_low = [name for name, recall, check, _ in rows if recall < 0.3 and check.rating == "green"]
    print(f"\nSpearman rho (detection rate vs true recall, {len(rows)} scans): {rho:.2f} (p = {p:.3f})")
    print(f"scans with true recall < 0.3: {int((recalls < 0.3).sum())}; of them rated green: "
          f"{len(green_low)} {green_low if green_low else ''}")
    if seeds:
        print(f"\nseeds {SEED}-{SEED + seeds}:")
        print("| subject | true lesion recall | detection rate, min-max | mean | ratings |")
        print("|---|---|---|---|---|")
        means = []
        for name, recall, check, others in rows:
            values = [_rate(c) for c in (check, *others)]
            means.append(float(np.nanmean(values)))
            ratings = ", ".join(f"{c.rating} {sum(o.rating == c.rating for o in (check, *others))}"
                                for c in {o.rating: o for o in (check, *others)}.values())
            print(f"| {name} | {recall:.2f} | {min(values):.2f}-{max(values):.2f} | {means[-1]:.2f} | {ratings} |")
        rho, p = spearmanr(recalls, means, nan_policy="omit")
        print(f"\nSpearman rho (mean detection rate over {seeds + 1} seeds vs true recall): {rho:.2f} (p = {p:.3f})")


def _rate(check: selfcheck.SelfCheck) -> float:
    return check.detection_rate if check.detection_rate is not None else float("nan")


@contextlib.contextmanager
def _capture_self_check() -> Iterator[list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Record the arguments of the pipeline's self-check (the scan and anatomy it was given), so
    that it can be rerun with other seeds without running the pipeline again."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def recording(*args: Any, **kwargs: Any) -> selfcheck.SelfCheck:
        calls.append((args, kwargs))
        return selfcheck.run_self_check(*args, **kwargs)

    original = pipeline.run_self_check
    pipeline.run_self_check = recording
    try:
        yield calls
    finally:
        pipeline.run_self_check = original


def _speed(repeats: int, segmenter: object) -> None:
    flair = clinical_flair()
    seconds: dict[bool, list[float]] = {False: [], True: []}
    stage: list[float] = []
    for _ in range(repeats):
        for on in (False, True):
            start = time.perf_counter()
            result = run_pipeline(flair, config=PipelineConfig(self_check=on), segmenter=segmenter)  # type: ignore[arg-type]
            seconds[on].append(time.perf_counter() - start)
            if on:
                stage.append(result.seconds_by_stage[STAGE])
    off, with_check = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(f"\nclinical 256x256x20 phantom FLAIR, pipeline without the report, median of {repeats}:")
    print("| configuration | pipeline | self-check stage | added / run |")
    print("|---|---|---|---|")
    print(f"| --no-self-check (baseline) | {off:.2f} s | | |")
    print(f"| --self-check | {with_check:.2f} s | {statistics.median(stage):.2f} s | {with_check - off:+.2f} s "
          f"({with_check / off:.2f} x) |")


if __name__ == "__main__":
    raise SystemExit(main())
