"""Cost of the DICOM objects `b12brain run` adds for a DICOM FLAIR: re-reading the source series,
placing the mask on its frames and writing ``lesion_seg.dcm`` (and ``report_pdf.dcm``).

Usage::

    python benchmarks/dicom_export.py [--repeats 3] [--slices 192]

Writes the synthetic 256×256×SLICES 3D FLAIR series of ``benchmarks/dicom_read.py``, reads it
with ``load_volume`` as a run does, puts five lesion classes' worth of blobs (periventricular,
deep, juxtacortical, infratentorial, caps/lining: every segment present, the worst case) on its
grid, and times :func:`b12brain.pacs.write_dicom_outputs` (a one-page report.pdf beside it),
pinned to 2 cores; prints the median of the repeats, the SEG's size and the reading back of
the SEG's frames by their positions (voxels equal to the mask).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset  # noqa: E402
from dicom_read import write_flair_series  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slices", type=int, default=192)
    args = parser.parse_args(argv)
    if has_taskset():
        os.sched_setaffinity(0, {int(c) for c in CORES.split(",")})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pydicom

    from b12brain.io import load_volume
    from b12brain.pacs import write_dicom_outputs

    with tempfile.TemporaryDirectory(prefix="b12brain-dicom-export-") as tmp:
        work = Path(tmp)
        flair = load_volume(write_flair_series(work / "series", args.slices))
        rng = np.random.default_rng(0)
        classes = np.zeros(flair.shape, np.uint8)
        for code in range(5):  # 4 lesion classes and caps/lining, 20 boxes each
            for _ in range(20):
                i, j, k = (rng.integers(20, n - 20) for n in flair.shape)
                classes[i - 3:i + 3, j - 3:j + 3, k - 2:k + 2] = code + 1
        result = SimpleNamespace(flair=flair, class_map=lambda: np.where(classes <= 4, classes, 0).astype(np.uint8),
                                 caps_lining_mask=classes == 5, segmenter_provenance={"model_sha256": "0" * 64})
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.text(0.1, 0.9, "b12brain benchmark report")
        seconds = []
        for i in range(args.repeats):
            out = work / f"out{i}"
            out.mkdir()
            fig.savefig(out / "report.pdf")
            start = time.perf_counter()
            record = write_dicom_outputs(result, out)  # type: ignore[arg-type]
            seconds.append(time.perf_counter() - start)
            print(f"  export {i + 1}: {seconds[-1]:6.2f} s", file=sys.stderr, flush=True)
        seg = pydicom.dcmread(out / "lesion_seg.dcm")
        size_mb = (out / "lesion_seg.dcm").stat().st_size / 1e6
    print(f"DICOM export, 256x256x{args.slices} classic source, 5 segments, median of {args.repeats}, "
          f"cores {CORES if has_taskset() else 'all'}")
    print(f"{'seconds':>8s} {'SEG MB':>7s} {'frames':>7s}  written")
    print(f"{statistics.median(seconds):8.2f} {size_mb:7.1f} {int(seg.NumberOfFrames):7d}  {', '.join(record['written'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
