"""The per-scan self-check against the truth, and what it costs.

Usage::

    python benchmarks/self_check.py [DATA_DIR] [--phantoms 0] [--repeats 3] [--seeds 0] [--skip-real] [--skip-speed]

0. **Does it track the truth where the truth is known?** ``--phantoms N`` makes a family of N
   phantoms of varied difficulty (:func:`phantom_family`: slice thickness 1-8 mm and gaps,
   lesion contrast normal to a third of it, many punctate lesions, normal bright mimics, added
   noise and blur), runs the pipeline with its self-check on each and sets the self-check's
   figures beside the true lesion-wise recall against the phantom's truth, with Spearman's rho
   (the round-1 design's rate, 16 lesions at contrast 1.2-1.5, all found / all placed, is rerun
   on the same scan for comparison), and how many missed lesions the network half saw
   (probability >= 0.1). This is where the design was chosen.
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
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.stats import spearmanr

from b12brain import pipeline
from b12brain.evaluate.dataset import find_subjects
from b12brain.geometry import CONNECTIVITY_26
from b12brain.evaluate.metrics import score_masks
from b12brain.io import load_volume
from b12brain.phantom import Phantom, PhantomConfig
from b12brain.phantom._lesions import Lesions
from b12brain.phantom.generate import render_phantom
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
    parser.add_argument("--phantoms", type=int, default=0, help="phantoms in the validation family (default 0)")
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
    if args.phantoms:
        _against_phantoms(args.phantoms, segmenter)
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
    print("\n| subject | true lesion recall | estimated detection rate (95 % CI) | all found | < 0.05 mL | 0.05-0.5 mL "
          "| > 0.5 mL | contrast < 1.25 | 0.1 mL seen | volume error | rating | self-check s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, recall, check, _ in rows:
        bins = [f"{b['found']}/{b['inserted']}" for b in check.by_size.values()]
        faint = check.by_contrast[selfcheck.CONTRAST_BINS[0][0]]
        ci = check.as_dict()["estimated_detection_rate_ci95"] or [None, None]
        error = check.volume_error_percent
        print(f"| {name} | {recall:.2f} | {_fmt(check.estimated_detection_rate)} ({_fmt(ci[0])}-{_fmt(ci[1])}) | "
              f"{_fmt(check.detection_rate)} | {' | '.join(bins)} | {faint['found']}/{faint['inserted']} | "
              f"{'yes' if check.sees_0_1_ml else 'no'} | {'n/a' if error is None else f'{error:+.0f} %'} | "
              f"{check.rating} | {check.seconds:.2f} |")
    recalls = np.array([r for _, r, _, _ in rows])
    for label, rates in (("estimated detection rate", np.array([_rate(c) for _, _, c, _ in rows])),
                         ("all synthetic lesions found", np.array([c.detection_rate for _, _, c, _ in rows], float))):
        rho, p = spearmanr(recalls, rates, nan_policy="omit")
        print(f"\nSpearman rho ({label} vs true recall, {len(rows)} scans): {rho:.2f} (p = {p:.3f})")
    green_low = [name for name, recall, check, _ in rows if recall < 0.3 and check.rating == "green"]
    print(f"scans with true recall < 0.3: {int((recalls < 0.3).sum())}; of them rated green: "
          f"{len(green_low)} {green_low if green_low else ''}")
    if seeds:
        print(f"\nseeds {SEED}-{SEED + seeds}:")
        print("| subject | true lesion recall | estimated detection rate, min-max | mean | ratings |")
        print("|---|---|---|---|---|")
        means = []
        for name, recall, check, others in rows:
            values = [_rate(c) for c in (check, *others)]
            means.append(float(np.nanmean(values)))
            ratings = ", ".join(f"{c.rating} {sum(o.rating == c.rating for o in (check, *others))}"
                                for c in {o.rating: o for o in (check, *others)}.values())
            print(f"| {name} | {recall:.2f} | {min(values):.2f}-{max(values):.2f} | {means[-1]:.2f} | {ratings} |")
        rho, p = spearmanr(recalls, means, nan_policy="omit")
        print(f"\nSpearman rho (mean estimated rate over {seeds + 1} seeds vs true recall): {rho:.2f} (p = {p:.3f})")


#: The self-check of round 1 (docs/accuracy.md): 16 lesions of typical contrast.
ROUND_1 = selfcheck.Design(
    sizes_ml=(0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.7, 1.0, 1.4),
    contrast_range=(1.2, 1.5),
)


@dataclass(frozen=True)
class Difficulty:
    """One member of the phantom validation family."""

    seed: int
    slice_mm: float
    gap_mm: float
    load: str
    contrast: float  # share of each lesion's FLAIR excess kept
    punctate: int
    mimics: bool
    noise: float  # added Rician noise, SD / white matter
    blur_mm: float  # in-plane Gaussian blur (SD, mm)

    def label(self) -> str:
        extras = [f"gap {self.gap_mm:g}" if self.gap_mm else "", f"contrast x{self.contrast:g}" if self.contrast < 1 else "",
                  f"{self.punctate} punctate" if self.punctate else "", "mimics" if self.mimics else "",
                  f"noise +{self.noise:g}" if self.noise else "", f"blur {self.blur_mm:g} mm" if self.blur_mm else ""]
        return ", ".join([f"{self.slice_mm:g} mm {self.load}", *[e for e in extras if e]])


def phantom_family(n: int) -> list[Difficulty]:
    """``n`` phantoms of varied difficulty, drawn from a fixed seed (1 mm for every sixth)."""
    rng = np.random.default_rng(2019)
    family = []
    for k in range(n):
        slice_mm = 1.0 if k % 6 == 5 else float(rng.choice([3.0, 4.0, 5.0, 6.0, 7.0, 8.0]))
        family.append(Difficulty(
            seed=100 + k,
            slice_mm=slice_mm,
            gap_mm=0.0 if slice_mm == 1.0 else float(rng.choice([0.0, 0.0, 1.0])),
            load=str(rng.choice(["mild", "moderate"])),
            contrast=float(rng.choice([1.0, 0.6, 0.4, 0.3])),
            punctate=int(rng.choice([0, 30])),
            mimics=bool(rng.integers(2)),
            noise=float(rng.choice([0.0, 0.0, 0.03, 0.06])),
            blur_mm=float(rng.choice([0.0, 0.0, 0.8])),
        ))
    return family


def make_difficult(d: Difficulty) -> Phantom:
    """The phantom of ``d``: lesion excess scaled before acquisition, noise and blur after."""

    def fainter(lesions: Lesions, geo: object, vent: object) -> Lesions:
        inside = lesions.pv_box | lesions.deep_box
        factor = np.where(inside, 1.0 + d.contrast * (lesions.flair_factor_box - 1.0), lesions.flair_factor_box)
        return dataclasses.replace(lesions, flair_factor_box=factor.astype(np.float32))

    config = PhantomConfig(seed=d.seed, lesion_load=d.load, slice_mm=d.slice_mm,  # type: ignore[arg-type]
                           punctate_lesions=d.punctate, mimics=d.mimics, slice_gap_mm=d.gap_mm)
    phantom = render_phantom(config, edit_lesions=fainter if d.contrast < 1.0 else None)
    data = phantom.flair.data.astype(np.float32)
    if d.blur_mm:
        data = ndi.gaussian_filter(data, [d.blur_mm / s for s in phantom.flair.spacing_mm[:2]] + [0.0])
    if d.noise:
        rng = np.random.default_rng([d.seed, 7])
        sigma = d.noise * float(np.median(data[phantom.brain.data > 0]))
        data = np.hypot(data + rng.normal(0, sigma, data.shape), rng.normal(0, sigma, data.shape)).astype(np.float32)
    return dataclasses.replace(phantom, flair=phantom.flair.with_data(data))


def _against_phantoms(n: int, segmenter: object) -> None:
    print("\n| phantom | true lesion recall | round 1: rate | round 2: estimated rate (95 % CI) | all found "
          "| rating | missed lesions with p >= 0.1 | self-check s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for d in phantom_family(n):
        phantom = make_difficult(d)
        with _capture_self_check() as calls:
            result = run_pipeline(phantom.flair, config=PipelineConfig(self_check=True), segmenter=segmenter)  # type: ignore[arg-type]
        truth = phantom.lesion.data > 0
        recall = score_masks(truth, result.lesion_mask, phantom.flair.affine).lesion_recall
        args, kwargs = calls[0]
        round_1 = selfcheck.run_self_check(*args, **{**kwargs, "design": ROUND_1})
        check = result.self_check
        assert check is not None
        rows.append((recall, round_1, check))
        ci = check.as_dict()["estimated_detection_rate_ci95"]
        print(f"| {d.label()} | {recall:.2f} | {_fmt(round_1.detection_rate)} | "
              f"{_fmt(check.estimated_detection_rate)} ({_fmt(ci[0] if ci else None)}-{_fmt(ci[1] if ci else None)}) | "
              f"{_fmt(check.detection_rate)} | {check.rating} | {_half_seen(truth, result.lesion_mask, result.lesion_probability)} | "
              f"{check.seconds:.1f} |", flush=True)
    recalls = np.array([recall for recall, _, _ in rows])
    print(f"\nphantom family of {n}: Spearman rho against the true lesion recall")
    for name, values in (("round 1: rate", [r1.detection_rate for _, r1, _ in rows]),
                         ("round 2: estimated rate", [c.estimated_detection_rate for _, _, c in rows]),
                         ("round 2: all found", [c.detection_rate for _, _, c in rows])):
        rho, p = spearmanr(recalls, np.array([np.nan if v is None else v for v in values], float), nan_policy="omit")
        print(f"| {name} | {rho:.2f} | {p:.3f} |")
    ratings = [c.rating for _, _, c in rows]
    by = {c: " ".join(f"{r:.2f}" for r, rating in sorted(zip(recalls, ratings, strict=True)) if rating == c)
          for c in ("green", "amber", "red")}
    print("round 2: true recall of the scans rated " + "; ".join(f"{c}: {v or '-'}" for c, v in by.items()))


def _half_seen(truth: np.ndarray, mask: np.ndarray, probability: np.ndarray) -> str:
    """How many of the truth lesions the mask missed reach probability 0.1 somewhere (the network half saw them)."""
    labels, count = ndi.label(truth, structure=CONNECTIVITY_26)
    index = np.arange(1, count + 1)
    missed = ndi.maximum(mask.astype(np.uint8), labels, index) == 0
    seen = ndi.maximum(probability, labels, index) >= 0.1
    return f"{int((missed & seen).sum())} of {int(missed.sum())}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _rate(check: selfcheck.SelfCheck) -> float:
    rate = check.estimated_detection_rate
    return float("nan") if rate is None else rate


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
