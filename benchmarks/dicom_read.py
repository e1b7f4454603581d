"""Time to read a 3D FLAIR DICOM series: this tree's reader (dcm2niix) against a baseline revision's.

Usage::

    python benchmarks/dicom_read.py [--baseline 58649db] [--repeats 5] [--slices 192]

The benchmark writes a classic single-frame series of 256×256×SLICES 16-bit slices (1 mm, with
the header elements of a Siemens 3D FLAIR) into a temporary folder, then reads it with
``b12brain.io.load_volume`` in a fresh process per read (as ``b12brain run`` does), pinned to 2
cores, the baseline and current trees alternating within each repeat. The baseline is the
package source of git revision REV (default 58649db: the SimpleITK/GDCM reader), extracted as
``benchmarks/run_speed.py`` does. The time is that of the ``load_volume`` call (imports not
counted); both trees must give the same voxels and affine (within 0.01 mm), which is checked.
Prints the median of the repeats for each tree and the ratio current/baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cores import CORES, has_taskset  # noqa: E402
from run_speed import _describe_head, _env, _extract  # noqa: E402

DEFAULT_BASELINE = "58649db"
_READ = (
    "import json, sys, time\n"
    "import numpy as np\n"
    "from b12brain.io import load_volume\n"
    "start = time.perf_counter()\n"
    "volume = load_volume(sys.argv[1])\n"
    "seconds = time.perf_counter() - start\n"
    "print(json.dumps({'seconds': seconds, 'shape': volume.shape, 'affine': volume.affine.tolist(),\n"
    "                  'sum': float(volume.data.astype(np.float64).sum())}))\n"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="REV", help="git revision (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slices", type=int, default=192)
    args = parser.parse_args(argv)
    pin = ["taskset", "-c", CORES] if has_taskset() else []
    with tempfile.TemporaryDirectory(prefix="b12brain-dicom-read-") as tmp:
        work = Path(tmp)
        trees = {"baseline": _extract(args.baseline, work / "baseline"), "current": Path(__file__).resolve().parents[1] / "src"}
        envs = {name: _env(src) for name, src in trees.items()}
        series = write_flair_series(work / "series", args.slices)
        seconds: dict[str, list[float]] = {}
        results: dict[str, dict[str, object]] = {}
        for i in range(args.repeats):
            for tree in trees:
                done = subprocess.run([*pin, sys.executable, "-c", _READ, str(series)], env=envs[tree],
                                      check=True, capture_output=True, text=True)
                results[tree] = json.loads(done.stdout.strip().splitlines()[-1])
                seconds.setdefault(tree, []).append(float(results[tree]["seconds"]))  # type: ignore[arg-type]
                print(f"  {tree:8s} read {i + 1}: {seconds[tree][-1]:6.2f} s", file=sys.stderr, flush=True)
    base, cur = results["baseline"], results["current"]
    same = base["shape"] == cur["shape"] and base["sum"] == cur["sum"] and np.allclose(base["affine"], cur["affine"], atol=0.01)
    median = {tree: statistics.median(values) for tree, values in seconds.items()}
    print(f"DICOM series read, 256x256x{args.slices} 16-bit classic, median of {args.repeats} reads, "
          f"cores {CORES if pin else 'all'}; baseline {args.baseline}, current {_describe_head()}")
    print(f"{'baseline s':>10s} {'current s':>10s} {'cur/base':>9s}  same volume")
    print(f"{median['baseline']:10.2f} {median['current']:10.2f} {median['current'] / median['baseline']:9.2f}  {same}")
    return 0 if same else 1


def write_flair_series(folder: Path, slices: int) -> Path:
    """A 256×256×``slices`` axial 3D FLAIR (1 mm) as classic single-frame MR files."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    grid = np.meshgrid(*(np.linspace(-1, 1, n) for n in (256, 256)), indexing="ij")
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(slices):
        z = 2 * k / max(slices - 1, 1) - 1
        head = np.exp(-2 * (grid[0] ** 2 + grid[1] ** 2 + z**2) / 0.5)
        pixels = (800 * head + rng.uniform(0, 40, (256, 256))).astype(np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MRImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.Manufacturer, ds.SeriesDescription, ds.SeriesNumber = "MR", "SIEMENS", "t2_space_dark-fluid_sag", 5
        ds.StudyDate, ds.StudyTime, ds.PatientPosition = "20240101", "120000", "HFS"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM"]
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = ["SE", "IR"], ["SK", "SP", "MP"], "3D"
        ds.RepetitionTime, ds.EchoTime, ds.InversionTime, ds.MagneticFieldStrength = 5000, 387, 1800, 3
        ds.ImagePositionPatient = [-128.0, -128.0, -96.0 + k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness, ds.InstanceNumber = [1, 1], 1, k + 1
        ds.Rows = ds.Columns = 256
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"IM{k:04d}.dcm", enforce_file_format=True)
    return folder


if __name__ == "__main__":
    sys.exit(main())
