"""Speed of finding the series in a study: index 2,000 DICOM files and choose the FLAIR and T1.

Usage::

    taskset -c 0,1 python benchmarks/study_scan.py [--series 10] [--files 200] [--repeats 5]

Writes a study of ``--series`` series of ``--files`` single-frame MR files each (128×128 int16
pixels and an 8 kB private block standing for a vendor's private header, as in Siemens files)
in several vendors' spellings, then times :func:`b12brain.study.open_study` plus
:func:`b12brain.study.choose_series` for both roles (what ``b12brain run --study`` does before
it reads the chosen series). Prints the median of ``--repeats`` runs (the first run, on a
cold-ish page cache right after writing, is reported apart), the CPU seconds (which do not
count waiting for a busy shared machine) and files per second. Goal
(issue 22): <= 5 s for 2,000 files on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from b12brain.study import choose_series, one_study, open_study

# (description, MRAcquisitionType, TR ms, TE ms, TI ms or None)
_SERIES = [
    ("AAHead_Scout_64ch-head-coil", "2D", 8.6, 4.0, None),
    ("t2_tirm_tra_dark-fluid", "2D", 9000, 81, 2500),
    ("3D_Brain_VIEW_FLAIR", "3D", 4800, 300, 1650),
    ("t1_mprage_sag_p2_iso", "3D", 2300, 2.3, 900),
    ("Ax T2 FSE", "2D", 4000, 100, None),
    ("ep2d_diff_3scan_trace_p2", "2D", 5000, 90, None),
    ("Sag CUBE FLAIR", "3D", 6000, 120, 1800),
    ("BRAVO", "3D", 8.0, 3.0, 450),
    ("swi_tra", "3D", 28, 20, None),
    ("Survey", "2D", 11, 4.6, None),
]


def write_study(root: Path, n_series: int, n_files: int) -> int:
    """Write the study; return the number of files."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 1000, size=(128, 128)).astype(np.int16).tobytes()
    private = bytes(rng.integers(0, 256, size=8192, dtype=np.uint8))
    for s in range(n_series):
        description, acquisition, tr, te, ti = _SERIES[s % len(_SERIES)]
        folder = root / f"SE{s:04d}"
        folder.mkdir(parents=True)
        for k in range(n_files):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
            ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.77.{s}.{k}"
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, f"2.25.77.{s}.{k}", "MR"
            ds.PatientName, ds.PatientID, ds.StudyInstanceUID = "TEST^BENCH", "B1", "2.25.77"
            ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = f"2.25.77.{s}", s + 1, k + 1
            ds.SeriesDescription = ds.ProtocolName = description
            ds.SeriesDate, ds.SeriesTime, ds.StudyDate = "20240312", f"{100000 + s * 100}", "20240312"
            ds.ImageType, ds.MRAcquisitionType = ["ORIGINAL", "PRIMARY", "M", "ND"], acquisition
            ds.RepetitionTime, ds.EchoTime = f"{tr:g}", f"{te:g}"
            if ti is not None:
                ds.InversionTime = f"{ti:g}"
            ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
            ds.ImagePositionPatient = ["-100", "-100", f"{k * 1.0:.1f}"]
            ds.PixelSpacing, ds.SliceThickness = ["1", "1"], "1"
            ds.add_new(0x00290010, "LO", "SIEMENS CSA HEADER")
            ds.add_new(0x00291010, "OB", private)
            ds.Rows = ds.Columns = 128
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.PixelData = pixels
            ds.save_as(folder / f"IM{k:05d}", enforce_file_format=True)
    return n_series * n_files


def scan_and_choose(root: Path) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds of indexing ``root`` and choosing both roles; the choice."""
    start, cpu = time.perf_counter(), time.process_time()
    with open_study(root) as index:
        series = one_study(index)
        flair = choose_series(index.path, series, "flair")
        t1 = choose_series(index.path, series, "t1", required=False)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert flair is not None and t1 is not None
    return took, cpu, f"FLAIR {flair.series.label}, T1 {t1.series.label}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="b12brain-bench-") as tmp:
        n = write_study(Path(tmp), args.series, args.files)
        first, _, chosen = scan_and_choose(Path(tmp))
        runs = [scan_and_choose(Path(tmp)) for _ in range(args.repeats)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    print(f"chosen: {chosen}; load average while measuring: {os.getloadavg()[0]:.1f}")
    print(f"| files | series | first run | median of {args.repeats} (wall) | CPU s (median) | files/s (wall) | goal |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {n:,} | {args.series} | {first:.2f} s | {wall:.2f} s | {cpu:.2f} s | {n / wall:,.0f} | <= 5 s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
