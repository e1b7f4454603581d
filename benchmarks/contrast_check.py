"""Is the FLAIR a FLAIR, is the T1 a T1? The tissue-contrast figures on phantoms and real scans.

Usage::

    python benchmarks/contrast_check.py [--data ../shared/data/lesions] [--no-phantoms]

Runs the stages of ``b12brain run`` up to the contrast check (reading, scan checks, N4, atlas
registration; :mod:`b12brain.qc.contrast`) on

* phantoms (seeds 11, 3 and 5; lesion loads none to severe; 1, 3, 6 and 8 mm slices): the
  FLAIR, the T1 and the T2, PD and DWI images (``PhantomConfig.other_contrasts``), each given
  as the FLAIR; and each given as the T1 beside the phantom's FLAIR;
* when ``--data`` exists, every ``<dataset>/<subject>/flair.nii.gz`` and ``t1.nii.gz`` given as
  the FLAIR, and each T1 (and, for comparison, the FLAIR itself) given as the T1 beside its
  subject's FLAIR.

Prints one row per case (figures and outcome: refused / warned / silent), then per class the
minimum and maximum of each figure and the counts, for the table in docs/scan-qc.md. Nothing is
written to disk.

``--cost`` instead times the checks (median of 5 runs) on the clinical 256x256x20 and the
182x218x182 1 mm phantom FLAIRs, with their T1, against the atlas registration they follow.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _phantoms import clinical_scans, research_flair

from b12brain.anatomy.localise import Anatomy, localise_anatomy
from b12brain.errors import B12BrainError, InputFileError
from b12brain.io import load_volume
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.preprocess.bias import correct_bias
from b12brain.preprocess.orient import to_canonical
from b12brain.qc import check_atlas_fit, check_flair
from b12brain.qc.contrast import check_flair_contrast, check_t1_contrast, measure_contrast, tissue_cores
from b12brain.types import Volume

PHANTOMS = (  # seed, lesion load, slice thickness (mm)
    (11, "none", 1.0), (11, "severe", 6.0), (3, "moderate", 3.0), (5, "mild", 8.0),
)


@dataclass
class _Class:
    figures: dict[str, list[float]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=lambda: {"refused": 0, "warned": 0, "silent": 0})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lesions"))
    parser.add_argument("--no-phantoms", dest="phantoms", action="store_false")
    parser.add_argument("--cost", action="store_true")
    args = parser.parse_args(argv)
    if args.cost:
        return _cost()
    classes: dict[str, _Class] = {}
    sources = [_phantoms()] if args.phantoms else []
    if args.data.is_dir():
        sources.append(_real(args.data))
    else:
        print(f"{args.data}: not found; real scans skipped", file=sys.stderr)
    for group, name, scan, as_t1 in itertools.chain(*sources):
        kind = scan.source.rsplit(" ", 1)[-1] if group == "phantom" else Path(scan.source).name.split(".")[0]
        outcome, figures, anatomy_of = _as_flair(scan)
        _record(classes, f"{group} {kind} as FLAIR", name, figures, outcome)
        if anatomy_of is None:
            continue
        corrected, anatomy = anatomy_of
        for t1_kind, t1 in as_t1:
            check = check_t1_contrast(t1, corrected, anatomy)
            _record(classes, f"{group} {t1_kind} as T1", name, check.figures, "warned" if check.warnings else "silent")
    print()
    print("| scans | n | contrast_gm_wm min - max | contrast_csf_wm min - max | refused | warned | silent |")
    print("|---|---|---|---|---|---|---|")
    for label, c in classes.items():
        n = sum(c.outcomes.values())
        cells = [
            f"{min(v):.3f} - {max(v):.3f}" if (v := c.figures.get(k)) else "-" for k in ("contrast_gm_wm", "contrast_csf_wm")
        ]
        print(f"| {label} | {n} | {' | '.join(cells)} | " + " | ".join(str(c.outcomes[o]) for o in ("refused", "warned", "silent")) + " |")
    return 0


Case = tuple[str, str, Volume, list[tuple[str, Volume]]]


def _cost() -> int:
    research = research_flair()
    print("| FLAIR | anatomy (atlas registration) s | check_flair_contrast s | check_t1_contrast s | checks / anatomy |")
    print("|---|---|---|---|---|")
    for label, (flair, t1) in (("clinical 256x256x20", clinical_scans()), ("research 1 mm", (research, research))):
        canonical, _ = to_canonical(flair)
        checked = check_flair(canonical)
        corrected, _ = correct_bias(checked.volume, checked.head)
        anatomy_s, flair_s, t1_s = [], [], []
        for _ in range(5):
            start = time.perf_counter()
            anatomy = localise_anatomy(corrected, checked.head)
            anatomy_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            check_flair_contrast(corrected, anatomy)
            flair_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            check_t1_contrast(t1, corrected, anatomy)
            t1_s.append(time.perf_counter() - start)
        a, f, t = (float(np.median(x)) for x in (anatomy_s, flair_s, t1_s))
        print(f"| {label} | {a:.2f} | {f:.3f} | {t:.3f} | {(f + t) / a:.3f} |", flush=True)
    return 0


def _as_flair(scan: Volume) -> tuple[str, dict[str, float], tuple[Volume, Anatomy] | None]:
    """The pipeline's stages up to the contrast check, as ``run_pipeline`` orders them."""
    canonical, _ = to_canonical(scan)
    try:
        checked = check_flair(canonical)
        corrected, _ = correct_bias(checked.volume, checked.head)
        anatomy = localise_anatomy(corrected, checked.head)
    except B12BrainError as err:
        return f"refused before the contrast check: {err}", {}, None
    try:
        contrast = check_flair_contrast(corrected, anatomy)
    except InputFileError as err:
        cores = tissue_cores(anatomy, corrected)
        gm_wm, csf_wm = measure_contrast(corrected.data[cores.grid], cores)
        return f"refused: {err.problem[:60]}", {"contrast_gm_wm": gm_wm, "contrast_csf_wm": csf_wm}, (corrected, anatomy)
    try:
        _, atlas_warnings = check_atlas_fit(anatomy.alignment, scan.source)
    except B12BrainError as err:
        return f"refused by the atlas check: {err}", contrast.figures, (corrected, anatomy)
    extra = "" if not atlas_warnings else " (+ atlas warnings)"
    return ("warned" if contrast.warnings else "silent") + extra, contrast.figures, (corrected, anatomy)


def _record(classes: dict[str, _Class], label: str, name: str, figures: dict[str, float], outcome: str) -> None:
    c = classes.setdefault(label, _Class())
    for key, value in figures.items():
        if np.isfinite(value):
            c.figures.setdefault(key, []).append(float(value))
    c.outcomes[outcome.split(" ")[0].rstrip(":")] += 1
    shown = " ".join(f"{k}={v:.3f}" for k, v in figures.items())
    print(f"{label:28s} {name:22s} {shown:48s} {outcome}", flush=True)


def _phantoms() -> Iterator[Case]:
    for seed, load, slice_mm in PHANTOMS:
        phantom = make_phantom(PhantomConfig(seed=seed, lesion_load=load, slice_mm=slice_mm, other_contrasts=("t2", "pd", "dwi")))  # type: ignore[arg-type]
        name = f"{seed}-{load}-{slice_mm:g}mm"
        as_t1 = [("t1", phantom.t1), ("flair", phantom.flair), *phantom.other.items()]
        yield "phantom", name, phantom.flair, as_t1
        for scan in (phantom.t1, *phantom.other.values()):
            yield "phantom", name, scan, []


def _real(root: Path) -> Iterator[Case]:
    for flair_path in sorted(root.glob("*/*/flair.nii.gz")):
        name = f"{flair_path.parent.parent.name}/{flair_path.parent.name}"
        flair = load_volume(flair_path)
        t1_path = flair_path.with_name("t1.nii.gz")
        t1 = load_volume(t1_path) if t1_path.exists() else None
        yield "real", name, flair, ([("t1", t1)] if t1 is not None else []) + [("flair", flair)]
        if t1 is not None:
            yield "real", name, t1, []


if __name__ == "__main__":
    raise SystemExit(main())
