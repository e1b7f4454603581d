"""A patient CD built with pydicom: a DICOMDIR and 13 series of several vendors' spellings.

``write_series`` writes any :class:`~b12brain.types.Volume` as a classic MR series with a
realistic header; ``write_cd`` lays out a CD (``pydicom.fileset.FileSet``: DICOMDIR plus
``PT000000/ST000000/SE00000n/IM00000n`` files) with a viewer program, autorun file, thumbnails
and text beside it. Only the 3D FLAIR and the T1 hold the phantom (run by the acceptance
tests); the others hold small 32-pixel images, enough to be listed and never read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from b12brain.phantom import PhantomConfig, make_phantom
from b12brain.types import Volume

STUDY_UID = "2.25.4242.1"
_LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class SeriesSpec:
    """One series of the corpus: its header fields (times in ms, as DICOM stores them)."""

    number: int
    description: str
    manufacturer: str
    image_type: str = "ORIGINAL\\PRIMARY\\M\\ND"
    acquisition: str = "2D"
    tr: float | None = None
    te: float | None = None
    ti: float | None = None
    scanning: str = "SE"
    sequence_name: str = ""
    volumes: int = 1
    time: str = "100000"
    extra: dict[str, object] = field(default_factory=dict)


def small_volume(slices: int = 8, spacing_mm: float = 5.0, seed: int = 0) -> Volume:
    """A 32×32 phantom block (axial, RAS diagonal affine) for series that are only listed."""
    rng = np.random.default_rng(seed)
    data = rng.integers(50, 900, size=(32, 32, slices)).astype(np.float32)
    affine = np.diag([7.0, 7.0, spacing_mm, 1.0])
    affine[:3, 3] = [-112.0, -112.0, -40.0]
    return Volume(data, affine, "small")


def series_datasets(volume: Volume, spec: SeriesSpec, *, study_uid: str = STUDY_UID, patient: str = "DOE^JANE",
                    patient_id: str = "PID0001", skip: tuple[int, ...] = (), duplicate: tuple[int, ...] = ()) -> list[Dataset]:
    """``volume`` as one dataset per slice (times ``spec.volumes``), geometry from its affine."""
    spacing = np.sqrt((volume.affine[:3, :3] ** 2).sum(axis=0))
    row_cos = _LPS @ volume.affine[:3, 0] / spacing[0]  # along a row: increasing column index = array axis 0
    col_cos = _LPS @ volume.affine[:3, 1] / spacing[1]
    series_uid = f"{study_uid}.{spec.number}"
    datasets = []
    instance = 0
    for repeat in range(spec.volumes):
        for k in [*range(volume.shape[2]), *duplicate]:
            if k in skip:
                continue
            instance += 1
            ds = _header(spec, study_uid, series_uid, patient, patient_id, instance)
            ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_cos, *col_cos)]
            ds.ImagePositionPatient = [f"{v:.4f}" for v in _LPS @ (volume.affine @ [0, 0, k, 1])[:3]]
            ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
            ds.SliceThickness = f"{spacing[2]:.4f}"
            pixels = np.round(volume.data[:, :, k].T).astype(np.int16)
            ds.Rows, ds.Columns = pixels.shape
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.PixelData = pixels.tobytes()
            if spec.volumes > 1:
                ds.DiffusionBValue = float(1000 * repeat)
            datasets.append(ds)
    return datasets


def _header(spec: SeriesSpec, study_uid: str, series_uid: str, patient: str, patient_id: str, instance: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = f"{series_uid}.{instance}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, f"{series_uid}.{instance}"
    ds.Modality, ds.Manufacturer = "MR", spec.manufacturer
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = patient, patient_id, "19500101"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240312", "093000", "1", "A1"
    ds.StudyDescription = "MRT Schaedel"
    ds.SeriesDate, ds.SeriesTime = "20240312", spec.time
    ds.SeriesNumber, ds.InstanceNumber = spec.number, instance
    ds.SeriesDescription, ds.ProtocolName = spec.description, spec.description
    ds.ImageType = spec.image_type.split("\\")
    ds.MRAcquisitionType, ds.ScanningSequence = spec.acquisition, spec.scanning.split("\\")
    ds.SequenceVariant, ds.MagneticFieldStrength = "SK", 3
    if spec.sequence_name:
        ds.SequenceName = spec.sequence_name
    for keyword, value in (("RepetitionTime", spec.tr), ("EchoTime", spec.te), ("InversionTime", spec.ti)):
        if value is not None:
            setattr(ds, keyword, f"{value:g}")
    for keyword, value in spec.extra.items():
        setattr(ds, keyword, value)
    return ds


def text_report(number: int, *, study_uid: str = STUDY_UID) -> Dataset:
    """A Basic Text SR (a report: DICOM, but not an image) in series ``number``."""
    ds = _header(SeriesSpec(number, "Befund", "SIEMENS"), study_uid, f"{study_uid}.{number}", "DOE^JANE", "PID0001", 1)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    ds.Modality = "SR"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ContentDate, ds.ContentTime = "20240312", "120000"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "18748-4", "LN", "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [concept]
    for keyword in ("ImageType", "MRAcquisitionType", "ScanningSequence", "SequenceVariant", "MagneticFieldStrength"):
        del ds[keyword]
    return ds


def cd_series(phantom_flair: Volume, phantom_t1: Volume) -> list[tuple[SeriesSpec, Volume]]:
    """The 13 image series of the corpus (a report is added by :func:`write_cd`)."""
    small = small_volume
    return [
        (SeriesSpec(1, "AAHead_Scout_64ch-head-coil", "SIEMENS", time="093100", tr=8.6, te=4.0, scanning="GR"), small(3, 7.0)),
        (SeriesSpec(2, "3-Plane Loc", "GE MEDICAL SYSTEMS", time="093200", tr=5.0, te=1.5, scanning="GR"), small(3, 7.0, 1)),
        (SeriesSpec(3, "Survey", "Philips Medical Systems", time="093300", tr=11.0, te=4.6, scanning="GR"), small(3, 7.0, 2)),
        (SeriesSpec(4, "t2_tirm_tra_dark-fluid", "SIEMENS", time="094000", tr=9000, te=81, ti=2500,
                    scanning="SE\\IR", sequence_name="*tir2d1_16"), small(20, 6.0, 3)),
        (SeriesSpec(5, "Ax T2 FLAIR", "GE MEDICAL SYSTEMS", time="094500", tr=9000, te=120, ti=2250,
                    scanning="SE\\IR"), small(20, 6.0, 4)),
        (SeriesSpec(6, "3D_Brain_VIEW_FLAIR", "Philips Medical Systems", acquisition="3D", time="095000", tr=4800,
                    te=300, ti=1650, scanning="SE\\IR"), phantom_flair),
        (SeriesSpec(7, "Sag CUBE FLAIR", "GE MEDICAL SYSTEMS", image_type="DERIVED\\SECONDARY\\REFORMATTED\\AVERAGE",
                    acquisition="3D", time="095500", tr=6000, te=120, ti=1800, scanning="SE\\IR"), small(10, 1.0, 5)),
        (SeriesSpec(8, "t1_mprage_sag_p2_iso", "SIEMENS", acquisition="3D", time="100000", tr=2300, te=2.3, ti=900,
                    scanning="GR\\IR", sequence_name="*tfl3d1_16ns"), phantom_t1),
        (SeriesSpec(9, "Ax T1 SE", "GE MEDICAL SYSTEMS", time="100500", tr=500, te=10), small(20, 5.0, 6)),
        (SeriesSpec(10, "ep2d_diff_3scan_trace_p2", "SIEMENS", time="101000", tr=5000, te=90, scanning="EP",
                    volumes=2), small(10, 5.0, 7)),
        (SeriesSpec(11, "ep2d_diff_3scan_trace_p2_ADC", "SIEMENS", image_type="DERIVED\\PRIMARY\\DIFFUSION\\ADC\\ND",
                    time="101000", tr=5000, te=90, scanning="EP"), small(10, 5.0, 8)),
        # As good as the MPRAGE (3D, same slices) but earlier: the latest is taken.
        (SeriesSpec(12, "Ax BRAVO", "GE MEDICAL SYSTEMS", acquisition="3D", time="095800", tr=8.2, te=3.2, ti=450,
                    scanning="GR\\IR"), small(10, 6.0, 9)),
        (SeriesSpec(13, "T1W_3D_TFE MPR tra", "Philips Medical Systems", image_type="DERIVED\\SECONDARY\\MPR",
                    acquisition="3D", time="101500", tr=8.1, te=3.7, scanning="GR"), small(10, 1.0, 10)),
    ]


def write_cd(root: Path, flair: Volume, t1: Volume) -> Path:
    """A patient CD in ``root``: DICOMDIR, the series of :func:`cd_series`, a report, and the
    viewer files a CD carries. Returns ``root``."""
    fileset = FileSet()
    for spec, volume in cd_series(flair, t1):
        for ds in series_datasets(volume, spec):
            fileset.add(ds)
    fileset.add(text_report(90))
    root.mkdir(parents=True, exist_ok=True)
    fileset.write(root)
    (root / "VIEWER.EXE").write_bytes(b"MZ\x90\x00" + bytes(300))
    (root / "AUTORUN.INF").write_text("[autorun]\nopen=VIEWER.EXE\n")
    (root / "README.TXT").write_text("Patient CD. Open VIEWER.EXE.\n")
    (root / "INDEX.HTM").write_text("<html><body>viewer</body></html>\n")
    (root / "THUMBS").mkdir()
    (root / "THUMBS" / "IM1.JPG").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    return root


def write_series(folder: Path, volume: Volume, spec: SeriesSpec, **options: object) -> Path:
    """``volume`` as a series of files ``IM0001.dcm``... in ``folder`` (options: see :func:`series_datasets`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, ds in enumerate(series_datasets(volume, spec, **options)):  # type: ignore[arg-type]
        ds.save_as(folder / f"IM{i + 1:04d}.dcm", enforce_file_format=True)
    return folder


@pytest.fixture(scope="session")
def cd_phantom() -> SimpleNamespace:
    """The phantom subject whose FLAIR and T1 are the CD's 3D FLAIR and T1 (6 mm slices: fast)."""
    phantom = make_phantom(PhantomConfig(seed=5, lesion_load="moderate", slice_mm=6.0))
    return SimpleNamespace(flair=phantom.flair, t1=phantom.t1)


@pytest.fixture(scope="session")
def patient_cd(tmp_path_factory: pytest.TempPathFactory, cd_phantom: SimpleNamespace) -> Path:
    """A read-only-by-convention CD folder (tests must not change it; copy it first)."""
    return write_cd(tmp_path_factory.mktemp("cd") / "CD", cd_phantom.flair, cd_phantom.t1)


@pytest.fixture(name="corpus")
def _corpus() -> SimpleNamespace:
    """The builders of this module, for tests that build their own variants."""
    return SimpleNamespace(SeriesSpec=SeriesSpec, small_volume=small_volume, series_datasets=series_datasets,
                           write_series=write_series, write_cd=write_cd, text_report=text_report)


