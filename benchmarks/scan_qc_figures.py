"""The scan-QC figures (docs/scan-qc.md) on phantoms and, when present, the shared real scans.

Usage::

    python benchmarks/scan_qc_figures.py [--data ../shared/data/lesions] [--no-phantoms]

Runs the whole pipeline (classical segmenter) on phantoms of every lesion load at 1 and 6 mm
slices (seed 11, with their T1) and on every ``<dataset>/<subject>/flair.nii.gz`` under
``--data`` (with ``t1.nii.gz`` when the subject has one). Prints one row per scan with every
figure of :mod:`b12brain.qc` and the QC warnings raised, then the minimum and maximum of each
figure per group, for the margins table in docs/scan-qc.md. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from b12brain.io import load_volume
from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.pipeline import PipelineConfig, run_pipeline
from b12brain.types import Volume

LOADS = ("none", "mild", "moderate", "severe")
SLICES_MM = (1.0, 6.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lesions"))
    parser.add_argument("--no-phantoms", dest="phantoms", action="store_false")
    args = parser.parse_args(argv)
    groups: dict[str, list[dict[str, float]]] = {}
    sources = list(_phantoms()) if args.phantoms else []
    if args.data.is_dir():
        sources += list(_real(args.data))
    else:
        print(f"{args.data}: not found; real scans skipped", file=sys.stderr)
    for group, name, flair, t1 in sources:
        result = run_pipeline(flair, t1, PipelineConfig(segmenter="classical"))
        figures = dict(result.qc_figures)
        if result.t1_check is not None:
            figures |= {"t1_fov_overlap": round(result.t1_check.fov_overlap, 3),
                        "t1_head_overlap": round(result.t1_check.head_overlap, 3)}
        figures["warnings"] = float(len(result.warnings))
        groups.setdefault(group, []).append(figures)
        codes = ",".join(w.code for w in result.warnings) or "-"
        print(f"{group:8s} {name:14s} " + " ".join(f"{k}={v:g}" for k, v in figures.items()) + f" [{codes}]", flush=True)
    print()
    print("| figure | " + " | ".join(f"{g} (n={len(rows)}) min - max" for g, rows in groups.items()) + " |")
    print("|---|" + "---|" * len(groups))
    keys = sorted({k for rows in groups.values() for row in rows for k in row})
    for key in keys:
        cells = []
        for rows in groups.values():
            values = [row[key] for row in rows if key in row]
            cells.append(f"{min(values):g} - {max(values):g}" if values else "")
        print(f"| {key} | " + " | ".join(cells) + " |")
    return 0


def _phantoms() -> Iterator[tuple[str, str, Volume, Volume]]:
    for slice_mm in SLICES_MM:
        for load in LOADS:
            phantom = make_phantom(PhantomConfig(seed=11, lesion_load=load, slice_mm=slice_mm))
            yield "phantom", f"{load}-{slice_mm:g}mm", phantom.flair, phantom.t1


def _real(root: Path) -> Iterator[tuple[str, str, Volume, Volume | None]]:
    for flair_path in sorted(root.glob("*/*/flair.nii.gz")):
        t1_path = flair_path.with_name("t1.nii.gz")
        t1 = load_volume(t1_path) if t1_path.exists() else None
        yield "real", flair_path.parent.name, load_volume(flair_path), t1


if __name__ == "__main__":
    raise SystemExit(main())
